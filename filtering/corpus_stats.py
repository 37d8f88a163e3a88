"""What the report plots about a version's pairs, as counts that add up across workers.

Each pair contributes one count to a few keys (its source, subsource, language, and the length
bins of its query and passage); counts from any split of the pairs sum to the counts of the
whole, so the corpus job computes them with a Beam combiner and the report can also compute them
by streaming any version's shards. Lengths are whitespace words, binned by powers of two.
"""

from typing import Any, Dict, Iterable, List, Mapping, Tuple

STATS_NAME = "stats.json"
KINDS = ("pairs", "subsource", "lang", "query_words", "passage_words")
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


def pair_stat_keys(source: str, subsource: str, lang: str, query: str, passage: str) -> List[Tuple[str, str, str]]:
    """(kind, source, value) keys one pair counts towards."""
    return [
        ("pairs", source, ""),
        ("subsource", source, subsource or "(none)"),
        ("lang", source, lang or "(unknown)"),
        ("query_words", source, length_bin(len(query.split()))),
        ("passage_words", source, length_bin(len(passage.split()))),
    ]


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
