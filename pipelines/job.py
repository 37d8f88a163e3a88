"""The job every source runs: options -> work units -> read -> extract -> the versioned sink.

A source is a `SourceJob`: its name, its settings dataclass, how a unit's raw records are read
and parsed, and the composite transform that turns typed records into pairs and outcomes.

    JOB = SourceJob(name="reddit", options_class=RedditOptions, reader=lambda c: LineFileReader("reddit"),
                    parse=lambda c: RedditParser(c), extract=lambda c: ExtractRedditPairs(c))
    build_pipeline, run, main = entry_points(JOB)
    if __name__ == "__main__":  # hand over to the module imported by name, so its classes pickle as
        from pipelines import reddit as job_module  # pipelines.reddit.X, not __main__.X (SDK workers)
        job_module.main()

Everything else is shared: strict flags, glob expansion (a glob matching nothing stops the job
before it starts), planning units (byte ranges for splittable files), the read/parse stage,
fate accounting of rejects, and the versioned sink with its manifest.
"""

import dataclasses
import functools
import logging
import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional

import apache_beam as beam

from pipelines import accounting
from pipelines.inputs import RECORDS_READ, REJECTS, NoInputFiles, expand_inputs
from pipelines.options import UsageError, config_from_options, exit_with_usage_error, make_runner, parse_options
from pipelines.read import ReadSource, UnitReader
from pipelines.sink import WriteVersion
from pipelines.splits import ReadUnit, plan_read_units
from schemas.versions import Claim, VersionError, claim_version, release, version_path
from sources.settings import as_dict


def _never(_path: str) -> bool:
    return False


def _no_extra(_inputs, _config) -> Dict[str, Any]:
    return {}


@dataclasses.dataclass(frozen=True)
class SourceJob:
    """What a source gives the shared job; the callables take the source's settings (config)."""

    name: str
    options_class: type  # pipelines.options.source_options(name, ConfigClass)
    reader: Callable[[Any], UnitReader]  # config -> DoFn: ReadUnit -> batches of raw records
    parse: Callable[[Any], Callable[[bytes, str], Any]]  # config -> (raw bytes, path) -> typed record
    extract: Callable[[Any], beam.PTransform]  # config -> records -> {"pairs", "outcomes"}
    splittable: Callable[[str], bool] = _never  # files that may be cut into byte ranges
    split_bytes: Callable[[Any], int] = lambda config: 0
    # (inputs, config) -> ReadUnits, for a source that plans its own units (e.g. from an index file);
    # default: a unit per file, byte ranges for `splittable` files larger than `split_bytes`
    plan_units: Optional[Callable[[List[Dict], Any], List[ReadUnit]]] = None
    manifest_extra: Callable[[List[Dict], Any], Dict[str, Any]] = _no_extra
    # config -> record -> outputs, run inside the read batch (pipelines.read.ParseBatch): a source's
    # first rules, so that a record they drop is a count, never an element. With it, `extract` gets the
    # read's dict ({"records", "outcomes", each of decide_tags}) instead of the records alone, and
    # must pass "outcomes" on.
    decide: Optional[Callable[[Any], Callable[[Any], Any]]] = None
    decide_tags: tuple = ()


def write_source_version(read: Mapping[str, Any], extracted: Mapping[str, Any], *, claim: Claim, dataset: str,
                         version: str, inputs: List[Dict], num_shards: int, options: Mapping[str, Any],
                         extra: Optional[Mapping[str, Any]] = None):
    """read: {"records", rejects, records_read}; extracted: {"pairs" (or "pair_rows": pairs as
    accounting.pair_row tuples), "outcomes"[, "detail_counts"]} -> a complete version."""
    reject_outcomes = read[REJECTS] | "RejectOutcomes" >> beam.Map(lambda r: accounting.rejected(r["reason"]))
    outcomes = (extracted["outcomes"], reject_outcomes) | "AllOutcomes" >> beam.Flatten()
    pairs = "pair_rows" if "pair_rows" in extracted else "pairs"
    pcolls = {
        pairs: extracted[pairs],
        "rejects": read[REJECTS],
        "outcomes": outcomes,
        "records_read": read[RECORDS_READ],
    }
    if "detail_counts" in extracted:  # (name, n) of things that are not records: a page's sections
        pcolls["detail_counts"] = extracted["detail_counts"]
    return pcolls | "Write" >> WriteVersion(claim=claim, dataset=dataset, version=version, inputs=inputs,
                                num_shards=num_shards, options=options, extra=extra)


def check_output(output: str) -> None:
    """An --output that is an existing file (not a folder) cannot hold versions."""
    if "://" not in output and os.path.isfile(output):
        raise UsageError(f"--output {output!r} is a file, not a folder")


def build_pipeline(job: SourceJob, pipeline: beam.Pipeline, options) -> Claim:
    """Add the whole job to `pipeline`; checks inputs and claims the version first. Returns the claim
    (its version_dir is where the version appears once the pipeline has run)."""
    own = options.view_as(job.options_class)
    config = config_from_options(options, job.options_class)
    check_output(own.output)
    inputs = expand_inputs(own.input)
    # Units are planned before the version is claimed: a source's planning may refuse the command
    # line (an --index matching nothing), and a refused launch leaves nothing behind.
    if job.plan_units is not None:
        units = job.plan_units(inputs, config)
    else:
        units = plan_read_units(inputs, job.split_bytes(config), job.splittable)
    claim = claim_version(version_path(own.output, job.name, own.dataset_version), own.overwrite)
    decide = job.decide(config) if job.decide is not None else None
    read = pipeline | "Read" >> ReadSource(job.name, units, job.reader(config), job.parse(config), decide,
                                           job.decide_tags)
    if decide is None:
        extracted = read["records"] | "Extract" >> job.extract(config)
    else:
        extracted = {k: v for k, v in read.items() if k not in ("rejects", "records_read")} | "Extract" >> job.extract(
            config)
    write_source_version(read, extracted, claim=claim, dataset=job.name, version=own.dataset_version,
                         inputs=inputs, num_shards=own.num_shards, options=as_dict(config),
                         extra=job.manifest_extra(inputs, config))
    return claim


def run(job: SourceJob, argv: Optional[List[str]] = None) -> str:
    """Parse argv, build and run the job (offline runner unless --runner); returns the version dir."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(argv, job.options_class)
    claim = None
    try:
        with beam.Pipeline(runner=make_runner(argv), options=options) as pipeline:
            claim = build_pipeline(job, pipeline, options)
    finally:
        if claim is not None:
            release(claim)  # a no-op once published; otherwise (failure, --dry_run) frees the version
    logging.info("wrote %s", claim.version_dir)
    return claim.version_dir


def entry_points(job: SourceJob):
    """(build_pipeline(pipeline, options), run(argv), main(argv)) bound to one source: what its module
    exports for `python -m pipelines.<source>`, the tests and the main job."""
    return (functools.partial(build_pipeline, job), functools.partial(run, job), functools.partial(main, job))


def main(job: SourceJob, argv: Optional[List[str]] = None) -> int:
    """`python -m pipelines.<source>`: a command line that cannot run is one line on stderr, exit 2."""
    logging.getLogger().setLevel(logging.INFO)
    try:
        print(run(job, argv))
    except (UsageError, NoInputFiles, VersionError) as exc:
        exit_with_usage_error(f"python -m pipelines.{job.name}", exc)
    return 0
