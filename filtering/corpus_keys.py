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
