"""report.html + report-*.png for any version (source, corpus or filtered): what it holds, before GPU days.

    python -m pipelines.report VERSION_DIR [--output DIR]

The page is self-contained (inline CSS, no script, no web fonts): it opens offline, and names
only PNG files written beside it. It shows pairs per source and subsource; every drop reason per
source (the source jobs' reasons from the input manifests, records; and the corpus job's, pairs);
query and passage length histograms per source (whitespace words); language shares; duplicate and
decontamination rates; and for a filtered version the consistency keep rate per source.
Counts come from the manifest and from stats.json (written by the corpus job); a version without
stats.json has its shards streamed once to compute them. Written atomically, byte-identical for
the same version (PNG metadata carries no date).
"""

import html
import io
import json
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pyarrow as pa

from filtering import corpus_stats
from schemas import versions
from schemas.cli import CommandParser, output_path

REPORT_NAME = "report.html"
CORPUS_REASONS = ("eval_query", "eval_ngram", "duplicate_pair_text", "repeated_passage", "near_duplicate")
TOP_SUBSOURCES = 12
TOP_LANGUAGES = 6


# ---- what a version holds, whatever kind it is ----

def version_kind(manifest: Mapping[str, Any]) -> str:
    if "source_counts" in manifest:
        return "corpus"
    if "keep_rate" in manifest:
        return "filtered"
    return "source"


def stats_from_shards(version_dir: str) -> Dict[str, Any]:
    """stats.json's content for a version that has none, streaming its shards once."""
    def rows():
        for shard in versions.pair_shards(version_dir):
            for batch in versions.open_parquet(shard.path).iter_batches(
                    batch_size=10_000, columns=["source", "subsource", "lang", "query", "passage"]):
                yield from pa.Table.from_batches([batch]).to_pylist()
    return corpus_stats.stats_of_rows(rows())


def load_stats(version_dir: str) -> Dict[str, Any]:
    path = versions.join(version_dir, corpus_stats.STATS_NAME)
    try:
        return json.loads(versions.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return stats_from_shards(version_dir)


def drop_reasons(manifest: Mapping[str, Any]) -> Dict[str, List[Tuple[str, str, int]]]:
    """{source: [(stage, reason, n)]}: stage "source job" (records), "corpus job" or "filter" (pairs)."""
    kind = version_kind(manifest)
    out: Dict[str, List[Tuple[str, str, int]]] = {}

    def add_source_job(name: str, counts: Mapping[str, Any]) -> None:
        for reason, n in sorted({**counts.get("records_dropped", {}), **counts.get("records_rejected", {})}.items()):
            out.setdefault(name, []).append(("source job", reason, int(n)))

    if kind == "corpus":
        for entry in manifest["inputs"]:
            sources = list(entry.get("pairs_by_source") or [entry.get("dataset")])
            if len(sources) == 1 and entry.get("counts"):
                add_source_job(sources[0], entry["counts"])
        for source, counts in manifest["source_counts"].items():
            out.setdefault(source, []).extend(("corpus job", r, int(n)) for r, n in counts["dropped"].items())
    elif kind == "filtered":
        for source, n_in in manifest.get("pairs_in", {}).items():
            out.setdefault(source, []).append(("filter", "inconsistent", int(n_in - manifest["pairs_kept"][source])))
    else:
        add_source_job(str(manifest["dataset"]), manifest["counts"])
    return dict(sorted(out.items()))


def corpus_rates(manifest: Mapping[str, Any]) -> Dict[str, Dict[str, float]]:
    """{source: {reason: share of its input pairs}} for the corpus job's reasons."""
    rates = {}
    for source, counts in manifest.get("source_counts", {}).items():
        n_in = max(1, counts["pairs_in"])
        rates[source] = {r: counts["dropped"].get(r, 0) / n_in for r in CORPUS_REASONS}
    return rates


# ---- plots ----

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9})
    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def _grid(plt, n: int, height: float = 2.6):
    cols = min(n, 3) or 1
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def plot_pairs(stats) -> bytes:
    plt = _pyplot()
    sources = list(stats["pairs"])
    fig, axes = _grid(plt, len(sources) + 1)
    axes[0].bar(sources, [stats["pairs"][s] for s in sources], color="#4472c4")
    axes[0].set_title("pairs per source")
    axes[0].tick_params(axis="x", rotation=30)
    for ax, source in zip(axes[1:], sources):
        top = sorted(stats["subsource"].get(source, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SUBSOURCES]
        ax.barh([k for k, _ in reversed(top)], [v for _, v in reversed(top)], color="#70ad47")
        ax.set_title(f"{source}: top subsources")
    return _png(fig)


def plot_drops(drops) -> bytes:
    plt = _pyplot()
    colors = {"source job": "#a5a5a5", "corpus job": "#c00000", "filter": "#ed7d31"}
    fig, axes = _grid(plt, max(1, len(drops)), height=3.2)
    for ax, (source, rows) in zip(axes, drops.items()):
        rows = sorted(rows, key=lambda r: (r[2], r[1]))
        ax.barh([f"{r}" for _, r, _ in rows], [max(n, 0.5) for _, _, n in rows],
                color=[colors[stage] for stage, _, _ in rows])
        ax.set_xscale("log")
        ax.set_title(source)
    fig.suptitle("drops per reason (grey: source job, records; red: corpus job; orange: filter; pairs)", y=1.02)
    return _png(fig)


def plot_lengths(stats) -> bytes:
    plt = _pyplot()
    fig, axes = _grid(plt, 2, height=3.0)
    for ax, kind, title in ((axes[0], "query_words", "query length"), (axes[1], "passage_words", "passage length")):
        for source, counts in stats[kind].items():
            total = max(1, sum(counts.values()))
            ax.plot(
                range(len(corpus_stats.BIN_LABELS)),
                [counts.get(b, 0) / total for b in corpus_stats.BIN_LABELS],
                marker="o",
                label=source,
            )
        ax.set_xticks(range(len(corpus_stats.BIN_LABELS)), corpus_stats.BIN_LABELS, rotation=60)
        ax.set_xlabel("words")
        ax.set_ylabel("share of pairs")
        ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return _png(fig)


def language_shares(stats) -> Dict[str, Dict[str, float]]:
    shares = {}
    for source, counts in stats["lang"].items():
        total = max(1, sum(counts.values()))
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LANGUAGES]
        row = {lang: n / total for lang, n in top}
        rest = 1.0 - sum(row.values())
        if rest > 1e-9:
            row["other"] = rest
        shares[source] = row
    return shares


def plot_languages(shares) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * max(1, len(shares))))
    langs = sorted({lang for row in shares.values() for lang in row})
    left = [0.0] * len(shares)
    for lang in langs:
        values = [row.get(lang, 0.0) for row in shares.values()]
        ax.barh(list(shares), values, left=left, label=lang)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlim(0, 1)
    ax.set_title("language shares (passage)")
    if langs:
        ax.legend(ncol=min(len(langs), 7), loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8)
    return _png(fig)


def plot_rates(rates, title: str, ylabel: str) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    sources = list(rates)
    reasons = sorted({r for row in rates.values() for r in row})
    width = 0.8 / max(1, len(reasons))
    for i, reason in enumerate(reasons):
        ax.bar([j + i * width for j in range(len(sources))], [100 * rates[s].get(reason, 0) for s in sources],
               width=width, label=reason)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sources))], sources)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if reasons:
        ax.legend(fontsize=8)
    return _png(fig)


# ---- the page ----

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
code{background:#f5f5f5}"""


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.2%}" if v <= 1 else f"{v:,.1f}"
        return f"{v:,}" if isinstance(v, int) else html.escape(str(v))
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + body + "</table>"


def render(manifest: Mapping[str, Any], stats: Mapping[str, Any]) -> Tuple[str, Dict[str, bytes]]:
    """(report.html text, {png name: bytes})."""
    kind = version_kind(manifest)
    drops = drop_reasons(manifest)
    shares = language_shares(stats)
    images = {"report-pairs.png": plot_pairs(stats), "report-drops.png": plot_drops(drops),
              "report-lengths.png": plot_lengths(stats), "report-languages.png": plot_languages(shares)}
    counts = manifest["counts"]
    sections = [
        f"<h1>{html.escape(str(manifest['dataset']))} {html.escape(str(manifest['version']))}</h1>",
        f"<p>{kind} version, code {html.escape(str(manifest.get('code_version')))}, schema "
        f"{html.escape(str(manifest.get('schema_version')))}: <b>{counts['pairs']:,}</b> pairs "
        f"from {counts['records_read']:,} {html.escape(str(manifest.get('records', 'input records')))}.</p>",
        "<h2>Pairs per source and subsource</h2>", '<img src="report-pairs.png" alt="pairs per source">',
        _table(["source", "pairs", "subsources"], [(s, n, len(stats["subsource"].get(s, {})))
                                                    for s, n in stats["pairs"].items()]),
    ]
    if kind == "corpus":
        sections.append(_table(["input version", "dataset", "code version", "pairs"],
                               [(i["path"], i.get("dataset"), i.get("code_version"),
                                 sum(i.get("pairs_by_source", {}).values())) for i in manifest["inputs"]]))
    sections += ["<h2>Drop reasons per source</h2>",
                 "<p>Source job: input records (lines, rows, pages) each source left out; corpus job and filter: "
                 "pairs.</p>", '<img src="report-drops.png" alt="drop reasons per source">',
                 _table(["source", "stage", "reason", "count"], [(s, st, r, n) for s, rows in drops.items()
                                                                 for st, r, n in rows])]
    sections += ["<h2>Query and passage lengths</h2>", '<img src="report-lengths.png" alt="length histograms">',
                 "<h2>Languages</h2>", '<img src="report-languages.png" alt="language shares">',
                 _table(["source", "language", "share"], [(s, lang, v) for s, row in shares.items()
                                                          for lang, v in row.items()])]
    if kind == "corpus":
        rates = corpus_rates(manifest)
        images["report-dedup.png"] = plot_rates(rates, "duplicate and decontamination rates", "% of input pairs")
        sections += ["<h2>Duplicate and decontamination rates</h2>",
                     '<img src="report-dedup.png" alt="duplicate and decontamination rates">',
                     _table(["source"] + list(CORPUS_REASONS), [[s] + [row[r] for r in CORPUS_REASONS]
                                                               for s, row in rates.items()])]
        near = manifest.get("near_duplicates")
        if near:
            sections.append(f"<p>Near duplicates: MinHash LSH, word {near['shingle_words']}-gram shingles, "
                            f"{near['bands']} bands x {near['rows']} rows for Jaccard {near['threshold']}. "
                            "Candidate probability by Jaccard similarity:</p>")
            sections.append(_table(["Jaccard"] + list(near["candidate_probability"]),
                                   [["P(candidate)"] + list(near["candidate_probability"].values())]))
    if kind == "filtered":
        keep = {s: {"keep rate": r} for s, r in manifest["keep_rate"].items()}
        images["report-keep.png"] = plot_rates(keep, "consistency filter keep rate", "% of pairs kept")
        sections += ["<h2>Consistency keep rate per source</h2>", '<img src="report-keep.png" alt="keep rates">',
                     _table(["source", "pairs in", "kept", "keep rate"],
                            [(s, manifest["pairs_in"][s], manifest["pairs_kept"][s], r)
                             for s, r in manifest["keep_rate"].items()])]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(str(manifest['dataset']))} {html.escape(str(manifest['version']))}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")
    return page, images


def write_report(manifest: Mapping[str, Any], stats: Mapping[str, Any], out_dir: str) -> str:
    """Write the PNGs, then report.html (last: the page never names an image not yet there)."""
    page, images = render(manifest, stats)
    for name, data in images.items():
        versions.write_bytes(versions.join(out_dir, name), data)
    path = versions.join(out_dir, REPORT_NAME)
    versions.write_bytes(path, page.encode("utf-8"))
    return path


def report_version(version_dir: str, out_dir: Optional[str] = None) -> str:
    version_dir = versions.resolve_latest(version_dir)
    fs, fs_path = versions.resolve(version_dir)
    if fs.get_file_info(fs_path).type != versions.pafs.FileType.Directory:
        raise FileNotFoundError(f"{version_dir}: no such folder")
    manifest = versions.read_manifest(version_dir)
    return write_report(manifest, load_stats(version_dir), out_dir or version_dir)


def main(argv=None) -> int:
    parser = CommandParser(prog="python -m pipelines.report", description=__doc__)
    parser.add_argument("version_dir", help="a complete version folder (or <folder>/LATEST)")
    parser.add_argument("--output", type=output_path, default=None,
                        help="folder for report.html and its PNGs (default: the version folder)")
    args = parser.parse_args(argv)
    try:
        print(report_version(args.version_dir, args.output))
    except (FileNotFoundError, versions.VersionError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
