"""The random passage pool the consistency filter ranks against, drawn deterministically by hash.

A bottom-k sample: deduplicate passages by normalised-text hash and keep the N smallest hashes.
Why this sample: it is the same whatever the order of files and rows (a rerun gives the same
pool), samples from two shards merge into the sample of their union (so Beam can combine it per
shard), and it streams with memory bounded by N, so 1.3B passages never sit in memory. Since
blake2b is uniform, the N smallest hashes are a uniform random sample of the distinct passages.
"""

import heapq
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, NamedTuple, Sequence

import numpy as np
import pyarrow as pa

from filtering.text_hash import text_hash
from schemas.versions import open_parquet

POOL_NAME = "pool.parquet"  # in a corpus version: the pool drawn by the corpus job, read by the filter
POOL_COLUMNS = ("passage", "passage_id", "source")

POOL_SCHEMA = pa.schema(
    [
        pa.field("text_hash", pa.uint64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("passage_id", pa.string(), nullable=False),
        pa.field("passage", pa.string(), nullable=False),
    ],
    metadata={"record": "consistency_pool"},
)


class PoolEntry(NamedTuple):
    """One pool passage. Field order is the tie-break among records with the same text hash:
    the smallest (source, passage_id, passage) represents the text, whatever the read order.
    A tuple, so Beam's combiner (pipelines/ccpairs.py) moves it without pickling a class."""

    text_hash: int
    source: str
    passage_id: str
    passage: str


def pool_entry(passage: str, passage_id: str, source: str) -> PoolEntry:
    return PoolEntry(text_hash(passage), source, passage_id, passage)


class BottomKSample:
    """The `size` distinct text hashes that are smallest, each with its representative entry.

    Memory: at most `size` entries (a max-heap of hashes plus a dict hash -> entry).
    """

    def __init__(self, size: int):
        if size < 0:
            raise ValueError("pool size must be >= 0")
        self.size = int(size)
        self._heap: List[int] = []  # negated hashes: heap[0] is minus the largest kept hash
        self._best: Dict[int, PoolEntry] = {}

    def offer(self, entry: PoolEntry) -> None:
        """Consider one entry; keeps it iff its hash is among the `size` smallest seen."""
        current = self._best.get(entry.text_hash)
        if current is not None:
            if entry < current:
                self._best[entry.text_hash] = entry
            return
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, -entry.text_hash)
        elif self.size and entry.text_hash < -self._heap[0]:
            evicted = -heapq.heapreplace(self._heap, -entry.text_hash)
            del self._best[evicted]
        else:
            return
        self._best[entry.text_hash] = entry

    def offer_passage(self, passage: str, passage_id: str, source: str) -> None:
        self.offer(pool_entry(passage, passage_id, source))

    def merge(self, other: "BottomKSample") -> "BottomKSample":
        """Fold another shard's sample in; the result is the sample of both inputs together."""
        for entry in other._best.values():
            self.offer(entry)
        return self

    def entries(self) -> List[PoolEntry]:
        """The sample, smallest hash first."""
        return sorted(self._best.values())

    def __getstate__(self):
        """Plain tuples: Beam pickles a combiner's sample between workers, and a NamedTuple pickles per entry
        through its class (__getnewargs__)."""
        return self.size, self._heap, [tuple(entry) for entry in self._best.values()]

    def __setstate__(self, state):
        self.size, self._heap, entries = state
        self._best = {entry[0]: PoolEntry(*entry) for entry in entries}


def bottom_k_indices(hashes: np.ndarray, sources: Sequence[str], passage_ids: Sequence[str], passages: Sequence[str],
                     size: int) -> List[tuple]:
    """(text_hash, source, passage_id, row) of the entries a BottomKSample(size) keeps when offered every row
    (smallest hash first), from the rows' text hashes (uint64) with numpy: one sort, and Python only for the
    kept rows (and for the rows that share a hash, where the smallest entry represents it)."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.empty(0, np.int64)
    ends = np.r_[starts[1:], len(ordered)]
    values, rows, out = ordered.tolist(), order.tolist(), []
    for a, b in zip(starts[:size].tolist(), ends[:size].tolist()):
        if b - a == 1:
            i = rows[a]
        else:
            i = min(rows[a:b], key=lambda r: (sources[r], passage_ids[r], passages[r]))
        out.append((values[a], sources[i], passage_ids[i], i))
    return out


def bottom_k_rows(hashes: np.ndarray, sources: Sequence[str], passage_ids: Sequence[str], passages: Sequence[str],
                  size: int) -> List[tuple]:
    """The entries a BottomKSample(size) keeps when offered every row, as plain tuples, smallest hash first."""
    return [(h, s, p, passages[i]) for h, s, p, i in bottom_k_indices(hashes, sources, passage_ids, passages, size)]


class PoolIdSample:
    """BottomKSample without the passages: per kept text hash its best (source, passage_id) and where the
    rows with that (source, passage_id) lie (locations, e.g. (shard, row) of a written shard), so a sample
    of the pool_size smallest hashes holds a few ids per entry, however many samples a merge takes; the
    passages of the winners are read once, where the pool is written (the passage is the last tie-break:
    the locations of a tie are all kept, usually one).

    Memory: at most `size` entries."""

    def __init__(self, size: int):
        if size < 0:
            raise ValueError("pool size must be >= 0")
        self.size = int(size)
        self._heap: List[int] = []  # negated hashes
        self._best: Dict[int, tuple] = {}  # hash -> (source, passage_id, locations tuple)

    def offer(self, key: int, source: str, passage_id: str, locations: tuple) -> None:
        current = self._best.get(key)
        if current is not None:
            if (source, passage_id) < current[:2]:
                self._best[key] = (source, passage_id, tuple(locations))
            elif (source, passage_id) == current[:2]:
                self._best[key] = (source, passage_id, tuple(sorted(set(current[2]) | set(locations))))
            return
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, -key)
        elif self.size and key < -self._heap[0]:
            evicted = -heapq.heapreplace(self._heap, -key)
            del self._best[evicted]
        else:
            return
        self._best[key] = (source, passage_id, tuple(locations))

    def merge(self, other: "PoolIdSample") -> "PoolIdSample":
        for key, (source, passage_id, locations) in other._best.items():
            self.offer(key, source, passage_id, locations)
        return self

    def entries(self) -> List[tuple]:
        """(key, source, passage_id, locations), smallest hash first."""
        return sorted((h,) + rest for h, rest in self._best.items())


@dataclass(frozen=True)
class Pool:
    """A drawn pool, smallest hash first: the passages to embed and the hashes the filter needs."""

    entries: Sequence[PoolEntry]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def texts(self) -> List[str]:
        return [e.passage for e in self.entries]

    @property
    def hashes(self) -> np.ndarray:
        return np.array([e.text_hash for e in self.entries], dtype=np.uint64)

    def to_table(self) -> pa.Table:
        """As a POOL_SCHEMA table, so a drawn pool can be written next to the filtered corpus."""
        return pa.Table.from_pylist([e._asdict() for e in self.entries], schema=POOL_SCHEMA)


def iter_pair_passages(paths: Iterable[str], batch_size: int = 65536) -> Iterator[PoolEntry]:
    """Stream (passage, passage_id, source) from pair Parquet files (local or URIs) as hashed entries."""
    for path in paths:
        parquet = open_parquet(path)
        for batch in parquet.iter_batches(batch_size=batch_size, columns=list(POOL_COLUMNS)):
            columns = batch.to_pydict()
            for passage, passage_id, source in zip(
                columns["passage"], columns["passage_id"], columns["source"]
            ):
                yield pool_entry(passage, passage_id, source)


def sample_pool(paths: Iterable[str], size: int, batch_size: int = 65536) -> Pool:
    """Deterministic pool of `size` distinct passages (by normalised text) from pair files."""
    sample = BottomKSample(size)
    for entry in iter_pair_passages(paths, batch_size=batch_size):
        sample.offer(entry)
    return Pool(entries=tuple(sample.entries()))
