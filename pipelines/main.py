"""The main job: dumps -> pairs -> corpus -> noisy model -> consistency filter -> final model -> evaluation.

    python -m pipelines.main --output out/run1 \
        --reddit_input 'dumps/RC_*.zst' --reddit_input 'dumps/RS_*.zst' \
        --stackexchange_input 'dumps/*.stackexchange.com.7z' \
        --wikipedia_input 'dumps/enwiki-*-pages-articles-multistream.xml.bz2' \
        --semanticscholar_input 'dumps/s2ag/*/*.jsonl.gz' --commoncrawl_input 'dumps/CC-MAIN-*.warc.gz' \
        --source_option wikipedia.max_passage_words=200 \
        [--eval_data beir/dbpedia-entity --train_steps 2000 --batch_size 1024 --pool_size 1000000]
    python -m pipelines.main --demo --output out/demo      (built-in sample inputs; what `make demo` runs)

Any subset of the five sources may be given, at least one. `--source_option SOURCE.NAME=VALUE`
passes one of a source job's own flags (`python -m pipelines.<source> --help` lists them; `true`
turns a switch on, `false` leaves it off; repeat a name for a list), checked before any stage runs.

Each stage runs as its own process (`python -m pipelines.<source>`, `python -m pipelines.ccpairs`,
`python -m model.train`, `python -m filtering.filter_pairs`, `python -m model.evaluate`), exactly as a
user or a scheduler would run it at scale, so extraction never imports torch and training never
imports Beam. The corpus job merges the sources' versions, removes duplicates and pairs that overlap
the evaluation data, and writes the corpus report. This module only sequences the stages and prints a
table per stage (pairs in, pairs out, seconds), the evaluation table and where the reports are.

Each stage's output goes to its own log under <output>/logs/, named when the run starts; the console
gets a start line per stage and, while it runs, a line at least every PROGRESS_SECONDS with the
stage's latest progress (items done, rate, ETA where known; see pipelines.progress).

The evaluation table has one row per model, each with the settings it embedded with (prefixes,
query/passage max lengths): the step-0 control (the starting model at the settings stored with the
noisy model), the noisy model and the final one, and with --eval_start_own_settings the starting model
at its own settings too. Prefixes and lengths alone move nDCG@10 by more than a point, so the trained
models are compared with the step-0 control, where only the weights differ; each comparison comes
with a paired bootstrap interval over the queries. All rows run in one `model.evaluate --plan`
process, each model embedding the corpus once.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from model.metrics import paired_bootstrap
from pipelines import schedule
from pipelines.progress import PROGRESS_SECONDS, duration, latest_progress, read_tail
from schemas.cli import (CommandParser, folder_holding, matching_glob, model_folder, non_negative_int, output_path,
                         positive_float, positive_int, version_name)
from schemas.versions import read_manifest, write_bytes

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SHARED_EVAL = REPOSITORY.parent / "shared" / "data" / "eval" / "beir-dbpedia-entity-subset"
# Ships with the project (filtering/eval_sets/PROVENANCE.md): the default evaluation set of real runs.
SHIPPED_EVAL = REPOSITORY / "filtering" / "eval_sets" / "beir-dbpedia-entity-subset"
SOURCES = ("reddit", "stackexchange", "wikipedia", "semanticscholar", "commoncrawl")
INPUT_HELP = {
    "reddit": "Pushshift RS_/RC_ dump (.zst) path or glob",
    "stackexchange": "Stack Exchange site archive (.7z) or Posts.xml path or glob",
    "wikipedia": "Wikipedia pages-articles dump (.xml.bz2, multistream with its -index.txt.bz2 beside it) path or glob",
    "semanticscholar": "Semantic Scholar S2AG papers/abstracts/citations (or S2ORC) .jsonl[.gz] path or glob",
    "commoncrawl": "Common Crawl WARC (.warc.gz) path or glob",
}


def run_stage(args: List[str], log_path: pathlib.Path, label: str = "",
              every: float = PROGRESS_SECONDS) -> str:
    """Run `python -m ...` with its stderr in a log, print a start line and then, at least every
    `every` seconds, its latest progress; return its last stdout line (also appended to the log)."""
    label = label or args[0]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               TQDM_MININTERVAL=os.environ.get("TQDM_MININTERVAL", "5"))
    print(f"[{label}] started (log: {log_path})", flush=True)
    started = time.monotonic()
    with open(log_path, "w") as log, open(f"{log_path}.stdout", "w+") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", *args], stdout=stdout, stderr=log, text=True, env=env)
        while True:
            try:
                proc.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                latest = latest_progress(read_tail(str(log_path)))
                print(f"[{label}] {duration(time.monotonic() - started)}: {latest or 'running, no progress line yet'}",
                      flush=True)
        stdout.seek(0)
        output = stdout.read()
        log.write(output)
    os.unlink(f"{log_path}.stdout")
    if proc.returncode != 0:
        raise SystemExit(f"stage failed ({' '.join(args[:1])}), see {log_path}:\n" + log_path.read_text()[-3000:])
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class StageTable:
    def __init__(self):
        self.rows = []

    def add(self, stage: str, n_in, n_out, seconds: float, note: str = "") -> None:
        self.rows.append((stage, n_in, n_out, seconds, note))
        print(f"[{stage}] in={n_in} out={n_out} {seconds:.1f}s {note}", flush=True)

    def render(self) -> str:
        head = f"{'stage':<28} {'in':>10} {'out':>10} {'seconds':>8}  note"
        lines = [head, "-" * len(head)]
        for stage, n_in, n_out, seconds, note in self.rows:
            lines.append(f"{stage:<28} {str(n_in):>10} {str(n_out):>10} {seconds:>8.1f}  {note}")
        return "\n".join(lines)


def run_extraction(source: str, inputs: List[str], out: pathlib.Path, version: str, logs: pathlib.Path,
                   extra: List[str]) -> Tuple[str, float]:
    """One source job; its version folder and seconds."""
    start = time.time()
    argv = [f"pipelines.{source}"] + [a for i in inputs for a in ("--input", i)]
    argv += ["--output", str(out / "pairs"), "--version", version, "--overwrite"] + extra
    return run_stage(argv, logs / f"extract-{source}.log", f"extract {source}"), time.time() - start


def add_extraction_row(table: StageTable, source: str, version_dir: str, seconds: float) -> None:
    counts = read_manifest(version_dir)["counts"]
    table.add(f"extract {source}", f"{counts['records_read']} rec", counts["pairs"], seconds,
              f"{sum(counts['records_rejected'].values())} rejected")


def extract_all(table: StageTable, inputs: Dict[str, List[str]], options: Dict[str, Dict[str, Any]],
                out: pathlib.Path, version: str, logs: pathlib.Path) -> List[str]:
    """Every given source's job, as many at once as this machine has cores (each is its own process
    and mostly Python: on one core five small jobs would mostly wait for each other's imports); the
    table rows and the returned versions follow SOURCES' order whatever finishes first."""
    given = [source for source in SOURCES if inputs.get(source)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(given), os.cpu_count() or 1))) as pool:
        jobs = {source: pool.submit(run_extraction, source, inputs[source], out, version, logs,
                                    schedule.flags(options.get(source, {}))) for source in given}
        done = {source: job.result() for source, job in jobs.items()}
    for source in given:
        add_extraction_row(table, source, *done[source])
    return [done[source][0] for source in given]


def build_corpus(table: StageTable, versions: List[str], out: pathlib.Path, version: str, eval_data: str,
                 pool_size: int, logs: pathlib.Path) -> str:
    """The corpus job: one CCPairs version from the source versions, decontaminated against eval_data."""
    start = time.time()
    argv = ["pipelines.ccpairs"] + [a for v in versions for a in ("--input", v)]
    argv += ["--output", str(out / "pairs"), "--version", version, "--overwrite", "--decontaminate", eval_data,
             "--pool_size", str(pool_size)]
    corpus = run_stage(argv, logs / "corpus.log", "corpus")
    counts = read_manifest(corpus)["counts"]
    dropped = ", ".join(f"{reason} {n}" for reason, n in counts["records_dropped"].items()) or "nothing dropped"
    table.add("corpus (merge, dedup)", counts["records_read"], counts["pairs"], time.time() - start, dropped)
    return corpus


def train(table: StageTable, name: str, pairs: List[str], out: pathlib.Path, n_pairs: int, args, logs) -> str:
    start = time.time()
    run_dir = out / "runs" / name
    argv = ["model.train", "--pairs", *pairs, "--output", str(run_dir), "--batch_size", str(args.batch_size),
            "--max_steps", str(args.train_steps), "--lr", str(args.lr), "--log_every", "5",
            "--save_every", str(max(args.train_steps, 1)), "--seed", str(args.seed)]
    if args.chunk_size:
        argv += ["--chunk_size", str(args.chunk_size)]
    if args.base_model:
        argv += ["--model", args.base_model]
    run_stage(argv, logs / f"train-{name}.log", f"train {name}")
    last = [json.loads(l) for l in (run_dir / "train_log.jsonl").read_text().splitlines() if l.strip()][-1]
    table.add(f"train {name} model", n_pairs, f"{args.train_steps} steps", time.time() - start,
              f"loss {last.get('loss', float('nan')):.3f}, in-batch acc {last.get('accuracy', float('nan')):.3f}")
    return str(run_dir / "model")


# The evaluation row the trained models are to be compared with.
CONTROL = "step0_control"


class Evaluation(NamedTuple):
    """One row of the evaluation table: which model, embedding with whose stored settings."""

    name: str
    model: Optional[str]  # None: the bundled all-MiniLM-L6-v2
    settings_from: Optional[str]  # None: the model's own stored settings


def evaluation_plan(base_model: Optional[str], noisy: str, final: str,
                    start_own_settings: bool = False) -> List[Evaluation]:
    """The step-0 control (the start model at the noisy model's stored settings: it differs from the
    trained models only in the weights), then the trained models; with start_own_settings, first the
    start model at its own settings ("base"), one more embedding of the corpus.

    The control takes the settings from the noisy model folder rather than from constants here, so
    that it follows whatever prefixes and lengths model.train stored."""
    plan = [Evaluation("base", base_model, None)] if start_own_settings else []
    return plan + [Evaluation(CONTROL, base_model, noisy), Evaluation("noisy", noisy, None),
                   Evaluation("final", final, None)]


def evaluate_all(plan: List[Evaluation], data: str, logs: pathlib.Path) -> Dict[str, Dict[str, Any]]:
    """model.evaluate's metrics per planned row (and the settings actually used), all in one process."""
    plan_path = logs / "evaluation-plan.json"
    plan_path.write_text(json.dumps([run._asdict() for run in plan], indent=2) + "\n")
    output = run_stage(["model.evaluate", "--data", data, "--plan", str(plan_path)], logs / "evaluate.log", "evaluate")
    return json.loads(output)["runs"]


def settings_cells(settings: Dict[str, Any]) -> List[str]:
    """Prefixes quoted (so that "" and a trailing space show) and the two lengths as query/passage."""
    return [json.dumps(settings["query_prefix"]), json.dumps(settings["passage_prefix"]),
            f"{settings['query_max_length']}/{settings['passage_max_length']}"]


def render_evaluation(scores: Dict[str, Dict[str, Any]], data: str) -> str:
    """The evaluation table: per row the model, its settings and its metrics, then which row the
    trained models are compared with (and a warning if their settings differ from that row's)."""
    head = f"{'model':<14} {'query prefix':<13} {'passage prefix':<15} {'tokens q/p':<11} " \
           f"{'nDCG@10':>8} {'recall@100':>10} {'mrr@10':>8}"
    lines = [f"evaluation on {data}:", head, "-" * len(head)]
    for name, metrics in scores.items():
        query_prefix, passage_prefix, lengths = settings_cells(metrics["settings"])
        lines.append(f"{name:<14} {query_prefix:<13} {passage_prefix:<15} {lengths:<11} "
                     f"{metrics['ndcg@10']:>8.4f} {metrics['recall@100']:>10.4f} {metrics['mrr@10']:>8.4f}")
    lines.append(comparison_note(scores))
    lines += [line for line in (change_line(scores, name) for name in scores if name not in ("base", CONTROL)) if line]
    return "\n".join(lines)


def change_line(scores: Dict[str, Dict[str, Any]], name: str) -> Optional[str]:
    """nDCG@10 of a trained model minus the control's, with a paired bootstrap interval over the
    queries: when the interval spans 0 the change is noise at this many queries."""
    before = scores.get(CONTROL, {}).get("ndcg@10_per_query")
    after = scores[name].get("ndcg@10_per_query")
    if not before or not after:
        return None
    change = paired_bootstrap(before, after)
    verdict = "within noise" if change["low"] <= 0 <= change["high"] else ("better" if change["low"] > 0 else "worse")
    return (f"{name} - {CONTROL}: nDCG@10 {change['difference']:+.4f} (95% paired bootstrap over "
            f"{change['queries']} queries: {change['low']:+.4f} to {change['high']:+.4f}; {verdict})")


def what_it_shows(demo: bool) -> str:
    """What the evaluation table can and cannot say about CCPairs, printed under it."""
    if demo:
        return ("these inputs are generated demo text: the nDCG@10 changes show that every stage runs and hands "
                "its output on, not how good CCPairs is; benchmarks/results/whole_system.md measures the real "
                "samples of all five sources")
    return ("a change is real only where its bootstrap interval excludes 0; on a small evaluation set and a short "
            "training run most are not (benchmarks/results/whole_system.md says what it takes)")


def comparison_note(scores: Dict[str, Dict[str, Any]]) -> str:
    """One line naming the row to compare the trained models with; a mismatch of settings is said
    aloud, since the comparison then mixes weights with settings."""
    trained = [name for name in scores if name not in ("base", CONTROL)]
    note = (f"compare {' and '.join(trained)} with {CONTROL}: the start model at the trained models' settings, "
            f"so only the weights differ (base is the start model at its own settings)")
    control = scores.get(CONTROL, {}).get("settings")
    other = [name for name in trained if scores[name]["settings"] != control]
    if other:
        note += f"\nwarning: {', '.join(other)} embedded with other settings than {CONTROL}"
    return note


def source_option(text: str) -> Tuple[str, str, str]:
    """argparse type for --source_option: SOURCE.NAME=VALUE -> (source, name, value)."""
    target, equals, value = text.partition("=")
    source, dot, name = target.partition(".")
    if not equals or not dot or not name:
        raise argparse.ArgumentTypeError(f"expected SOURCE.NAME=VALUE (e.g. wikipedia.max_passage_words=200), got {text!r}")
    if source not in SOURCES:
        raise argparse.ArgumentTypeError(f"{text!r}: no source {source!r} (one of {', '.join(SOURCES)})")
    return source, name, value


def option_values(given: List[Tuple[str, str, str]]) -> Dict[str, Dict[str, Any]]:
    """Per source, its options as the schedule spec writes them: true/false for a switch, a list for a
    name given more than once, else the text (the source job's parser checks and converts it)."""
    options: Dict[str, Dict[str, Any]] = {}
    for source, name, value in given:
        value = {"true": True, "false": False}.get(value.lower(), value)
        mine = options.setdefault(source, {})
        if name in mine:
            mine[name] = (mine[name] if isinstance(mine[name], list) else [mine[name]]) + [value]
        else:
            mine[name] = value
    return options


def build_parser() -> CommandParser:
    """Every flag with its help; CommandParser's formatter adds each default to --help."""
    p = CommandParser(prog="python -m pipelines.main", description=__doc__)
    p.add_argument("--output", required=True, type=output_path,
                   help="run folder: inputs/, pairs/, runs/, logs/ and summary.json go under it")
    p.add_argument("--demo", action="store_true",
                   help="generate small dumps of all five sources (and, without ../shared/data, an evaluation set) "
                        "and use them")
    for source in SOURCES:
        p.add_argument(f"--{source}_input", action="append", default=[], type=matching_glob,
                       help=INPUT_HELP[source] + "; repeat for several")
    p.add_argument("--source_option", action="append", default=[], type=source_option,
                   help="SOURCE.NAME=VALUE: one of that source job's flags (python -m pipelines.SOURCE --help), "
                        "e.g. wikipedia.max_passage_words=200 or reddit.drop_nsfw=true; repeat for several")
    p.add_argument("--version", default="v1", type=version_name,
                   help="version name of every stage's output (default: v1)")
    p.add_argument("--eval_data", default=None, type=folder_holding("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"),
                   help="BEIR folder (default: the DBPedia-Entity subset in filtering/eval_sets; with --demo, "
                        "../shared/data/eval's copy when present, else a generated set)")
    p.add_argument("--eval_start_own_settings", action="store_true",
                   help="also evaluate the start model at its own settings (one more embedding of the corpus)")
    p.add_argument("--base_model", default=None, type=model_folder,
                   help="starting encoder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--train_steps", type=positive_int, default=40, help="optimizer steps of each training stage")
    p.add_argument("--batch_size", type=positive_int, default=64,
                   help="contrastive batch of each training stage, at least 2")
    p.add_argument("--chunk_size", type=non_negative_int, default=0,
                   help="rows per forward with gradient caching; 0 = whole batch in one forward")
    p.add_argument("--lr", type=positive_float, default=2e-5, help="peak learning rate of each training stage")
    p.add_argument("--seed", type=int, default=0, help="seed of both training stages (data order, dropout)")
    p.add_argument("--pool_size", type=positive_int, default=1_000_000,
                   help="passages in the corpus job's pool, the consistency filter's negatives")
    p.add_argument("--k", type=positive_int, default=2,
                   help="consistency filter: keep a pair iff its passage ranks in the top k of the pool")
    return p


def given_inputs(args) -> Dict[str, List[str]]:
    return {source: getattr(args, f"{source}_input") for source in SOURCES if getattr(args, f"{source}_input")}


def check_arguments(parser: CommandParser, args) -> Dict[str, Dict[str, Any]]:
    """Checks across flags, before any stage starts or the output folder exists; each source's
    options as its job's parser reads them."""
    given = given_inputs(args)
    flags_list = " / ".join(f"--{source}_input" for source in SOURCES)
    if args.demo == bool(given):
        parser.error(f"give --demo or inputs ({flags_list}), not both" if given
                     else f"give --demo or at least one of {flags_list}")
    if args.batch_size < 2:
        parser.error("--batch_size must be at least 2 (in-batch negatives)")
    options = option_values(args.source_option)
    for source, values in options.items():
        if not args.demo and source not in given:
            parser.error(f"--source_option {source}.…: no --{source}_input given")
        try:
            schedule.source_settings(schedule.SourceSpec(source, ["unused"], values), str(args.output))
        except schedule.SpecError as exc:
            parser.error(f"--source_option {str(exc).replace('sources.', '', 1)}")
    return options


def demo_inputs(out: pathlib.Path) -> Dict[str, List[str]]:
    """The generated dumps of all five sources, marked as such: every version's dataset card made
    from them says "synthetic demo data" (schemas.dataset_card.SYNTHETIC_MARKER)."""
    from schemas.dataset_card import SYNTHETIC_MARKER
    from sources.demo_inputs import commoncrawl, reddit, semanticscholar, stackexchange, wikipedia

    inputs = out / "inputs"
    writers = {"reddit": reddit.write_demo_dumps, "stackexchange": stackexchange.write_demo_dumps,
               "wikipedia": wikipedia.write_demo_dumps, "semanticscholar": semanticscholar.write_demo_dumps,
               "commoncrawl": commoncrawl.write_demo_crawl}  # the full demo crawl, not the small test one
    dumps = {source: writers[source](str(inputs / source)) for source in SOURCES}
    (inputs / SYNTHETIC_MARKER).write_text("Generated by python -m pipelines.main --demo: not real data.\n")
    return dumps


def choose_eval_data(args, out: pathlib.Path) -> str:
    """--eval_data; else for real runs the shipped DBPedia subset; for the demo the shared copy where
    ../shared/data exists, else a generated set disjoint in text from the demo dumps."""
    if args.eval_data:
        return args.eval_data
    if not args.demo:
        return str(SHIPPED_EVAL)
    if SHARED_EVAL.is_dir():
        return str(SHARED_EVAL)
    from sources.demo_inputs.beir import write_demo_beir

    return write_demo_beir(str(out / "inputs" / "eval"))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = check_arguments(parser, args)
    out = pathlib.Path(args.output)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.time()
    print(f"logs: {logs}/ (one file per stage; progress lines below at least every {PROGRESS_SECONDS:.0f}s)",
          flush=True)
    inputs = demo_inputs(out) if args.demo else given_inputs(args)
    eval_data = choose_eval_data(args, out)

    table = StageTable()
    versions = extract_all(table, inputs, options, out, args.version, logs)
    corpus = build_corpus(table, versions, out, args.version, eval_data, args.pool_size, logs)
    n_pairs = read_manifest(corpus)["counts"]["pairs"]

    noisy = train(table, "noisy", [corpus], out, n_pairs, args, logs)
    start = time.time()
    filtered = json.loads(run_stage(
        ["filtering.filter_pairs", "--model", noisy, "--pairs", corpus, "--output", str(out / "pairs"),
         "--version", args.version, "--pool_size", str(args.pool_size), "--k", str(args.k), "--overwrite"],
        logs / "filter.log", "consistency filter"))
    manifest = read_manifest(filtered["version_dir"])
    t = filtered["timings"]
    table.add("consistency filter", n_pairs, manifest["counts"]["pairs"], time.time() - start,
              f"keep rate {manifest['keep_rate']}; pool {manifest['options']['pool_actual']}, "
              f"embed {t['embed_seconds'] + t['pool_seconds']:.0f}s, search {t['search_seconds']:.1f}s")
    filtered_report = run_stage(["pipelines.report", filtered["version_dir"]], logs / "report-filtered.log",
                                "report")
    final = train(table, "final", [filtered["version_dir"]], out, manifest["counts"]["pairs"], args, logs)

    start = time.time()
    plan = evaluation_plan(args.base_model, noisy, final, args.eval_start_own_settings)
    scores = evaluate_all(plan, eval_data, logs)
    table.add("evaluate (nDCG@10)", f"{len(plan)} models", "", time.time() - start, os.path.basename(eval_data))

    print("\n" + table.render())
    print("\n" + render_evaluation(scores, eval_data))
    print(what_it_shows(args.demo))
    report = os.path.join(corpus, "report.html")
    summary = {"versions": versions, "corpus": corpus, "report": report, "filtered": filtered["version_dir"],
               "filtered_report": filtered_report, "noisy_model": noisy, "final_model": final,
               "eval": {name: {k: v for k, v in metrics.items() if k != "ndcg@10_per_query"}
                        for name, metrics in scores.items()},
               "eval_changes": {name: paired_bootstrap(scores[CONTROL]["ndcg@10_per_query"],
                                                       scores[name]["ndcg@10_per_query"])
                                for name in ("noisy", "final")},
               "eval_compare_with": CONTROL, "stages": [dict(zip(("stage", "in", "out", "seconds", "note"), row))
                                                        for row in table.rows],
               "seconds": round(time.time() - started, 1)}
    write_bytes(str(out / "summary.json"), (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    print(f"\ntotal {summary['seconds']}s; models in {out / 'runs'}; pairs in {out / 'pairs'}; "
          f"summary: {out / 'summary.json'}")
    print(f"corpus report: {report}\nfiltered report (keep rates): {filtered_report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
