"""What the report plots about a version's pairs, as counts that add up across workers.

Each pair contributes one count to a few keys (its source, subsource, language, and the length
bins of its query and passage); counts from any split of the pairs sum to the counts of the
whole, so the corpus job computes them with a Beam combiner and the report can also compute them
by streaming any version's shards. Lengths are whitespace words, binned twice: by powers of two
("query_words", "passage_words", for the dataset card) and finely ("query_len", "passage_len": exact
up to 32, then 16 bins per doubling, so a median or p95 read from them is within 1/16 of the truth).
"""

import collections
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

STATS_NAME = "stats.json"
KINDS = ("pairs", "subsource", "lang", "query_words", "passage_words", "query_len", "passage_len")
FINE_EXACT = 32  # lengths below this are their own bin
FINE_STEPS = 16  # bins per doubling above it
BIN_EDGES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def length_bin(n_words: int) -> str:
    """'0', '1', '2-3', '4-7', ..., '1024+'."""
    if n_words <= 0:
        return "0"
    for low, high in zip(BIN_EDGES, BIN_EDGES[1:]):
        if n_words < high:
            return str(low) if high - low == 1 else f"{low}-{high - 1}"
    return f"{BIN_EDGES[-1]}+"


BIN_LABELS = tuple(["0"] + [length_bin(b) for b in BIN_EDGES])


def fine_bin(n: int) -> int:
    """The lower bound of n's fine bin: n itself below FINE_EXACT, else one of FINE_STEPS bins per doubling."""
    if n < FINE_EXACT:
        return max(0, n)
    octave = n.bit_length() - 1  # 2**octave <= n < 2**(octave + 1)
    step = (1 << octave) // FINE_STEPS
    return n - n % step


def fine_bin_width(low: int) -> int:
    return 1 if low < FINE_EXACT else max(1, (1 << (low.bit_length() - 1)) // FINE_STEPS)


def quantile(histogram: Mapping[str, int], q: float) -> float:
    """The q-quantile of a fine histogram ({str(bin lower bound): n}), interpolated inside its bin; 0 if empty."""
    bins = sorted((int(k), n) for k, n in histogram.items() if n)
    total = sum(n for _, n in bins)
    if not total:
        return 0.0
    target, seen = q * total, 0
    for low, n in bins:
        if seen + n >= target:
            width = fine_bin_width(low)
            return float(low) if width == 1 else low + width * (target - seen) / n
        seen += n
    return float(bins[-1][0])


def pair_stat_keys(source: str, subsource: str, lang: str, query: str, passage: str) -> List[Tuple[str, str, str]]:
    """(kind, source, value) keys one pair counts towards."""
    return stat_keys(source, subsource, lang, len(query.split()), len(passage.split()))


def stat_keys(source: str, subsource: str, lang: str, query_words: int, passage_words: int) -> List[Tuple[str, str, str]]:
    """pair_stat_keys from the query's and the passage's word counts."""
    return [
        ("pairs", source, ""),
        ("subsource", source, subsource or "(none)"),
        ("lang", source, lang or "(unknown)"),
        ("query_words", source, length_bin(query_words)),
        ("passage_words", source, length_bin(passage_words)),
        ("query_len", source, str(fine_bin(query_words))),
        ("passage_len", source, str(fine_bin(passage_words))),
    ]


def count_stats(sources: Sequence[str], subsources: Sequence[str], langs: Sequence[str], queries: Sequence[str],
                passages: Sequence[str]) -> Dict[Tuple[str, str, str], int]:
    """The stats counts of a batch of pairs (columns): the pairs are first counted per distinct
    (source, subsource, lang, query words, passage words), so the keys are built once per
    combination, not once per pair."""
    combos = collections.Counter(zip(sources, subsources, langs, [len(q.split()) for q in queries],
                                     [len(p.split()) for p in passages]))
    counts: Dict[Tuple[str, str, str], int] = {}
    for combo, n in combos.items():
        for key in stat_keys(*combo):
            counts[key] = counts.get(key, 0) + n
    return counts


def nest(counts: Iterable[Tuple[Tuple[str, str, str], int]]) -> Dict[str, Dict[str, Any]]:
    """Flat ((kind, source, value), n) counts -> {kind: {source: {value: n}}} ({"pairs": {source: n}}), sorted."""
    out: Dict[str, Dict[str, Any]] = {kind: {} for kind in KINDS}
    for (kind, source, value), n in counts:
        if kind == "pairs":
            out[kind][source] = out[kind].get(source, 0) + n
        else:
            bucket = out[kind].setdefault(source, {})
            bucket[value] = bucket.get(value, 0) + n
    return {kind: {s: (v if isinstance(v, int) else dict(sorted(v.items()))) for s, v in sorted(by.items())}
            for kind, by in out.items()}


def stats_of_rows(rows: Iterable[Mapping[str, str]]) -> Dict[str, Dict[str, Any]]:
    """The same stats from pair rows in one process (the report on a version without stats.json)."""
    counts: Dict[Tuple[str, str, str], int] = {}
    for row in rows:
        for key in pair_stat_keys(row["source"], row["subsource"], row["lang"], row["query"], row["passage"]):
            counts[key] = counts.get(key, 0) + 1
    return nest(counts.items())
