"""What "the same pair", "the same passage" and "the better pair" mean when sources are merged.

Keys are 128-bit blake2b digests of the normalised text (schemas.pairs.normalize_for_dedup: the
project's one definition of same text): at a billion passages a 64-bit key would make a wrong
duplicate likely somewhere, 128 bits never. The rank orders pairs best first and is total, so
whichever pair a combiner sees first, the same one survives.
"""

import hashlib
from typing import Any, Mapping, Tuple

from schemas.pairs import normalize_for_dedup


def _digest(*texts: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        data = normalize_for_dedup(text).encode("utf-8")
        h.update(b"%d:" % len(data))  # length-prefixed: ("a b", "c") and ("a", "b c") differ
        h.update(data)
    return h.digest()


def pair_text_key(query: str, passage: str) -> bytes:
    """Same key iff the normalised query and the normalised passage are both equal (any source)."""
    return _digest(query, passage)


def passage_key(passage: str) -> bytes:
    """Same key iff the normalised passages are equal."""
    return _digest(passage)


def pair_rank(pair: Mapping[str, Any]) -> Tuple[bool, int, str]:
    """Smaller is better: scored before unscored, higher score first, then the smaller pair_id."""
    score = pair.get("score")
    return (score is None, -(score or 0), pair["pair_id"])


# ---- the same, for a batch of pairs as numpy arrays (the corpus job's columnar stages) ----

_UNSCORED, _SCORED = b"\x01", b"\x00"
_SCORE_BIAS = (1 << 63) - 1


def rank_bytes(score, pair_id: str) -> bytes:
    """pair_rank as bytes that sort the same way (bytewise, shorter first on a common prefix):
    scored before unscored, higher score first (2**63 - 1 - score, big-endian), then the pair_id."""
    flag = _UNSCORED if score is None else _SCORED
    return flag + (_SCORE_BIAS - (score or 0)).to_bytes(8, "big") + pair_id.encode("utf-8")


RANK_PREFIX = 9  # rank_bytes(score, pair_id)[RANK_PREFIX:] is the pair_id


def pair_id_of_rank(rank: bytes) -> str:
    return rank[RANK_PREFIX:].decode("utf-8")


def both_keys(query: str, passage: str) -> Tuple[bytes, bytes]:
    """(pair_text_key, passage_key) of one pair, each text normalised once."""
    q = normalize_for_dedup(query).encode("utf-8")
    p = normalize_for_dedup(passage).encode("utf-8")
    pair, alone = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    pair.update(b"%d:" % len(q))
    pair.update(q)
    for h in (pair, alone):
        h.update(b"%d:" % len(p))
        h.update(p)
    return pair.digest(), alone.digest()


def key_order(keys):
    """The stable argsort of an 'S' array of keys (random digests: numpy's string sort is quick on them,
    the first bytes differ)."""
    import numpy as np

    return np.argsort(keys, kind="stable")


def best_per_key(keys, ranks, *payloads):
    """Numpy arrays -> the row with the smallest rank per key (ties: the first), as (keys, ranks, *payloads),
    keys ascending. Ranks are 'S' arrays of rank_bytes: numpy compares them bytewise, as Python does.
    Ranks are sorted only among rows that share a key: sorting all of them (long common prefixes: the
    flag and score bytes) was the largest numpy cost of the corpus job's combiners."""
    import numpy as np

    if len(keys) == 0:
        return (keys, ranks) + payloads
    order = key_order(keys)
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():  # rows sharing a key: put the smallest rank first (stable, as a rank sort then a key sort)
        shared = np.zeros(len(keys), dtype=bool)
        shared[1:] |= same
        shared[:-1] |= same
        at = np.flatnonzero(shared)
        rows = order[at]
        by_rank = np.argsort(ranks[rows], kind="stable")
        order[at] = rows[by_rank[key_order(keys[rows][by_rank])]]
        ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    pick = order[first]
    return (ordered[first], ranks[pick]) + tuple(p[pick] for p in payloads)


def sum_per_key(keys, counts, *payloads):
    """Numpy arrays -> (distinct keys ascending, summed counts, payloads of each key's first row)."""
    import numpy as np

    if len(keys) == 0:
        return (keys, counts) + payloads
    order = key_order(keys)
    keys = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    totals = np.add.reduceat(counts[order], starts)
    return (keys[starts], totals) + tuple(p[order][starts] for p in payloads)
