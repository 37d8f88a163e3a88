"""One definition of "the same passage" for the pool sample and the consistency filter.

The pool is deduplicated by this hash and the filter leaves out pool entries whose hash equals the
pair's passage hash, so both must normalise and hash text identically: they import it from here.
"""

import hashlib
from typing import Iterable

import numpy as np

from schemas.pairs import normalize_for_dedup


def text_hash(text: str) -> int:
    """64-bit blake2b of the normalised text, as an unsigned int (fits numpy uint64).

    64 bits: among 1.3B passages the chance of any collision is about 5%; a collision can only
    merge two pool candidates or exclude one unrelated pool entry for one pair, both harmless.
    """
    digest = hashlib.blake2b(normalize_for_dedup(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def text_hashes(texts: Iterable[str]) -> np.ndarray:
    """text_hash of each text as a uint64 array (the form the consistency filter takes)."""
    return np.fromiter((text_hash(t) for t in texts), dtype=np.uint64)
