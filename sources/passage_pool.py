"""pool.parquet of a corpus version: the consistency filter's random passage pool, drawn once.

The same sample, the same hash and the same file format as filtering/pool.py (the filter reads
this file instead of rescanning every passage): the `size` distinct normalised passages with the
smallest 64-bit blake2b text hash, each represented by its smallest (source, passage_id, passage).
Kept here, Beam-free, so the corpus job can build it as a combiner (pipelines/ccpairs.py) without
importing the filter; tests/sources/test_passage_pool.py checks it equals filtering.pool's.
"""

import hashlib
from typing import Dict, Iterable, List, Tuple

import pyarrow as pa

from schemas.pairs import normalize_for_dedup

POOL_NAME = "pool.parquet"
POOL_SCHEMA = pa.schema(
    [
        pa.field("text_hash", pa.uint64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("passage_id", pa.string(), nullable=False),
        pa.field("passage", pa.string(), nullable=False),
    ],
    metadata={"record": "consistency_pool"},
)

PoolEntry = Tuple[int, str, str, str]  # (text_hash, source, passage_id, passage): tuple order is the tie-break


def text_hash(text: str) -> int:
    """64-bit blake2b of the normalised text (filtering/text_hash.py's definition)."""
    digest = hashlib.blake2b(normalize_for_dedup(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def pool_entry(passage: str, passage_id: str, source: str) -> PoolEntry:
    return (text_hash(passage), source, passage_id, passage)


class BottomK:
    """The `size` smallest distinct text hashes with their smallest entry; mergeable in any order.

    Memory: at most 2 x size entries (trimmed back to `size` when it doubles), so a combiner's
    accumulator stays bounded however many passages pass through it.
    """

    def __init__(self, size: int, entries: Iterable[PoolEntry] = ()):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, not {size}")
        self.size = size
        self.best: Dict[int, PoolEntry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: PoolEntry) -> "BottomK":
        if not self.size:
            return self
        current = self.best.get(entry[0])
        if current is None or entry < current:
            self.best[entry[0]] = entry
            if len(self.best) >= 2 * self.size:
                self._trim()
        return self

    def merge(self, other: "BottomK") -> "BottomK":
        for entry in other.best.values():
            self.add(entry)
        return self

    def _trim(self) -> None:
        keep = sorted(self.best)[: self.size]
        self.best = {h: self.best[h] for h in keep}

    def entries(self) -> List[PoolEntry]:
        """The sample, smallest hash first."""
        self._trim()
        return [self.best[h] for h in sorted(self.best)]


def pool_table(entries: Iterable[PoolEntry]) -> pa.Table:
    rows = list(entries)
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(POOL_SCHEMA.names)}, schema=POOL_SCHEMA)
