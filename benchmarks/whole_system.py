"""What the corpus teaches: the real samples of all five sources through the whole path, two starts, several seeds.

    .venv/bin/python benchmarks/whole_system.py [--seeds 0 1 2] [--out out/whole_system]
    .venv/bin/python benchmarks/whole_system.py --report        (re-render the table from the saved runs)

Path (the main job's own stages, pipelines.main): every source's real samples in ../shared/data are
extracted once, merged by the corpus job once (dedup, decontamination against the evaluation set);
then per start and seed: train the noisy model on the corpus, consistency-filter the corpus with it,
train the final model on the filtered pairs from the same start, and evaluate the start (at the
trained models' settings: the step-0 control), the unfiltered-trained (noisy) and the filtered-trained
(final) model on the BEIR DBPedia-Entity subset in ../shared/data/eval, in one model.evaluate process.

Two starts:
- all-MiniLM-L6-v2 (already a strong retriever: the question is whether CCPairs moves it at all);
- a small randomly initialised BERT (hidden 128, 2 layers) from a config, with MiniLM's tokenizer,
  saved per seed so the step-0 control is exactly the random start; it is trained long enough to learn.

Each run's figures are appended to <out>/runs.jsonl as it finishes, so a cut run keeps what it did;
benchmarks/results/whole_system.md is rendered from that file.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.metrics import paired_bootstrap  # noqa: E402
from pipelines import main as main_job  # noqa: E402
from schemas.versions import read_manifest  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
EVAL = SHARED / "eval" / "beir-dbpedia-entity-subset"
INPUTS = {"reddit": ["reddit/*.zst"], "stackexchange": ["stackexchange/beer.stackexchange.com.7z"],
          "wikipedia": ["wikipedia/*.bz2"], "semanticscholar": ["semanticscholar/*/*.jsonl*"],
          "commoncrawl": ["commoncrawl/*.warc.gz"]}
SMALL_BERT = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                  max_position_embeddings=512)
# Per start: optimizer steps, batch and peak learning rate of each of the two training stages.
STARTS = {
    "all-MiniLM-L6-v2": dict(train_steps=30, batch_size=32, lr=2e-5),
    "small random BERT": dict(train_steps=150, batch_size=64, lr=5e-4),
}
RESULTS = ROOT / "benchmarks" / "results" / "whole_system.md"
NOTES = ROOT / "benchmarks" / "data" / "whole_system_notes.md"  # the hand-written reading of the last results


def timed(stages: dict, name: str, work):
    started = time.time()
    value = work()
    stages[name] = round(time.time() - started, 1)
    return value


def shared_corpus(out: pathlib.Path, logs: pathlib.Path, table) -> tuple:
    """The five sources' versions and the corpus made from them, once for every run."""
    stages = {}
    inputs = {source: [str(SHARED / p) for p in patterns] for source, patterns in INPUTS.items()}
    versions = timed(stages, "extract (sources side by side)", lambda: main_job.extract_all(
        table, inputs, {}, out, "v1", logs))
    stages.update({stage: round(seconds, 1) for stage, _, _, seconds, _ in table.rows})
    corpus = timed(stages, "corpus job", lambda: main_job.build_corpus(
        table, versions, out, "v1", str(EVAL), 1_000_000, logs))
    return versions, corpus, stages


def random_start(folder: pathlib.Path, seed: int) -> str:
    """The small BERT's random initialisation for this seed, saved so every stage starts from it."""
    from model.encoder import build_random_encoder
    from model.saving import save_encoder

    if not (folder / "modules.json").is_file():
        save_encoder(build_random_encoder(SMALL_BERT, seed=seed), folder)
    return str(folder)


def one_run(start: str, seed: int, corpus: str, out: pathlib.Path, table, control: dict = None) -> dict:
    """One start and seed through noisy model, filter, final model and evaluation. `control`: the
    step-0 control's scores of an earlier seed, reused where the start does not depend on the seed
    (MiniLM's weights and the trained models' settings are the same for every seed, so its control
    embeds to the same vectors: one evaluation of 5,000 documents saved per seed)."""
    run_out = out / "runs" / f"{start.split()[0].lower()}-seed{seed}"
    logs = run_out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = None if start == "all-MiniLM-L6-v2" else random_start(run_out / "start", seed)
    args = types.SimpleNamespace(chunk_size=0, base_model=base, seed=seed, **STARTS[start])
    stages = {}
    n_pairs = read_manifest(corpus)["counts"]["pairs"]
    noisy = timed(stages, "train noisy", lambda: main_job.train(table, "noisy", [corpus], run_out, n_pairs, args, logs))
    filtered = timed(stages, "consistency filter", lambda: json.loads(main_job.run_stage(
        ["filtering.filter_pairs", "--model", noisy, "--pairs", corpus, "--output", str(run_out / "pairs"),
         "--version", "v1", "--pool_size", "1000000", "--k", "2", "--overwrite"], logs / "filter.log", "filter")))
    manifest = read_manifest(filtered["version_dir"])
    final = timed(stages, "train final", lambda: main_job.train(
        table, "final", [filtered["version_dir"]], run_out, manifest["counts"]["pairs"], args, logs))
    plan = main_job.evaluation_plan(base, noisy, final)
    if control is not None:
        plan = [run for run in plan if run.name != main_job.CONTROL]
    scores = timed(stages, f"evaluate {len(plan)} models", lambda: main_job.evaluate_all(plan, str(EVAL), logs))
    if control is not None:
        scores = {main_job.CONTROL: dict(control, reused=True), **scores}
    return {"start": start, "seed": seed, **STARTS[start], "stages": stages,
            "kept": manifest["keep_rate"], "pairs_in": manifest["pairs_in"], "pairs_kept": manifest["pairs_kept"],
            "scores": {name: {"ndcg@10": m["ndcg@10"], "recall@100": m["recall@100"],
                              "per_query": m["ndcg@10_per_query"]} for name, m in scores.items()}}


def mean_spread(values) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({min(values):.4f}–{max(values):.4f})"


NAMES = {"step0_control": "start", "noisy": "unfiltered", "final": "filtered"}
WHAT_IT_WOULD_TAKE = (
    "What it would take to show filtered > unfiltered at this scale: the samples give about 3,000 pairs (Wikipedia "
    "and Stack Exchange are 87% of them; Common Crawl 30, Reddit 109), and the filter removes about a third, so in "
    "the same steps the filtered model sees a third fewer distinct pairs, more often; and 40 judged queries resolve "
    "differences of about 0.02 nDCG@10 at best. E5 shows the filter's gain with 270M pairs and a full BEIR evaluation; a comparison that can "
    "resolve it here needs (1) more pairs per source (held-out dumps: a Pushshift month, a Stack Exchange site "
    "per domain, an enwiki part, an S2AG shard, a few CC WARCs give 10^5–10^6 pairs), (2) training to convergence on "
    "both (thousands of steps at batch 1,024+: GPU work; on these 2 CPU cores one MiniLM step of 32 takes seconds), "
    "and (3) "
    "an evaluation with hundreds of judged queries (full BEIR sets). MiniLM is already trained on 1B pairs that "
    "include these sources' kinds, so from MiniLM a few dozen steps cannot be expected to move it.")


def verdict(runs: list, before: str, after: str) -> str:
    """How many seeds show `after` above `before` beyond their bootstrap interval (and below it)."""
    bounds = [paired_bootstrap(r["scores"][before]["per_query"], r["scores"][after]["per_query"]) for r in runs]
    above = sum(b["low"] > 0 for b in bounds)
    below = sum(b["high"] < 0 for b in bounds)
    text = f"{NAMES[after]} > {NAMES[before]} in {above} of {len(runs)} seeds"
    return text + (f" ({below} below)" if below else "") + (", within noise in the others" if above + below < len(runs)
                                                             else "")


def render(runs: list, shared_stages: dict, corpus_counts: dict, command: str) -> str:
    lines = ["# Whole system: the real samples of all five sources, corpus → noisy model → filter → final model", "",
             f"`{command}` on 2 CPU cores (no GPU). Evaluation: BEIR DBPedia-Entity subset (5,000 docs, 40 judged "
             "queries). `start` is the step-0 control (the start model at the trained models' settings: "
             "\"query: \"/\"passage: \", 32/128 tokens), `unfiltered` the noisy model (trained on the whole corpus), "
             "`filtered` the final model (trained from the same start on the pairs the noisy model kept). "
             "Mean ± sample standard deviation over seeds (min–max).", "",
             "| start | seeds | steps × batch, lr | metric | start | unfiltered | filtered |", "|---|---|---|---|---|---|---|"]
    for start in STARTS:
        mine = [r for r in runs if r["start"] == start]
        if not mine:
            continue
        config = f"{mine[0]['train_steps']} × {mine[0]['batch_size']}, {mine[0]['lr']:g}"
        for metric in ("ndcg@10", "recall@100"):
            cells = [mean_spread([r["scores"][name][metric] for r in mine]) for name in ("step0_control", "noisy", "final")]
            lines.append(f"| {start} | {len(mine)} | {config} | {metric} | " + " | ".join(cells) + " |")
    lines += ["", "Paired bootstrap per seed (nDCG@10 difference over the 40 queries, 95% interval):", "",
              "| start | seed | unfiltered − start | filtered − start | filtered − unfiltered |", "|---|---|---|---|---|"]
    for r in runs:
        cells = []
        for before, after in (("step0_control", "noisy"), ("step0_control", "final"), ("noisy", "final")):
            b = paired_bootstrap(r["scores"][before]["per_query"], r["scores"][after]["per_query"])
            cells.append(f"{b['difference']:+.4f} [{b['low']:+.4f}, {b['high']:+.4f}]")
        lines.append(f"| {r['start']} | {r['seed']} | " + " | ".join(cells) + " |")
    lines += ["", "Does filtered > unfiltered > start hold beyond the spread? (a comparison holds for a seed when its "
              "95% paired bootstrap interval lies above 0)", ""]
    for start in STARTS:
        mine = [r for r in runs if r["start"] == start]
        if mine:
            lines.append(f"- {start}: " + "; ".join(verdict(mine, before, after) for before, after in
                                                   (("step0_control", "noisy"), ("noisy", "final"))) + ".")
    lines += ["", WHAT_IT_WOULD_TAKE]
    if NOTES.is_file():
        lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    sources = sorted({s for r in runs for s in r["pairs_in"]})
    lines += ["", "The consistency filter's kept share per source (pairs kept / pairs in, per seed):", "",
              "| start | seed | " + " | ".join(sources) + " |", "|---|---|" + "---|" * len(sources)]
    for r in runs:
        lines.append(f"| {r['start']} | {r['seed']} | " + " | ".join(
            f"{r['pairs_kept'].get(s, 0)}/{r['pairs_in'][s]} ({r['kept'][s]:.0%})" for s in sources) + " |")
    lines += ["", f"Corpus: {corpus_counts}", "", "Time per stage (seconds): shared stages once, then per run:", "",
              "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {seconds} |" for name, seconds in shared_stages.items()]
    stage_names = list(dict.fromkeys(name for r in runs for name in r["stages"]))
    lines += ["", "| start | seed | " + " | ".join(stage_names) + " |", "|---|---|" + "---|" * len(stage_names)]
    lines += [f"| {r['start']} | {r['seed']} | " + " | ".join(str(r['stages'].get(n, "")) for n in stage_names) + " |"
              for r in runs]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--starts", nargs="+", default=list(STARTS), choices=list(STARTS))
    parser.add_argument("--out", default=str(ROOT / "out" / "whole_system"))
    parser.add_argument("--report", action="store_true", help="only re-render the results from <out>/runs.jsonl")
    parser.add_argument("--append", action="store_true",
                        help="reuse <out>'s corpus and keep its runs, adding these starts and seeds")
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        raise SystemExit(f"{SHARED} is absent: this benchmark runs the real samples")
    out = pathlib.Path(args.out)
    runs_file, shared_file = out / "runs.jsonl", out / "shared.json"
    command = "python benchmarks/whole_system.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.report:
        out.mkdir(parents=True, exist_ok=True)
        logs = out / "logs"
        logs.mkdir(exist_ok=True)
        table = main_job.StageTable()
        if args.append:
            corpus = json.loads(shared_file.read_text())["corpus"]
        else:
            versions, corpus, stages = shared_corpus(out, logs, table)
            manifest = read_manifest(corpus)
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=ROOT).stdout.strip()
            shared_file.write_text(json.dumps({"stages": stages, "corpus": corpus, "command": command,
                                               "commit": commit, "counts": {s: c["pairs_kept"] for s, c in
                                                                            manifest["source_counts"].items()}}))
            runs_file.write_text("")
        for start in args.starts:
            for seed in args.seeds:
                earlier = [json.loads(line) for line in runs_file.read_text().splitlines() if line.strip()]
                control = next((r["scores"][main_job.CONTROL] for r in earlier if r["start"] == start), None)
                result = one_run(start, seed, corpus, out, table,
                                 control={"ndcg@10": control["ndcg@10"], "recall@100": control["recall@100"],
                                          "ndcg@10_per_query": control["per_query"]}
                                 if control is not None and start == "all-MiniLM-L6-v2" else None)
                with open(runs_file, "a") as handle:
                    handle.write(json.dumps(result) + "\n")
                print(json.dumps({k: v for k, v in result.items() if k != "scores"}), flush=True)
    shared = json.loads(shared_file.read_text())
    runs = [json.loads(line) for line in runs_file.read_text().splitlines() if line.strip()]
    text = render(runs, shared["stages"], shared["counts"], shared["command"] + f" (commit {shared.get('commit')})")
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
