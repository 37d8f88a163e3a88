"""A scheduled run: every source, then the corpus job, then LATEST, from one job spec.

    python -m pipelines.schedule ccpairs.yaml [--date 2026-11-22] [--version NAME] [--plan]

The spec (see ccpairs.yaml at the repository root) names the output root, each source's inputs
and flags, the corpus job's flags and --decontaminate folders, and Beam flags for every job.

- The version name comes from the run date (UTC), formatted by `version_format` (default
  %Y-%m-%d); `--date` backfills a day, `--version` names the version outright.
- A source whose inputs did not change since its last complete version is not re-extracted: the
  manifest lists every input file with its size (and modification time where it records one),
  and its options; when the files matched by the globs and the flags give the same, that version
  is merged again.
- Retrying a date whose run failed: a source whose inputs (or flags) changed since that run made
  its version of the date makes it again (`--overwrite`), unless a corpus version was made from it
  (then it is never replaced, and the run stops before any job, saying so).
- Each job runs as its own process (`python -m pipelines.<source>`, `python -m pipelines.ccpairs`),
  as it would by hand, and any of them failing stops the run.
- `<output>/ccpairs/LATEST` is moved (one atomic write of the version's name) only after the whole
  run succeeded, so readers of LATEST never see a half-made corpus.
The last stdout line is a JSON summary: each source's version and whether it was extracted or reused,
the corpus version and its report.
"""

import argparse
import dataclasses
import datetime as _dt
import importlib
import json
import logging
import os
import subprocess
import sys
from typing import Any, Dict, List, Mapping, Optional

import yaml

from filtering.decontamination import EvalDataError, check_eval_folder, eval_fingerprint
from pipelines import ccpairs
from pipelines.inputs import NoInputFiles, expand_inputs
from pipelines.options import UsageError, config_from_options, parse_options
from schemas import versions
from schemas.cli import CommandParser, version_name, version_problem
from sources.settings import as_dict

log = logging.getLogger("schedule")
SPEC_KEYS = {"output", "version_format", "beam_options", "sources", "corpus"}
SOURCE_KEYS = {"input", "options"}
CORPUS_KEYS = {"decontaminate", "options"}


class SpecError(ValueError):
    """A job spec that cannot run: the message is one line."""


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    name: str
    inputs: List[str]
    options: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class JobSpec:
    output: str
    version_format: str
    beam_options: List[str]
    sources: List[SourceSpec]
    decontaminate: List[str]
    corpus_options: Dict[str, Any]


def _mapping(value, where: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _strings(value, where: str) -> List[str]:
    if value is None:
        return []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where} must be a string or a list of strings")
    return list(value)


def _unknown(given, known, where: str) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise SpecError(f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(known))})")


def load_spec(path: str) -> JobSpec:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path} is not a job spec (a mapping with output, sources, corpus)")
    _unknown(raw, SPEC_KEYS, path)
    if not isinstance(raw.get("output"), str) or not raw["output"]:
        raise SpecError(f"{path}: 'output' (the output root) is required")
    sources = []
    for name, body in _mapping(raw.get("sources"), "sources").items():
        body = _mapping(body, f"sources.{name}")
        _unknown(body, SOURCE_KEYS, f"sources.{name}")
        inputs = _strings(body.get("input"), f"sources.{name}.input")
        if not inputs:
            raise SpecError(f"sources.{name}: 'input' (paths or globs) is required")
        sources.append(SourceSpec(str(name), inputs, _mapping(body.get("options"), f"sources.{name}.options")))
    if not sources:
        raise SpecError(f"{path}: 'sources' names no source")
    corpus = _mapping(raw.get("corpus"), "corpus")
    _unknown(corpus, CORPUS_KEYS, "corpus")
    return JobSpec(output=raw["output"], version_format=str(raw.get("version_format") or "%Y-%m-%d"),
                   beam_options=_strings(raw.get("beam_options"), "beam_options"), sources=sources,
                   decontaminate=_strings(corpus.get("decontaminate"), "corpus.decontaminate"),
                   corpus_options=_mapping(corpus.get("options"), "corpus.options"))


def flags(options: Mapping[str, Any]) -> List[str]:
    """{top_n: 2, drop_nsfw: true, any_language: false} -> ['--top_n', '2', '--drop_nsfw']."""
    argv = []
    for key, value in options.items():
        if value is True:
            argv.append(f"--{key}")
        elif value is False or value is None:
            continue
        else:
            for item in value if isinstance(value, list) else [value]:
                argv += [f"--{key}", str(item)]
    return argv


def source_job(name: str):
    try:
        return importlib.import_module(f"pipelines.{name}").JOB
    except (ImportError, AttributeError):
        raise SpecError(f"sources.{name}: no such source (a module pipelines.{name} with a JOB)") from None


# ---- deciding what to run ----

def source_settings(spec: SourceSpec, output: str) -> Dict[str, Any]:
    """The settings the spec's flags give the source job (as its manifest's "options" records them)."""
    job = source_job(spec.name)
    argv = ["--input", "unused", "--output", output] + flags(spec.options)
    try:
        return as_dict(config_from_options(parse_options(argv, job.options_class), job.options_class))
    except UsageError as exc:
        raise SpecError(f"sources.{spec.name}.options: {exc}") from None


def reusable_version(spec: SourceSpec, output: str, inputs: List[Dict[str, Any]],
                     settings: Mapping[str, Any]) -> Optional[str]:
    """The source's latest complete version, when it was made from these very files with these settings."""
    latest = versions.latest_version(output, spec.name)
    if latest is None:
        return None
    manifest = versions.read_manifest(versions.version_path(output, spec.name, latest))
    recorded = [{k: v for k, v in entry.items() if k in ("path", "bytes", "mtime")} for entry in manifest["inputs"]]
    current = [{k: v for k, v in entry.items() if k in ("path", "bytes", "mtime")} for entry in inputs]
    if recorded == current and manifest.get("options") == dict(settings):
        return latest
    return None


def _same_path(path: str) -> str:
    return path.rstrip("/") if versions.is_uri(path) else os.path.abspath(path)


def corpora_made_from(output: str, version_dir: str) -> List[str]:
    """The complete corpus versions whose lineage lists `version_dir` as an input."""
    folder, wanted = versions.join(output, ccpairs.DATASET), _same_path(version_dir)
    return [name for name in versions.list_versions(output, ccpairs.DATASET)
            if any(_same_path(str(entry.get("path", ""))) == wanted
                   for entry in versions.read_manifest(versions.join(folder, name)).get("inputs", []))]


def remakes(spec: JobSpec, source: str, version: str) -> bool:
    """Whether a source that must be extracted again replaces a version of this run's name (--overwrite).

    Such a version was left by an earlier run of this date that failed before its corpus job, so no
    corpus was made from it and LATEST never named one that was: a retry after the inputs (or flags)
    changed makes it again. Once a corpus version was made from it, it is never replaced: SpecError.
    """
    version_dir = versions.version_path(spec.output, source, version)
    if not versions.is_complete(version_dir):
        return False
    users = corpora_made_from(spec.output, version_dir)
    if users:
        raise SpecError(f"sources.{source}: its inputs or flags changed since its version {version} was made, and "
                        f"corpus version {', '.join(users)} was made from that: give another --version")
    return True


def check_eval_folders(spec: JobSpec) -> None:
    """The --decontaminate folders, checked before any job runs (the corpus job reads them whole)."""
    for folder in spec.decontaminate:
        try:
            check_eval_folder(folder)
        except EvalDataError as exc:
            raise SpecError(f"corpus.decontaminate: {exc}") from None


def plan(spec: JobSpec, version: str) -> List[Dict[str, Any]]:
    """Per source: {"source", "version", "extract": bool, "overwrite": bool, "inputs"}; refuses globs
    matching nothing, bad corpus flags and evaluation folders, and a version it may not replace."""
    corpus_options(spec)
    check_eval_folders(spec)
    steps = []
    for source in spec.sources:
        try:
            inputs = expand_inputs(source.inputs)
        except NoInputFiles as exc:
            raise SpecError(f"sources.{source.name}: {exc}") from None
        reuse = reusable_version(source, spec.output, inputs, source_settings(source, spec.output))
        steps.append({"source": source.name, "version": reuse or version, "extract": reuse is None,
                      "overwrite": reuse is None and remakes(spec, source.name, version),
                      "inputs": [i["path"] for i in inputs]})
    return steps


# ---- running ----

def run_module(args: List[str]) -> str:
    """`python -m <args>` with our stdout/stderr; its last stdout line, or SystemExit naming the step."""
    log.info("running: python -m %s", " ".join(args))
    proc = subprocess.run([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"python -m {args[0]} failed (exit {proc.returncode}); LATEST not moved")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def corpus_options(spec: JobSpec) -> Dict[str, Any]:
    """The options a corpus manifest records for this spec's corpus flags."""
    argv = ["--input", "unused", "--output", spec.output] + flags(spec.corpus_options)
    try:
        options = parse_options(argv, ccpairs.CorpusOptions)
        config = config_from_options(options, ccpairs.CorpusOptions)
    except UsageError as exc:
        raise SpecError(f"corpus.options: {exc}") from None
    return ccpairs.manifest_options(config, spec.decontaminate, options.view_as(ccpairs.CorpusOptions).num_shards)


def reusable_corpus(spec: JobSpec, version: str, input_dirs: List[str]) -> Optional[str]:
    """Today's corpus version, or the one LATEST names, when made from exactly these source versions with
    these options and unchanged evaluation sets: then no new corpus version is made."""
    folder = versions.join(spec.output, ccpairs.DATASET)
    options = corpus_options(spec)
    for candidate in dict.fromkeys([version, versions.read_latest(folder)]):
        if candidate is None or not versions.is_complete(versions.join(folder, candidate)):
            continue
        manifest = versions.read_manifest(versions.join(folder, candidate))
        evals = (manifest.get("decontamination") or {}).get("eval_sets", [])
        if ([i["path"] for i in manifest["inputs"]] == input_dirs and manifest.get("options") == options
                and [e["sha256"] for e in evals] == [eval_fingerprint(d) for d in spec.decontaminate]):
            return candidate
    return None


def run_schedule(spec: JobSpec, version: str) -> Dict[str, Any]:
    steps = plan(spec, version)
    for step, source in zip(steps, spec.sources):
        if step["extract"]:
            argv = [f"pipelines.{source.name}"] + [a for i in source.inputs for a in ("--input", i)]
            if step["overwrite"]:
                log.info("%s: version %s was made by a run of this date that did not finish, from other inputs "
                         "or flags; making it again", source.name, version)
                argv.append("--overwrite")
            run_module(argv + ["--output", spec.output, "--version", version] + flags(source.options)
                       + spec.beam_options)
        else:
            log.info("%s: inputs unchanged since version %s; not re-extracted", source.name, step["version"])
    input_dirs = [versions.version_path(spec.output, s["source"], s["version"]) for s in steps]
    corpus_version = reusable_corpus(spec, version, input_dirs)
    if corpus_version is None:
        argv = ["pipelines.ccpairs"] + [a for d in input_dirs for a in ("--input", d)]
        argv += [a for d in spec.decontaminate for a in ("--decontaminate", d)]
        run_module(argv + ["--output", spec.output, "--version", version] + flags(spec.corpus_options)
                   + spec.beam_options)
        corpus_version = version
    else:
        log.info("corpus: version %s was made from these very versions and options; no new version", corpus_version)
    latest = versions.write_latest(versions.join(spec.output, ccpairs.DATASET), corpus_version)
    corpus_dir = versions.version_path(spec.output, ccpairs.DATASET, corpus_version)
    report = versions.join(corpus_dir, "report.html")
    return {"version": corpus_version, "sources": steps, "corpus": corpus_dir, "latest": latest,
            "report": report if versions.is_uri(report) or os.path.exists(report) else None}


def run_version(spec: JobSpec, date: Optional[str], version: Optional[str]) -> str:
    """--version as given (checked by its flag), else the run date in version_format, checked as a
    version name: a format may not make LATEST, a hidden name or one with a control character."""
    if version:
        return version
    day = _dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=_dt.timezone.utc) if date else \
        _dt.datetime.now(_dt.timezone.utc)
    name = day.strftime(spec.version_format)
    problem = version_problem(name)
    if problem:
        raise SpecError(f"version_format {spec.version_format!r} gives the bad version {name!r}: {problem}")
    return name


def _date(text: str) -> str:
    try:
        _dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None
    return text


def main(argv=None) -> int:
    parser = CommandParser(prog="python -m pipelines.schedule", description=__doc__)
    parser.add_argument("spec", help="the job spec (YAML), e.g. ccpairs.yaml")
    parser.add_argument("--date", type=_date, default=None, help="run date (UTC) the version is named after (default: today)")
    parser.add_argument("--version", type=version_name, default=None, help="version name (default: the run date in the spec's version_format)")
    parser.add_argument("--plan", action="store_true", help="print what would run, run nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        spec = load_spec(args.spec)
        version = run_version(spec, args.date, args.version)
        if args.plan:
            print(json.dumps({"version": version, "sources": plan(spec, version)}))
            return 0
        summary = run_schedule(spec, version)
    except (SpecError, versions.VersionError) as exc:
        parser.error(str(exc))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
