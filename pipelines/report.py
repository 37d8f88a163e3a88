"""report.html + report-*.png for any version (source, corpus or filtered): what it holds, before GPU days.

    python -m pipelines.report VERSION_DIR [--output DIR] [--tokenizer PATH]

The page is self-contained (inline CSS, no script, no web fonts): it opens offline, and names
only PNG files written beside it. It shows, per source: the funnel from records read through
records used and pairs to the pairs left after dedup and decontamination (and kept by the
consistency filter, for a filtered version); pairs per subsource; every drop reason (the source
jobs' reasons, records; the corpus job's and the filter's, pairs; a filtered version follows its
input corpus version back to them); the evaluation sets used for decontamination, named, with
their sizes (or that it did not run); query and passage length distributions with median and p95
(whitespace words, or tokens of the trainer's tokenizer with --tokenizer, special tokens
included); language shares; duplicate rates and the LSH curve; 5 example pairs per source and a
sample of rejects with their reasons (both chosen by hash, so the same every run; HTML-escaped and
truncated). Counts come from the manifests and from stats.json (written by the corpus job); a
version without stats.json has its shards streamed once to compute them. Examples, rejects and
token lengths read at most a bounded number of rows per source. Every figure has a fixed size
(constrained layout, no tight bounding box), so its PNG has the same pixel size for the same
version. Written atomically, byte-identical for the same version (PNG metadata carries no date).
Never imports torch: a --tokenizer is loaded with `tokenizers` (a folder's tokenizer.json), or
with transformers' fast tokenizer, only when given.
"""

import hashlib
import html
import io
import json
import os
import posixpath
import re
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import pyarrow as pa

from filtering import corpus_stats
from schemas import versions
from schemas.cli import CommandParser, existing_path, output_path

REPORT_NAME = "report.html"
CORPUS_REASONS = ("eval_query", "eval_ngram", "duplicate_pair_text", "repeated_passage", "near_duplicate")
TOP_SUBSOURCES = 12
TOP_LANGUAGES = 6
EXAMPLES_PER_SOURCE = 5
REJECTS_PER_SOURCE = 5
SCAN_ROWS = 20_000  # rows read per source (pairs) or per shard (rejects, ranks) to choose examples from
TOKEN_SAMPLE = 100_000  # pairs per source tokenized for token lengths
QUERY_CHARS, PASSAGE_CHARS, SNIPPET_CHARS = 200, 400, 240
# model.train's DEFAULT_MAX_LENGTHS (a test checks they agree): where training truncates, in tokens.
TRAIN_MAX_TOKENS = {"query": 32, "passage": 128}
FUNNEL_STAGES = ("records read", "records used", "pairs", "after dedup + decontamination", "kept by the filter")
DPI = 100
WIDTH = 10.0  # inches: every figure is 1000 px wide
LABEL_CHARS = 30  # tick labels (subsource names, reasons) longer than this are cut with an ellipsis
STAGE_COLORS = {"source job": "#7f7f7f", "corpus job": "#c00000", "filter": "#ed7d31"}


# ---- what a version holds, whatever kind it is ----

def version_kind(manifest: Mapping[str, Any]) -> str:
    if "source_counts" in manifest:
        return "corpus"
    if "keep_rate" in manifest:
        return "filtered"
    return "source"


def _rows(path: str, columns: Sequence[str], limit: Optional[int] = None):
    """Rows of one Parquet file (only `columns`), at most `limit` of them, read batch by batch."""
    seen = 0
    for batch in versions.open_parquet(path).iter_batches(batch_size=10_000, columns=list(columns)):
        for row in pa.Table.from_batches([batch]).to_pylist():
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield row


def stats_from_shards(version_dir: str) -> Dict[str, Any]:
    """stats.json's content for a version that has none, streaming its shards once."""
    def rows():
        for shard in versions.pair_shards(version_dir):
            yield from _rows(shard.path, ["source", "subsource", "lang", "query", "passage"])
    return corpus_stats.stats_of_rows(rows())


def load_stats(version_dir: str) -> Dict[str, Any]:
    """stats.json, or the shards' stats when it is missing or older (without the fine length bins)."""
    path = versions.join(version_dir, corpus_stats.STATS_NAME)
    try:
        stats = json.loads(versions.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return stats_from_shards(version_dir)
    return stats if all(kind in stats for kind in corpus_stats.KINDS) else stats_from_shards(version_dir)


def upstream_corpus(manifest: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """A filtered version's input corpus manifest (the folder of its input shards), if it can be read."""
    if version_kind(manifest) != "filtered":
        return None
    folders = sorted({posixpath.dirname(str(i["path"]).replace(os.sep, "/")) for i in manifest.get("inputs", [])
                      if i.get("path")})
    if len(folders) != 1:
        return None
    try:
        corpus = versions.read_manifest(folders[0])
    except (OSError, ValueError, versions.VersionError):
        return None
    return dict(corpus, path=folders[0]) if version_kind(corpus) == "corpus" else None


def records_label(manifest: Mapping[str, Any]) -> str:
    if manifest.get("records"):
        return str(manifest["records"])
    return "input pairs" if version_kind(manifest) == "filtered" else "input records"


def drop_reasons(manifest: Mapping[str, Any],
                 upstream: Optional[Mapping[str, Any]] = None) -> Dict[str, List[Tuple[str, str, int]]]:
    """{source: [(stage, reason, n)]}: stage "source job" (records), "corpus job" or "filter" (pairs).

    A filtered version lists its input corpus version's reasons (`upstream`) before its own."""
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
        if upstream is not None:
            for source, rows in drop_reasons(upstream).items():
                out.setdefault(source, []).extend(rows)
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


def funnel(manifest: Mapping[str, Any], stats: Mapping[str, Any],
           upstream: Optional[Mapping[str, Any]] = None) -> Dict[str, List[Optional[int]]]:
    """{source: [count per FUNNEL_STAGES]}, None where a stage does not apply or is not known.

    Records read and used are the source job's (lines, rows, pages); pairs are what it wrote; then the
    pairs the corpus job kept; then the pairs the consistency filter kept."""
    kind = version_kind(manifest)
    corpus = manifest if kind == "corpus" else upstream
    out: Dict[str, List[Optional[int]]] = {}
    if kind == "source":
        counts = manifest["counts"]
        for source in stats["pairs"] or [str(manifest["dataset"])]:
            out[source] = [counts.get("records_read"), counts.get("records_used"),
                           stats["pairs"].get(source, 0), None, None]
        return out
    if corpus is not None:
        for entry in corpus.get("inputs", []):
            by_source = entry.get("pairs_by_source") or {}
            single = len(by_source) == 1 and entry.get("counts")
            for source, n in by_source.items():
                row = out.setdefault(source, [None, None, 0, None, None])
                row[2] = (row[2] or 0) + int(n)
                if single:
                    row[0] = (row[0] or 0) + int(entry["counts"].get("records_read", 0))
                    row[1] = (row[1] or 0) + int(entry["counts"].get("records_used", 0))
        for source, counts in corpus.get("source_counts", {}).items():
            out.setdefault(source, [None, None, counts["pairs_in"], None, None])[3] = counts["pairs_kept"]
    if kind == "filtered":
        for source, n in manifest.get("pairs_kept", {}).items():
            row = out.setdefault(source, [None, None, None, manifest["pairs_in"][source], None])
            row[4] = int(n)
    return dict(sorted(out.items()))


# ---- lengths ----

def word_lengths(stats: Mapping[str, Any]) -> Dict[str, Any]:
    return {"unit": "words", "query": stats.get("query_len", {}), "passage": stats.get("passage_len", {}),
            "measured": dict(stats.get("pairs", {})), "over": None}


def load_tokenizer(path: str) -> Callable[[List[str]], List[int]]:
    """Token counts (special tokens included, no truncation) of a batch of texts; torch never imported."""
    file = path if path.endswith(".json") else os.path.join(path, "tokenizer.json")
    if os.path.isfile(file):
        import tokenizers

        tokenizer = tokenizers.Tokenizer.from_file(file)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts)]
    import transformers

    fast = transformers.AutoTokenizer.from_pretrained(path, use_fast=True)
    return lambda texts: [len(ids) for ids in fast(texts, add_special_tokens=True, truncation=False)["input_ids"]]


def token_lengths(version_dir: str, manifest: Mapping[str, Any], tokenizer_path: str,
                  sample: int = TOKEN_SAMPLE) -> Dict[str, Any]:
    """Fine length histograms in tokens over the first `sample` pairs of each source (shard order)."""
    count = load_tokenizer(tokenizer_path)
    name = "/".join(os.path.normpath(os.path.abspath(tokenizer_path)).split(os.sep)[-2:])
    out: Dict[str, Any] = {"unit": f"tokens ({name})",
                           "query": {}, "passage": {}, "measured": {}, "over": {}}
    for source, rows in _rows_per_source(version_dir, manifest, ["source", "query", "passage"], sample).items():
        out["measured"][source] = len(rows)
        over = out["over"].setdefault(source, {"query": 0, "passage": 0})
        for field in ("query", "passage"):
            histogram = out[field].setdefault(source, {})
            for start in range(0, len(rows), 1024):
                for n in count([r[field] for r in rows[start:start + 1024]]):
                    key = str(corpus_stats.fine_bin(n))
                    histogram[key] = histogram.get(key, 0) + 1
                    over[field] += n > TRAIN_MAX_TOKENS[field]
    return out


def length_table(lengths: Mapping[str, Any]) -> Tuple[List[str], List[List[Any]]]:
    unit = lengths["unit"].split(" ")[0]
    head = ["source", f"query median ({unit})", "query p95", f"passage median ({unit})", "passage p95"]
    if lengths["over"] is not None:
        head += [f"queries over {TRAIN_MAX_TOKENS['query']} tokens", f"passages over {TRAIN_MAX_TOKENS['passage']} tokens"]
    head.append("pairs measured")
    rows = []
    for source in sorted(set(lengths["query"]) | set(lengths["passage"])):
        q, p = lengths["query"].get(source, {}), lengths["passage"].get(source, {})
        row = [source, _num(corpus_stats.quantile(q, 0.5)), _num(corpus_stats.quantile(q, 0.95)),
               _num(corpus_stats.quantile(p, 0.5)), _num(corpus_stats.quantile(p, 0.95))]
        measured = lengths["measured"].get(source, 0)
        if lengths["over"] is not None:
            over = lengths["over"].get(source, {})
            row += [_share(over.get("query", 0), measured), _share(over.get("passage", 0), measured)]
        rows.append(row + [measured])
    return head, rows


def _num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


def _share(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "—"


DISPLAY_EDGES = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
                 2048, 4096, 8192, 1 << 62)


def display_histogram(histogram: Mapping[str, int]) -> List[int]:
    """Fine bins merged into DISPLAY_EDGES (two bins per doubling): counts per [edge, next edge)."""
    counts = [0] * (len(DISPLAY_EDGES) - 1)
    for key, n in histogram.items():
        low = int(key)
        for i in range(len(DISPLAY_EDGES) - 1):
            if DISPLAY_EDGES[i] <= low < DISPLAY_EDGES[i + 1]:
                counts[i] += n
                break
    return counts


# ---- examples and rejects, chosen by hash ----

def _digest(*parts: Any) -> str:
    return hashlib.blake2b("\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=8).hexdigest()


def _rows_per_source(version_dir: str, manifest: Mapping[str, Any], columns: Sequence[str],
                     limit: int) -> Dict[str, List[Dict[str, Any]]]:
    """The first `limit` rows of each source, in shard order (a bounded read however large the version)."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    try:
        shards = versions.pair_shards(version_dir, manifest)
    except (OSError, ValueError, KeyError):
        return out
    for shard in shards:
        if len(out.get(shard.source, [])) >= limit:
            continue
        for row in _rows(shard.path, columns):
            rows = out.setdefault(row.get("source") or shard.source, [])
            if len(rows) < limit:
                rows.append(row)
            elif all(len(r) >= limit for r in out.values()):
                break
    return dict(sorted(out.items()))


def example_pairs(version_dir: str, manifest: Mapping[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """EXAMPLES_PER_SOURCE pairs per source: the smallest hashes of pair_id among its first SCAN_ROWS pairs."""
    rows = _rows_per_source(version_dir, manifest, ["pair_id", "source", "subsource", "lang", "query", "passage"],
                            SCAN_ROWS)
    return {s: sorted(r, key=lambda row: _digest(row["pair_id"]))[:EXAMPLES_PER_SOURCE] for s, r in rows.items()}


def _reject_rows(version_dir: str, manifest: Mapping[str, Any], stage: str) -> List[Dict[str, Any]]:
    rows = []
    for entry in manifest.get("reject_shards", []):
        try:
            for row in _rows(versions.join(version_dir, entry["path"]),
                             ["source", "reason", "input_file", "position", "detail", "snippet"], SCAN_ROWS):
                rows.append(dict(row, stage=stage))
        except (OSError, ValueError, KeyError):
            continue
    return rows


def _filter_reject_rows(version_dir: str, manifest: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Pairs the consistency filter dropped: from its rank shards, with their text from the input shards."""
    chosen: Dict[str, Dict[str, Any]] = {}
    inputs = manifest.get("inputs", [])
    for j, name in enumerate(manifest.get("rank_shards", [])):
        try:
            ranks = [r for r in _rows(versions.join(version_dir, name),
                                      ["pair_id", "source", "rank", "pair_score", "kth_pool_score", "keep"], SCAN_ROWS)
                     if not r["keep"]]
        except (OSError, ValueError, KeyError):
            continue
        for r in ranks:
            r["shard"] = inputs[j]["path"] if j < len(inputs) else None
            chosen[r["pair_id"]] = r
    by_source: Dict[str, List[Dict[str, Any]]] = {}
    for r in sorted(chosen.values(), key=lambda r: _digest(r["pair_id"])):
        if len(by_source.setdefault(r["source"], [])) < REJECTS_PER_SOURCE:
            by_source[r["source"]].append(r)
    wanted = [r for rows in by_source.values() for r in rows]
    texts: Dict[str, Dict[str, Any]] = {}
    for shard in sorted({r["shard"] for r in wanted if r["shard"]}):
        ids = {r["pair_id"] for r in wanted if r["shard"] == shard}
        try:
            for row in _rows(shard, ["pair_id", "query", "passage"]):
                if row["pair_id"] in ids:
                    texts[row["pair_id"]] = row
        except (OSError, ValueError, KeyError):
            continue
    k = (manifest.get("options") or {}).get("k")
    out = []
    for r in wanted:
        text = texts.get(r["pair_id"], {})
        rank = f"below the top {k}" if k and r["rank"] > k else f"rank {r['rank']}"
        out.append({"stage": "filter", "source": r["source"], "reason": "inconsistent",
                    "detail": f"passage {rank} among the pool (score {r['pair_score']:.3f}, "
                              f"k-th pool score {r['kth_pool_score']:.3f})",
                    "input_file": posixpath.basename(str(r["shard"] or "")), "position": None,
                    "snippet": f"{text.get('query', '')} → {text.get('passage', '')}" if text else ""})
    return out


def reject_sample(version_dir: str, manifest: Mapping[str, Any],
                  upstream: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Up to REJECTS_PER_SOURCE rejects per (stage, source), by hash: the version's own reject shards, its
    input source versions' (corpus), and the consistency filter's dropped pairs (filtered)."""
    rows = _reject_rows(version_dir, manifest, "source job")
    corpus = manifest if version_kind(manifest) == "corpus" else upstream
    for entry in (corpus or {}).get("inputs", []):
        try:
            rows += _reject_rows(entry["path"], versions.read_manifest(entry["path"]), "source job")
        except (OSError, ValueError, KeyError, versions.VersionError):
            continue
    picked: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: _digest(r["source"], r["reason"], r["input_file"], r["position"],
                                                  r["snippet"])):
        group = picked.setdefault((row["stage"], row["source"]), [])
        if len(group) < REJECTS_PER_SOURCE:
            group.append(row)
    out = [r for _, group in sorted(picked.items()) for r in sorted(group, key=lambda r: (r["reason"], r["snippet"]))]
    if version_kind(manifest) == "filtered":
        out += _filter_reject_rows(version_dir, manifest)
    return out


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")


def clip(text: Any, limit: int) -> str:
    """Whitespace runs as one space, control characters as U+FFFD, cut at `limit` characters with an ellipsis."""
    text = _SPACE.sub(" ", _CONTROL.sub("\ufffd", str(text if text is not None else ""))).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _label(text: Any) -> str:
    return clip(text, LABEL_CHARS)


# ---- figures: a fixed size each, constrained layout, every axis labelled ----

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "svg.hashsalt": "ccpairs"})
    return plt


def _figure(height: float, **subplots):
    plt = _pyplot()
    fig = plt.figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(squeeze=False, **subplots)
    return fig, [ax for row in axes for ax in row]


def png(fig) -> bytes:
    """The figure at its own size (no tight bounding box), without a date in the metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _count_axis(ax, label: str, log: bool = False) -> None:
    import matplotlib.ticker

    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        label += " (log scale)"
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6, integer=True))
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(label)


def figure_funnel(rows: Mapping[str, List[Optional[int]]]):
    """One panel per source: a bar per funnel stage it has."""
    n = max(1, len(rows))
    fig, axes = _figure(0.9 + 1.6 * n, nrows=n, ncols=1)
    colors = ("#a5a5a5", "#7f7f7f", "#4472c4", "#2f5597", "#ed7d31")
    for ax, (source, counts) in zip(axes, rows.items()):
        stages = [(stage, value, color) for stage, value, color in zip(FUNNEL_STAGES, counts, colors)
                  if value is not None]
        ax.barh([s for s, _, _ in reversed(stages)], [v for _, v, _ in reversed(stages)],
                color=[c for _, _, c in reversed(stages)])
        ax.set_title(f"{_label(source)}: records (grey) and pairs (blue, orange) per stage", loc="left")
        _count_axis(ax, "count")
        ax.set_ylabel("stage")
    if not rows:
        _empty(axes[0], "pairs")
    return fig


def figure_pairs(stats: Mapping[str, Any]):
    """Pairs per source, then each source's top subsources, each in its own full-width panel."""
    sources = list(stats["pairs"])
    tops = [sorted(stats["subsource"].get(s, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SUBSOURCES]
            for s in sources]
    heights = [max(1, len(sources))] + [max(1, len(t)) for t in tops]
    fig, axes = _figure(0.3 + sum(0.22 * h + 0.75 for h in heights), nrows=len(heights), ncols=1,
                        height_ratios=[0.22 * h + 0.75 for h in heights])
    if sources:
        axes[0].barh([_label(s) for s in reversed(sources)], [stats["pairs"][s] for s in reversed(sources)],
                     color="#4472c4")
    else:
        _empty(axes[0], "pairs")
    axes[0].set_title("pairs per source", loc="left")
    _count_axis(axes[0], "pairs")
    axes[0].set_ylabel("source")
    for ax, source, top in zip(axes[1:], sources, tops):
        ax.barh([_label(k) for k, _ in reversed(top)], [v for _, v in reversed(top)], color="#70ad47")
        ax.set_title(f"{_label(source)}: top {len(top)} of {len(stats['subsource'].get(source, {}))} subsources",
                     loc="left")
        _count_axis(ax, "pairs")
        ax.set_ylabel("subsource")
    return fig


def figure_drops(drops: Mapping[str, List[Tuple[str, str, int]]]):
    """One panel per source: a bar per drop reason, coloured by the stage that dropped it."""
    from matplotlib.patches import Patch

    n = max(1, len(drops))
    heights = [0.22 * max(1, len(rows)) + 0.8 for rows in drops.values()] or [1.0]
    fig, axes = _figure(0.7 + sum(heights), nrows=n, ncols=1, height_ratios=heights)
    for ax, (source, rows) in zip(axes, drops.items()):
        rows = sorted(rows, key=lambda r: (r[2], r[1]))
        ax.barh([_label(f"{r} ({'records' if stage == 'source job' else 'pairs'})") for stage, r, _ in rows],
                [max(n, 0.5) for _, _, n in rows], color=[STAGE_COLORS[stage] for stage, _, _ in rows])
        ax.set_title(f"{_label(source)}: dropped or rejected", loc="left")
        _count_axis(ax, "count", log=True)
        ax.set_ylabel("reason")
    if not drops:
        _empty(axes[0], "drops")
    fig.legend(handles=[Patch(color=c, label=stage) for stage, c in STAGE_COLORS.items()],
               loc="outside lower center", ncol=3, title="stage (source job: records; corpus job, filter: pairs)")
    return fig


def figure_lengths(lengths: Mapping[str, Any]):
    """Query and passage length distributions per source, two bins per doubling, x on a log scale."""
    import matplotlib.ticker

    fig, axes = _figure(3.8, nrows=1, ncols=2)
    unit = lengths["unit"]
    mids = [max(0.7, (DISPLAY_EDGES[i] + min(DISPLAY_EDGES[i + 1], 2 * max(1, DISPLAY_EDGES[i]))) / 2)
            for i in range(len(DISPLAY_EDGES) - 1)]
    sources = sorted(set(lengths["query"]) | set(lengths["passage"]))
    for ax, field in zip(axes, ("query", "passage")):
        top = 1
        for source in sources:
            counts = display_histogram(lengths[field].get(source, {}))
            total = max(1, sum(counts))
            used = [i for i, c in enumerate(counts) if c]
            top = max(top, (used[-1] + 2) if used else 1)
            ax.plot(mids, [c / total for c in counts], marker="o", markersize=3, label=_label(source))
        ax.set_xscale("log")
        ax.set_xlim(0.6, max(4, mids[min(top, len(mids) - 1)]))
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if lengths["over"] is not None:
            ax.axvline(TRAIN_MAX_TOKENS[field], color="#c00000", linestyle="--", linewidth=1)
        ax.set_xlabel(f"{field} length, {unit} (log scale)")
        ax.set_ylabel("share of pairs")
        ax.set_title(f"{field} length" + (f" (dashed: training truncates at {TRAIN_MAX_TOKENS[field]})"
                                          if lengths["over"] is not None else ""), loc="left")
        if not sources:
            _empty(ax, "pairs")
    if sources:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(6, len(sources)),
                   title="source")
    return fig


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


def figure_languages(shares):
    fig, axes = _figure(1.6 + 0.35 * max(1, len(shares)), nrows=1, ncols=1)
    ax = axes[0]
    langs = sorted({lang for row in shares.values() for lang in row})
    left = [0.0] * len(shares)
    for lang in langs:
        values = [row.get(lang, 0.0) for row in shares.values()]
        ax.barh([_label(s) for s in shares], values, left=left, label=_label(lang))
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of pairs (language of the passage)")
    ax.set_ylabel("source")
    ax.set_title("language shares", loc="left")
    if langs:
        fig.legend(loc="outside lower center", ncol=min(len(langs), 8), title="language")
    else:
        _empty(ax, "pairs")
    return fig


def figure_rates(rates: Mapping[str, Mapping[str, float]], title: str, xlabel: str):
    """Grouped horizontal bars: one group per source, one bar per reason."""
    sources = list(rates)
    reasons = sorted({r for row in rates.values() for r in row})
    fig, axes = _figure(1.5 + 0.2 * max(1, len(sources)) * max(1, len(reasons)), nrows=1, ncols=1)
    ax = axes[0]
    height = 0.8 / max(1, len(reasons))
    for i, reason in enumerate(reasons):
        ax.barh([j + 0.4 - (i + 0.5) * height for j in range(len(sources))],
                [100 * rates[s].get(reason, 0) for s in sources], height=height, label=reason)
    ax.set_yticks(range(len(sources)), [_label(s) for s in sources])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("source")
    ax.set_title(title, loc="left")
    if reasons:
        fig.legend(loc="outside lower center", ncol=min(len(reasons), 5), title="reason")
    else:
        _empty(ax, "pairs")
    return fig


# ---- the page ----

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.35}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right;
vertical-align:top}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
img{display:block;max-width:100%;border:1px solid #eee}code{background:#f5f5f5}
table.text td{text-align:left;max-width:520px;overflow-wrap:anywhere;font-size:90%}.note{color:#555}"""


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.2%}" if v <= 1 else f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else html.escape(str(v))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    attr = f' class="{css}"' if css else ""
    return f"<table{attr}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + body + "</table>"


def _img(name: str, alt: str) -> str:
    return f'<img src="{name}" alt="{html.escape(alt)}">'


def _p(text: str) -> str:
    return f'<p class="note">{text}</p>'


def gather(manifest: Mapping[str, Any], stats: Mapping[str, Any], version_dir: Optional[str] = None,
           tokenizer: Optional[str] = None) -> Dict[str, Any]:
    """Everything the page shows, from the manifest, the stats and (bounded) reads of the version's shards."""
    upstream = upstream_corpus(manifest)
    lengths = (token_lengths(version_dir, manifest, tokenizer) if tokenizer and version_dir
               else word_lengths(stats))
    return {
        "manifest": manifest, "stats": stats, "kind": version_kind(manifest), "upstream": upstream,
        "funnel": funnel(manifest, stats, upstream), "drops": drop_reasons(manifest, upstream),
        "shares": language_shares(stats), "lengths": lengths,
        "examples": example_pairs(version_dir, manifest) if version_dir else {},
        "rejects": reject_sample(version_dir, manifest, upstream) if version_dir else [],
    }


def figures(context: Mapping[str, Any]) -> Dict[str, Any]:
    """{png name: matplotlib Figure}, each of a fixed size (the tests check their text never overlaps)."""
    out = {"report-funnel.png": figure_funnel(context["funnel"]),
           "report-pairs.png": figure_pairs(context["stats"]),
           "report-drops.png": figure_drops(context["drops"]),
           "report-lengths.png": figure_lengths(context["lengths"]),
           "report-languages.png": figure_languages(context["shares"])}
    corpus = context["manifest"] if context["kind"] == "corpus" else context["upstream"]
    if corpus is not None:
        out["report-dedup.png"] = figure_rates(corpus_rates(corpus), "duplicate and decontamination rates",
                                               "% of the source's input pairs dropped")
    if context["kind"] == "filtered":
        keep = {s: {"keep rate": r} for s, r in context["manifest"]["keep_rate"].items()}
        out["report-keep.png"] = figure_rates(keep, "consistency filter keep rate", "% of input pairs kept")
    return out


def _decontamination(context: Mapping[str, Any]) -> List[str]:
    kind, manifest = context["kind"], context["manifest"]
    corpus = manifest if kind == "corpus" else context["upstream"]
    out = ["<h2>Decontamination</h2>"]
    if corpus is None:
        out.append(_p("Not applicable: decontamination runs in the corpus job, and this version was not made "
                      "by it (nor could its input corpus version be read)."))
        return out
    summary = corpus.get("decontamination") or {}
    sets = summary.get("eval_sets") or []
    if not sets:
        out.append(_p("<b>Did not run</b>: the corpus job was given no evaluation set (<code>--decontaminate</code>),"
                      " so no pair was checked against one; zero drops here do not mean the corpus is clean."))
        return out
    out.append(_p(f"Pairs were checked against {len(sets)} evaluation set(s): a pair is dropped when its query or "
                  "passage equals an evaluation query (<code>eval_query</code>) or shares a "
                  f"{int(summary.get('ngram_words', 0))}-word n-gram with an evaluation query or judged passage "
                  "(<code>eval_ngram</code>)."))
    out.append(_table(["evaluation set", "queries", "judged passages", "sha256", "path"],
                      [(posixpath.basename(str(s.get("path", "")).rstrip("/")), s.get("queries"),
                        s.get("judged_passages"), str(s.get("sha256", ""))[:12], s.get("path")) for s in sets]))
    rows = []
    for source, counts in corpus.get("source_counts", {}).items():
        q, g = counts["dropped"].get("eval_query", 0), counts["dropped"].get("eval_ngram", 0)
        rows.append((source, counts["pairs_in"], q, g, _share(q + g, counts["pairs_in"])))
    out.append(_table(["source", "input pairs", "eval_query", "eval_ngram", "dropped"], rows))
    return out


def _examples(context: Mapping[str, Any]) -> List[str]:
    out = ["<h2>Example pairs</h2>",
           _p(f"{EXAMPLES_PER_SOURCE} pairs per source, the smallest blake2b hashes of <code>pair_id</code> among "
              f"its first {SCAN_ROWS:,} pairs (the same every run); texts cut at {QUERY_CHARS} and "
              f"{PASSAGE_CHARS} characters.")]
    rows = [(source, r["subsource"], r["lang"], clip(r["query"], QUERY_CHARS), clip(r["passage"], PASSAGE_CHARS))
            for source, pairs in context["examples"].items() for r in pairs]
    out.append(_table(["source", "subsource", "lang", "query", "passage"], rows, css="text") if rows
               else _p("No pairs to show."))
    return out


def _rejects(context: Mapping[str, Any]) -> List[str]:
    out = ["<h2>A sample of rejects</h2>",
           _p(f"Up to {REJECTS_PER_SOURCE} per stage and source, chosen by hash among the first {SCAN_ROWS:,} rows "
              "of each reject (or rank) shard: malformed input records the source jobs rejected, with a raw snippet, "
              "and, for a filtered version, pairs the consistency filter dropped. Pairs the corpus job dropped "
              "(duplicates, decontamination) are counted above; their text is not kept.")]
    rows = [(r["stage"], r["source"], r["reason"], clip(r.get("detail"), 160),
             clip(f"{posixpath.basename(str(r.get('input_file') or ''))}"
                  + (f":{r['position']}" if r.get("position") is not None else ""), 60),
             clip(r.get("snippet"), SNIPPET_CHARS)) for r in context["rejects"]]
    out.append(_table(["stage", "source", "reason", "detail", "where", "snippet"], rows, css="text") if rows
               else _p("No rejects in this version or its inputs."))
    return out


def render_context(context: Mapping[str, Any]) -> Tuple[str, Dict[str, bytes]]:
    manifest, stats, kind = context["manifest"], context["stats"], context["kind"]
    images = {name: png(fig) for name, fig in figures(context).items()}
    counts, lengths = manifest["counts"], context["lengths"]
    title = f"{manifest['dataset']} {manifest['version']}"
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{kind} version, code {html.escape(str(manifest.get('code_version')))}, schema "
        f"{html.escape(str(manifest.get('schema_version')))}: <b>{counts['pairs']:,}</b> pairs "
        f"from {counts['records_read']:,} {html.escape(records_label(manifest))}. Lengths are counted in "
        f"<b>{html.escape(lengths['unit'])}</b>.</p>",
        "<h2>Funnel per source</h2>",
        _p("Records read and used are the source job's input records (lines, rows, pages); pairs are what it wrote; "
           "then the pairs left after the corpus job's dedup and decontamination, and the pairs the consistency "
           "filter kept. — : the stage is not part of this version or its known inputs."),
        _img("report-funnel.png", "funnel per source"),
        _table(["source", *FUNNEL_STAGES, "kept of pairs"],
               [[s, *row, _share(next((v for v in reversed(row[3:]) if v is not None), row[2] or 0), row[2] or 0)
                 if row[2] and any(v is not None for v in row[3:]) else None]
                for s, row in context["funnel"].items()]),
        "<h2>Pairs per source and subsource</h2>", _img("report-pairs.png", "pairs per source and subsource"),
        _table(["source", "subsource", "pairs", "share of source"],
               [(s, k, n, _share(n, stats["pairs"].get(s, 0)))
                for s in stats["pairs"] for k, n in sorted(stats["subsource"].get(s, {}).items(),
                                                           key=lambda kv: (-kv[1], kv[0]))[:TOP_SUBSOURCES]]
               + [(s, f"({len(subs) - TOP_SUBSOURCES} others)", sum(sorted(subs.values())[:-TOP_SUBSOURCES]),
                   _share(sum(sorted(subs.values())[:-TOP_SUBSOURCES]), stats["pairs"].get(s, 0)))
                  for s, subs in stats["subsource"].items() if len(subs) > TOP_SUBSOURCES]),
    ]
    if kind == "corpus":
        sections.append(_table(["input version", "dataset", "code version", "pairs"],
                               [(i["path"], i.get("dataset"), i.get("code_version"),
                                 sum(i.get("pairs_by_source", {}).values())) for i in manifest["inputs"]]))
    sections += ["<h2>Drop reasons per source</h2>",
                 _p("Source job: input records (lines, rows, pages) each source left out or rejected; corpus job "
                    "and consistency filter: pairs. A filtered version lists its input corpus version's reasons "
                    "too."),
                 _img("report-drops.png", "drop reasons per source"),
                 _table(["source", "stage", "reason", "unit", "count"],
                        [(s, st, r, "records" if st == "source job" else "pairs", n)
                         for s, rows in context["drops"].items() for st, r, n in rows])]
    sections += _decontamination(context)
    corpus = manifest if kind == "corpus" else context["upstream"]
    if corpus is not None:
        rates = corpus_rates(corpus)
        sections += ["<h2>Duplicate and decontamination rates</h2>",
                     _img("report-dedup.png", "duplicate and decontamination rates"),
                     _table(["source"] + list(CORPUS_REASONS), [[s] + [row[r] for r in CORPUS_REASONS]
                                                               for s, row in rates.items()])]
        near = corpus.get("near_duplicates")
        if near:
            sections.append(_p(f"Near duplicates: MinHash LSH, word {near['shingle_words']}-gram shingles, "
                               f"{near['bands']} bands x {near['rows']} rows for Jaccard {near['threshold']}. "
                               "Candidate probability by Jaccard similarity:"))
            sections.append(_table(["Jaccard"] + list(near["candidate_probability"]),
                                   [["P(candidate)"] + list(near["candidate_probability"].values())]))
    head, rows = length_table(lengths)
    unit_note = (f"tokens of the tokenizer given (<code>--tokenizer</code>), special tokens included, as the trainer "
                 f"counts them before truncating queries at {TRAIN_MAX_TOKENS['query']} and passages at "
                 f"{TRAIN_MAX_TOKENS['passage']} tokens (its defaults); over the first {TOKEN_SAMPLE:,} pairs "
                 "of each source" if lengths["over"] is not None else
                 "whitespace words (give <code>--tokenizer PATH</code> to count the trainer's tokens)")
    sections += ["<h2>Query and passage lengths</h2>",
                 _p(f"Unit: {unit_note}. Median and p95 from bins exact below {corpus_stats.FINE_EXACT} and "
                    f"{corpus_stats.FINE_STEPS} per doubling above (within 1/{corpus_stats.FINE_STEPS})."),
                 _img("report-lengths.png", "length distributions"), _table(head, rows),
                 "<h2>Languages</h2>", _img("report-languages.png", "language shares"),
                 _table(["source", "language", "share"], [(s, lang, v) for s, row in context["shares"].items()
                                                          for lang, v in row.items()])]
    if kind == "filtered":
        sections += ["<h2>Consistency keep rate per source</h2>", _img("report-keep.png", "keep rates"),
                     _table(["source", "pairs in", "kept", "keep rate"],
                            [(s, manifest["pairs_in"][s], manifest["pairs_kept"][s], r)
                             for s, r in manifest["keep_rate"].items()])]
    sections += _examples(context) + _rejects(context)
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")
    return page, images


def render(manifest: Mapping[str, Any], stats: Mapping[str, Any], version_dir: Optional[str] = None,
           tokenizer: Optional[str] = None) -> Tuple[str, Dict[str, bytes]]:
    """(report.html text, {png name: bytes})."""
    return render_context(gather(manifest, stats, version_dir, tokenizer))


def write_report(manifest: Mapping[str, Any], stats: Mapping[str, Any], out_dir: str,
                 version_dir: Optional[str] = None, tokenizer: Optional[str] = None) -> str:
    """Write the PNGs, then report.html (last: the page never names an image not yet there).

    Examples and rejects are read from `version_dir` (default `out_dir`: the corpus job writes the report
    into the folder that holds the shards)."""
    page, images = render(manifest, stats, version_dir or out_dir, tokenizer)
    for name, data in images.items():
        versions.write_bytes(versions.join(out_dir, name), data)
    path = versions.join(out_dir, REPORT_NAME)
    versions.write_bytes(path, page.encode("utf-8"))
    return path


def report_version(version_dir: str, out_dir: Optional[str] = None, tokenizer: Optional[str] = None) -> str:
    version_dir = versions.resolve_latest(version_dir)
    fs, fs_path = versions.resolve(version_dir)
    if fs.get_file_info(fs_path).type != versions.pafs.FileType.Directory:
        raise FileNotFoundError(f"{version_dir}: no such folder")
    manifest = versions.read_manifest(version_dir)
    return write_report(manifest, load_stats(version_dir), out_dir or version_dir, version_dir, tokenizer)


def main(argv=None) -> int:
    parser = CommandParser(prog="python -m pipelines.report", description=__doc__)
    parser.add_argument("version_dir", help="a complete version folder (or <folder>/LATEST)")
    parser.add_argument("--output", type=output_path, default=None,
                        help="folder for report.html and its PNGs (default: the version folder)")
    parser.add_argument("--tokenizer", type=existing_path, default=None,
                        help="tokenizer folder (tokenizer.json) or file the trainer uses: lengths in its tokens "
                             "(default: whitespace words)")
    args = parser.parse_args(argv)
    try:
        print(report_version(args.version_dir, args.output, args.tokenizer))
    except (FileNotFoundError, versions.VersionError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
