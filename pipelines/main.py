"""The main job: dumps -> pairs -> corpus -> noisy model -> consistency filter -> final model -> evaluation.

    python -m pipelines.main --output out/run1 \
        --reddit_input 'dumps/RC_*.zst' --reddit_input 'dumps/RS_*.zst' \
        --stackexchange_input 'dumps/*.stackexchange.com.7z' \
        --eval_data beir/dbpedia-entity [--train_steps 2000 --batch_size 1024 --pool_size 1000000]
    python -m pipelines.main --demo --output out/demo      (built-in sample inputs; what `make demo` runs)

Each stage runs as its own process (`python -m pipelines.<source>`, `python -m pipelines.ccpairs`,
`python -m model.train`, `python -m filtering.filter_pairs`, `python -m model.evaluate`), exactly as a
user or a scheduler would run it at scale, so extraction never imports torch and training never
imports Beam. The corpus job merges the sources' versions, removes duplicates and pairs that overlap
the evaluation data, and writes the corpus report. This module only sequences the stages and prints a
table per stage (pairs in, pairs out, seconds), the evaluation table and where the reports are.

The evaluation table has one row per run of `model.evaluate`, each with the settings it embedded
with (prefixes, query/passage max lengths): the starting model as it is, the step-0 control (the
starting model at the settings stored with the noisy model), the noisy model and the final one.
Prefixes and lengths alone move nDCG@10 by more than a point, so the trained models are compared
with the step-0 control, where only the weights differ.
"""

import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional

from schemas.cli import (
    CommandParser, folder_holding, matching_glob, model_folder, non_negative_int, output_path, positive_float,
    positive_int, version_name,
)
from schemas.versions import read_manifest, write_bytes

SHARED_EVAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "beir-dbpedia-entity-subset"


def run_stage(args: List[str], log_path: pathlib.Path) -> str:
    """Run `python -m ...`, tee its output to a log, return its last stdout line."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        log.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"stage failed ({' '.join(args[:1])}), see {log_path}:\n" + log_path.read_text()[-3000:])
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
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


def extract(table: StageTable, source: str, inputs: List[str], out: pathlib.Path, version: str,
            logs: pathlib.Path, extra: List[str]) -> Optional[str]:
    if not inputs:
        return None
    start = time.time()
    argv = [f"pipelines.{source}"] + [a for i in inputs for a in ("--input", i)]
    argv += ["--output", str(out / "pairs"), "--version", version, "--overwrite"] + extra
    version_dir = run_stage(argv, logs / f"extract-{source}.log")
    counts = read_manifest(version_dir)["counts"]
    table.add(f"extract {source}", f"{counts['records_read']} rec", counts["pairs"], time.time() - start,
              f"{sum(counts['records_rejected'].values())} rejected")
    return version_dir


def build_corpus(table: StageTable, versions: List[str], out: pathlib.Path, version: str, eval_data: str,
                 pool_size: int, logs: pathlib.Path) -> str:
    """The corpus job: one CCPairs version from the source versions, decontaminated against eval_data."""
    start = time.time()
    argv = ["pipelines.ccpairs"] + [a for v in versions for a in ("--input", v)]
    argv += ["--output", str(out / "pairs"), "--version", version, "--overwrite", "--decontaminate", eval_data,
             "--pool_size", str(pool_size)]
    corpus = run_stage(argv, logs / "corpus.log")
    counts = read_manifest(corpus)["counts"]
    dropped = ", ".join(f"{reason} {n}" for reason, n in counts["records_dropped"].items()) or "nothing dropped"
    table.add("corpus (merge, dedup)", counts["records_read"], counts["pairs"], time.time() - start, dropped)
    return corpus


def train(table: StageTable, name: str, pairs: List[str], out: pathlib.Path, n_pairs: int, args, logs) -> str:
    start = time.time()
    run_dir = out / "runs" / name
    argv = ["model.train", "--pairs", *pairs, "--output", str(run_dir), "--batch_size", str(args.batch_size),
            "--max_steps", str(args.train_steps), "--lr", str(args.lr), "--no_progress", "--log_every", "5",
            "--save_every", str(max(args.train_steps, 1))]
    if args.chunk_size:
        argv += ["--chunk_size", str(args.chunk_size)]
    if args.base_model:
        argv += ["--model", args.base_model]
    run_stage(argv, logs / f"train-{name}.log")
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


def evaluation_plan(base_model: Optional[str], noisy: str, final: str) -> List[Evaluation]:
    """The start model as it is, the start model at the noisy model's stored settings (the step-0
    control: it differs from the trained models only in the weights), then the trained models.

    The control takes the settings from the noisy model folder rather than from constants here, so
    that it follows whatever prefixes and lengths model.train stored."""
    return [Evaluation("base", base_model, None), Evaluation(CONTROL, base_model, noisy),
            Evaluation("noisy", noisy, None), Evaluation("final", final, None)]


def evaluate(run: Evaluation, data: str, logs: pathlib.Path) -> Dict[str, Any]:
    """model.evaluate's JSON line for one planned row (metrics and the settings actually used)."""
    argv = ["model.evaluate", "--data", data] + (["--model", run.model] if run.model else [])
    argv += ["--settings_from", run.settings_from] if run.settings_from else []
    return json.loads(run_stage(argv, logs / f"evaluate-{run.name}.log"))


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
    return "\n".join(lines)


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


def build_parser() -> CommandParser:
    """Every flag with its help; CommandParser's formatter adds each default to --help."""
    p = CommandParser(prog="python -m pipelines.main", description=__doc__)
    p.add_argument("--output", required=True, type=output_path,
                   help="run folder: inputs/, pairs/, runs/, logs/ and summary.json go under it")
    p.add_argument("--demo", action="store_true", help="generate the built-in sample inputs and use them")
    p.add_argument("--reddit_input", action="append", default=[], type=matching_glob,
                   help="Pushshift RS_/RC_ dump path or glob; repeat for several")
    p.add_argument("--stackexchange_input", action="append", default=[], type=matching_glob,
                   help="Stack Exchange site archive (.7z) or Posts.xml path or glob; repeat for several")
    p.add_argument("--version", default="v1", type=version_name,
                   help="version name of every stage's output (default: v1)")
    p.add_argument("--eval_data", default=None, type=folder_holding("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"),
                   help="BEIR folder (default: shared dbpedia sample, else a demo set)")
    p.add_argument("--base_model", default=None, type=model_folder,
                   help="starting encoder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--train_steps", type=positive_int, default=40, help="optimizer steps of each training stage")
    p.add_argument("--batch_size", type=positive_int, default=64,
                   help="contrastive batch of each training stage, at least 2")
    p.add_argument("--chunk_size", type=non_negative_int, default=0,
                   help="rows per forward with gradient caching; 0 = whole batch in one forward")
    p.add_argument("--lr", type=positive_float, default=2e-5, help="peak learning rate of each training stage")
    p.add_argument("--pool_size", type=positive_int, default=1_000_000,
                   help="passages in the corpus job's pool, the consistency filter's negatives")
    p.add_argument("--k", type=positive_int, default=2,
                   help="consistency filter: keep a pair iff its passage ranks in the top k of the pool")
    return p


def check_arguments(parser: CommandParser, args) -> None:
    """Checks across flags, before any stage starts or the output folder exists."""
    given = args.reddit_input or args.stackexchange_input
    if args.demo == bool(given):
        parser.error("give --demo or inputs (--reddit_input / --stackexchange_input), not both"
                     if given else "give --demo or at least one --reddit_input / --stackexchange_input")
    if args.batch_size < 2:
        parser.error("--batch_size must be at least 2 (in-batch negatives)")


def demo_inputs(out: pathlib.Path) -> Dict[str, List[str]]:
    """The generated dumps, marked as such: every version's dataset card made from them says
    "synthetic demo data" (schemas.dataset_card.SYNTHETIC_MARKER)."""
    from schemas.dataset_card import SYNTHETIC_MARKER
    from sources.demo_inputs import reddit, stackexchange

    inputs = out / "inputs"
    dumps = {"reddit": reddit.write_demo_dumps(str(inputs / "reddit")),
             "stackexchange": stackexchange.write_demo_dumps(str(inputs / "stackexchange"))}
    (inputs / SYNTHETIC_MARKER).write_text("Generated by python -m pipelines.main --demo: not real data.\n")
    return dumps


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    out = pathlib.Path(args.output)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.time()
    inputs = demo_inputs(out) if args.demo else {"reddit": args.reddit_input,
                                                   "stackexchange": args.stackexchange_input}
    eval_data = args.eval_data or (str(SHARED_EVAL) if SHARED_EVAL.is_dir() else None)
    if eval_data is None:
        from sources.demo_inputs.beir import write_demo_beir

        eval_data = write_demo_beir(str(out / "inputs" / "eval"))

    table = StageTable()
    versions = [v for v in (extract(table, source, inputs[source], out, args.version, logs, [])
                            for source in ("reddit", "stackexchange")) if v]
    corpus = build_corpus(table, versions, out, args.version, eval_data, args.pool_size, logs)
    n_pairs = read_manifest(corpus)["counts"]["pairs"]

    noisy = train(table, "noisy", [corpus], out, n_pairs, args, logs)
    start = time.time()
    filtered = json.loads(run_stage(
        ["filtering.filter_pairs", "--model", noisy, "--pairs", corpus, "--output", str(out / "pairs"),
         "--version", args.version, "--pool_size", str(args.pool_size), "--k", str(args.k), "--overwrite"],
        logs / "filter.log"))
    manifest = read_manifest(filtered["version_dir"])
    t = filtered["timings"]
    table.add("consistency filter", n_pairs, manifest["counts"]["pairs"], time.time() - start,
              f"keep rate {manifest['keep_rate']}; pool {manifest['options']['pool_actual']}, "
              f"embed {t['embed_seconds'] + t['pool_seconds']:.0f}s, search {t['search_seconds']:.1f}s")
    filtered_report = run_stage(["pipelines.report", filtered["version_dir"]], logs / "report-filtered.log")
    final = train(table, "final", [filtered["version_dir"]], out, manifest["counts"]["pairs"], args, logs)

    start = time.time()
    plan = evaluation_plan(args.base_model, noisy, final)
    scores = {run.name: evaluate(run, eval_data, logs) for run in plan}
    table.add("evaluate (nDCG@10)", f"{len(plan)} runs", "", time.time() - start, os.path.basename(eval_data))

    print("\n" + table.render())
    print("\n" + render_evaluation(scores, eval_data))
    report = os.path.join(corpus, "report.html")
    summary = {"versions": versions, "corpus": corpus, "report": report, "filtered": filtered["version_dir"],
               "filtered_report": filtered_report, "noisy_model": noisy, "final_model": final, "eval": scores,
               "eval_compare_with": CONTROL, "seconds": round(time.time() - started, 1)}
    write_bytes(str(out / "summary.json"), (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    print(f"\ntotal {summary['seconds']}s; models in {out / 'runs'}; pairs in {out / 'pairs'}; "
          f"summary: {out / 'summary.json'}")
    print(f"corpus report: {report}\nfiltered report (keep rates): {filtered_report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
