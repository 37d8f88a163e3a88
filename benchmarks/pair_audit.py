"""Judged audit of pair quality: a fixed random sample of pairs per source, read and judged by hand.

Why: drop counts say what a filter removed, not whether the pairs left are good. This draws
the same kind of sample before and after a change, so a person can judge both and compare.

    .venv/bin/python benchmarks/pair_audit.py sample --label before   # run the pipelines, draw, save
    .venv/bin/python benchmarks/pair_audit.py sample --label after
    .venv/bin/python benchmarks/pair_audit.py sample --label census --source reddit --size 100000  # every pair
    .venv/bin/python benchmarks/pair_audit.py report --notes benchmarks/data/pair_audit_notes.md
                                                                      # judgments -> results/pair_audit.md
    # what a setting adds: pairs made with the flags after -- that the defaults do not make
    .venv/bin/python benchmarks/pair_audit.py sample --label parent_any --source reddit --size 100 \
        --minus= -- --parent_min_score=-1000000000
    # and what a setting removes: default pairs that a run with --minus flags does not make
    .venv/bin/python benchmarks/pair_audit.py sample --label closed --source stackexchange --size 100 \
        --minus=--drop_closed_questions

`sample` runs the Reddit and Stack Exchange pipelines with their defaults on the real samples in
../shared/data (extra pipeline flags after `--`), then takes per source the SAMPLE_SIZE pairs whose
blake2b(SEED:passage_id) is smallest: a uniform random draw that is the same on every run, and
that keeps the same pairs before and after wherever a change left them in the output.
It writes benchmarks/results/pair_audit_<label>.tsv: ids and abbreviated texts (the samples'
full texts are not copied into the repository; they are printed, and kept under out/pair_audit/).

Judgments are hand-written in benchmarks/data/pair_audit_judgments*.tsv (one file per judging round
or source, all read), one line per judged pair:
label, pair_id, relevant|weak|not, one-line reason. `report` joins them to the samples.
"""

from __future__ import annotations

import argparse
import collections
import glob
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
JUDGMENTS = ROOT / "benchmarks" / "data" / "pair_audit_judgments.tsv"
WORK = ROOT / "out" / "pair_audit"
SEED = "pair-audit-2026"
SAMPLE_SIZE = 30
INPUTS = {"reddit": ["reddit/*.zst"], "stackexchange": ["stackexchange/beer.stackexchange.com.7z"],
          "wikipedia": ["wikipedia/*.bz2"], "semanticscholar": ["semanticscholar/*/*.jsonl*"],
          "commoncrawl": ["commoncrawl/*.warc.gz"]}
JUDGMENT_NAMES = ("relevant", "weak", "not")
# Issue 24: 30 pairs per source before and after (Common Crawl: every pair), all five sources.
ROUND3 = [f"r3_{when}_{source}" for source in INPUTS for when in ("before", "after")]
ABBREVIATE = 90


def run_source(source: str, label: str, extra: list[str]) -> pathlib.Path:
    """One pipeline run on the shared samples with default settings (+ extra flags); its version dir."""
    import importlib

    module = importlib.import_module(f"pipelines.{source}")
    args = []
    for pattern in INPUTS[source]:
        args += ["--input", str(SHARED / pattern)]
    return pathlib.Path(module.run(args + ["--output", str(WORK / "runs"), "--version", label, "--overwrite"] + extra))


def read_pairs(version_dir: pathlib.Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(glob.glob(str(version_dir / "pairs-*.parquet"))):
        rows += pq.read_table(path, columns=["pair_id", "subsource", "query_id", "passage_id", "query", "passage"]
                              ).to_pylist()
    return rows


def draw_key(pair: dict) -> str:
    return hashlib.blake2b(f"{SEED}:{pair['passage_id']}".encode(), digest_size=16).hexdigest()


def draw(pairs: list[dict], size: int = SAMPLE_SIZE) -> list[dict]:
    """The `size` pairs with the smallest seeded hash of their passage id."""
    return sorted(pairs, key=draw_key)[:size]


def abbreviate(text: str, limit: int = ABBREVIATE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def tsv_cell(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


def sample(label: str, extra: list[str], sources: list[str], size: int, minus: list[str] | None) -> None:
    """Draw `size` pairs per source from a run with `extra` flags; with `minus`, only from the
    pairs (by passage id) that a run with the `minus` flags does not make."""
    WORK.mkdir(parents=True, exist_ok=True)
    lines = ["source\tpair_id\tquery_id\tpassage_id\tquery\tpassage"]
    full = []
    for source in sources:
        pairs = read_pairs(run_source(source, label, extra))
        if minus is not None:
            made = {p["passage_id"] for p in read_pairs(run_source(source, f"{label}-minus", minus))}
            pairs = [p for p in pairs if p["passage_id"] not in made]
        chosen = draw(pairs, size)
        print(f"{source}: {len(pairs)} pairs, {len(chosen)} drawn")
        for pair in chosen:
            lines.append("\t".join([source, pair["pair_id"], pair["query_id"], pair["passage_id"],
                                    tsv_cell(abbreviate(pair["query"])), tsv_cell(abbreviate(pair["passage"]))]))
            full.append(dict(pair, source=source))
    (RESULTS / f"pair_audit_{label}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (WORK / f"{label}.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in full),
                                         encoding="utf-8")
    print(f"wrote {RESULTS / f'pair_audit_{label}.tsv'} and {WORK / f'{label}.jsonl'} (full texts, to read)")


def load_sample(label: str) -> list[dict]:
    path = RESULTS / f"pair_audit_{label}.tsv"
    rows = path.read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    return [dict(zip(header, row.split("\t"))) for row in rows[1:] if row]


def load_judgments() -> dict[tuple[str, str], tuple[str, str]]:
    judged = {}
    lines = [line for path in sorted(JUDGMENTS.parent.glob("pair_audit_judgments*.tsv"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        label, pair_id, judgment, reason = line.split("\t")
        if judgment not in JUDGMENT_NAMES:
            raise SystemExit(f"unknown judgment {judgment!r} for {pair_id}")
        judged[(label, pair_id)] = (judgment, reason)
    return judged


def shares(rows: list[dict]) -> dict[str, tuple[int, int, int, int]]:
    """Per source present: (relevant, weak, not, total)."""
    out = {}
    for source in INPUTS:
        counts = collections.Counter(r["judgment"] for r in rows if r["source"] == source)
        if counts:
            out[source] = (counts["relevant"], counts["weak"], counts["not"], sum(counts.values()))
    return out


def md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def judged_rows(label: str, judged: dict) -> list[dict]:
    rows = []
    for row in load_sample(label):
        key = (label, row["pair_id"])
        if key not in judged:
            raise SystemExit(f"{label} pair {row['pair_id']} ({row['passage_id']}) is not judged yet")
        row["judgment"], row["reason"] = judged[key]
        rows.append(row)
    return rows


def judgment_table(label: str, rows: list[dict]) -> list[str]:
    lines = [f"### {label}", "", "| source | passage id | query | passage | judgment | why |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['passage_id']} | {md_cell(r['query'])} | {md_cell(r['passage'])} "
                     f"| {r['judgment']} | {md_cell(r['reason'])} |")
    return lines + [""]


def report(labels: list[str], notes: pathlib.Path | None) -> None:
    """Summary table + per-label judgment tables; `notes` (Markdown) is put between them."""
    judged = load_judgments()
    by_label = {label: judged_rows(label, judged) for label in labels}
    lines = ["# Pair audit: all five sources, judged by hand", "",
             f"`python benchmarks/pair_audit.py report --notes benchmarks/data/pair_audit_notes.md` — {SAMPLE_SIZE} "
             "pairs per source (census labels and Common Crawl's round 3: every pair), the smallest "
             f"blake2b(`{SEED}`:passage_id), from the default pipeline outputs on `../shared/data` "
             "(Reddit: RC_2005-12, RC_2019-08.first1007, RS_2019-10.AskWomen; Stack Exchange: "
             "beer.stackexchange.com.7z; Wikipedia: both enwiki samples; Semantic Scholar: the S2AG 2023 and "
             "S2ORC 2020 samples; Common Crawl: the three WARC samples). Judgments: "
             "`benchmarks/data/pair_audit_judgments*.tsv`.", "",
             "| sample | source | relevant | weak | not relevant | relevant share | relevant + weak |",
             "|---|---|---|---|---|---|---|"]
    for label, rows in by_label.items():
        for source, (rel, weak, bad, total) in shares(rows).items():
            lines.append(f"| {label} | {source} | {rel} | {weak} | {bad} | {rel / total:.0%} "
                         f"| {(rel + weak) / total:.0%} |")
    lines.append("")
    if notes is not None:
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    for label, rows in by_label.items():
        lines += judgment_table(label, rows)
    (RESULTS / "pair_audit.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines[:12]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--label", required=True)
    s.add_argument("--source", action="append", choices=sorted(INPUTS), help="default: every source")
    s.add_argument("--size", type=int, default=SAMPLE_SIZE)
    s.add_argument("--minus", default=None,
                   help="flags of a second run (\"\" = defaults): draw only pairs that run does not make")
    s.add_argument("extra", nargs="*", help="pipeline flags after --, e.g. -- --parent_min_score=0")
    r = sub.add_parser("report")
    r.add_argument("--labels", nargs="+", default=["before", "round1", "after", "census", "census_after", "parent_any",
                                                   "accepted_unvoted", "closed"] + ROUND3)
    r.add_argument("--notes", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "sample":
        sample(args.label, args.extra, args.source or list(INPUTS), args.size,
               None if args.minus is None else args.minus.split())
    else:
        report(args.labels, args.notes)


if __name__ == "__main__":
    main()
