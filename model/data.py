"""Training batches streamed from pair Parquet shards: one source per batch, deterministic, resumable.

- Input: version dirs `<out>/<source>/<version>/` (or a folder above them). A version is read only
  when its manifest.json exists (written last by the pipelines); an incomplete one is refused when
  named directly and skipped with a warning when found by walking a parent folder. What a complete
  version is, and how its shards are listed and checked, is schemas/versions.py.
- Each batch comes from a single source, as in E5: in-batch negatives from the same domain are
  harder, and the model cannot solve the batch by telling sources apart. The source of batch n is
  drawn from the mixture weights (default: proportional to size) by a generator seeded with
  (seed, n), so the choice needs no state.
- Within a source: shards in a seeded order per epoch, row groups in a seeded order per shard, rows
  shuffled inside the row group. Only one row group per source is in memory.
- A row whose query or passage (case/whitespace-normalised) already is in the batch is skipped:
  it would be a false negative for the other row.
- state_dict() is the position (batch index + per-source cursor); load_state_dict() continues exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from schemas import versions
from schemas.pairs import normalize_for_dedup
from schemas.versions import IncompleteVersionError  # noqa: F401  (raised by find_version_dirs; imported from here)


@dataclasses.dataclass(frozen=True)
class Shard:
    path: Union[pathlib.Path, str]  # a local path, or a URI (gs://, s3://, file://) as given
    row_group_rows: Tuple[int, ...]
    source: str = ""  # the source its rows come from (a batch never mixes sources)
    size: int = 0  # bytes

    @property
    def rows(self) -> int:
        return sum(self.row_group_rows)


@dataclasses.dataclass
class Source:
    name: str
    shards: List[Shard]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)


@dataclasses.dataclass
class PairBatch:
    source: str
    queries: List[str]
    passages: List[str]
    pair_ids: List[str]
    hard_negatives: Optional[List[str]] = None

    def __len__(self) -> int:
        return len(self.queries)


def _as_path(path: str) -> Union[pathlib.Path, str]:
    """Local paths as pathlib.Path (what callers have always had); URIs stay strings."""
    return path if versions.is_uri(path) else pathlib.Path(path)


def find_version_dirs(root: os.PathLike | str) -> List[Union[pathlib.Path, str]]:
    """Complete version dirs at or below root (schemas.versions.find_version_dirs)."""
    return [_as_path(p) for p in versions.find_version_dirs(root)]


def read_version(version_dir: os.PathLike | str) -> Tuple[str, List[Shard]]:
    """(dataset name, non-empty shards) of one complete version dir, as its manifest lists them."""
    manifest = versions.read_manifest(version_dir)
    shards = [Shard(_as_path(s.path), s.row_group_rows, s.source, s.size)
              for s in versions.pair_shards(version_dir, manifest) if s.rows]
    return str(manifest["dataset"]), shards


def discover_sources(dirs: Sequence[os.PathLike | str]) -> Dict[str, Source]:
    """Sources by name (each shard's source); several versions of one source form one source."""
    sources: Dict[str, Source] = {}
    for root in dirs:
        for version_dir in find_version_dirs(root):
            _, shards = read_version(version_dir)
            for shard in shards:
                sources.setdefault(shard.source, Source(shard.source, [])).shards.append(shard)
    sources = {k: v for k, v in sorted(sources.items()) if v.rows}
    if not sources:
        raise ValueError(f"no pairs found in {list(map(str, dirs))}")
    return sources


def stable_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def dedup_key(text: str) -> bytes:
    return hashlib.blake2b(normalize_for_dedup(text).encode("utf-8"), digest_size=12).digest()


class SourceCursor:
    """Position in one source's endless, seeded stream of rows; holds one row group in memory."""

    def __init__(self, source: Source, seed: int, columns: Sequence[str]):
        self.source = source
        self.seed = seed
        self.columns = list(columns)
        self.key = stable_int(source.name)
        self.epoch = 0
        self.shard_pos = 0  # index into this epoch's shard order
        self.group_pos = 0  # index into the shard's row-group order
        self.offset = 0  # next row inside the (shuffled) row group
        self._rows: Optional[List[tuple]] = None
        self._rows_at: Optional[Tuple[int, int, int]] = None

    def _perm(self, n: int, *path: int) -> np.ndarray:
        return np.random.default_rng([self.seed, self.key, *path]).permutation(n)

    def _load(self) -> List[tuple]:
        at = (self.epoch, self.shard_pos, self.group_pos)
        if self._rows_at != at:
            shard_index = int(self._perm(len(self.source.shards), self.epoch)[self.shard_pos])
            shard = self.source.shards[shard_index]
            group = int(self._perm(len(shard.row_group_rows), self.epoch, shard_index)[self.group_pos])
            table = versions.open_parquet(shard.path).read_row_group(group, columns=self.columns)
            cols = [table.column(c).to_pylist() for c in self.columns]
            order = self._perm(table.num_rows, self.epoch, shard_index, group)
            self._rows = [tuple(col[i] for col in cols) for i in order]
            self._rows_at = at
        return self._rows

    def next_row(self) -> tuple:
        rows = self._load()
        row = rows[self.offset]
        self.offset += 1
        if self.offset == len(rows):
            self._advance_group()
        return row

    def _advance_group(self) -> None:
        self.offset = 0
        self.group_pos += 1
        shard_index = int(self._perm(len(self.source.shards), self.epoch)[self.shard_pos])
        if self.group_pos == len(self.source.shards[shard_index].row_group_rows):
            self.group_pos = 0
            self.shard_pos += 1
            if self.shard_pos == len(self.source.shards):
                self.shard_pos = 0
                self.epoch += 1

    def state_dict(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "shard": self.shard_pos, "row_group": self.group_pos, "offset": self.offset}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.epoch, self.shard_pos = int(state["epoch"]), int(state["shard"])
        self.group_pos, self.offset = int(state["row_group"]), int(state["offset"])
        self._rows_at = None


class PairBatcher:
    """Endless iterator of single-source batches of distinct queries and passages."""

    def __init__(
        self,
        dirs: Sequence[os.PathLike | str],
        batch_size: int,
        seed: int = 0,
        weights: Optional[Mapping[str, float]] = None,
        hard_negative_column: Optional[str] = None,
    ):
        if batch_size < 2:
            raise ValueError("in-batch negatives need batch_size >= 2")
        self.sources = discover_sources(dirs)
        self.batch_size = batch_size
        self.seed = seed
        self.hard_negative_column = hard_negative_column
        self.names = list(self.sources)
        self.weights = self._normalised_weights(weights)
        columns = ["query", "passage", "pair_id"] + ([hard_negative_column] if hard_negative_column else [])
        self.cursors = {n: SourceCursor(s, seed, columns) for n, s in self.sources.items()}
        self.batch_index = 0
        self.skipped_duplicates = 0
        self.short_batches = 0  # batches cut short because their source has fewer distinct pairs

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.sources.values())

    def _normalised_weights(self, weights: Optional[Mapping[str, float]]) -> np.ndarray:
        if weights is None:
            raw = np.array([self.sources[n].rows for n in self.names], dtype=np.float64)
        else:
            unknown = set(weights) - set(self.names)
            missing = set(self.names) - set(weights)
            if unknown or missing:
                raise ValueError(f"source weights: unknown {sorted(unknown)}, missing {sorted(missing)}; "
                                 f"sources are {self.names}")
            raw = np.array([float(weights[n]) for n in self.names], dtype=np.float64)
        if (raw < 0).any() or raw.sum() <= 0:
            raise ValueError("source weights must be >= 0 and not all zero")
        return raw / raw.sum()

    def choose_source(self, batch_index: int) -> str:
        rng = np.random.default_rng([self.seed, batch_index, 0x50C])
        return self.names[int(rng.choice(len(self.names), p=self.weights))]

    def next_batch(self) -> PairBatch:
        name = self.choose_source(self.batch_index)
        cursor = self.cursors[name]
        rows: List[tuple] = []
        seen_queries, seen_passages = set(), set()
        scanned, limit = 0, self.sources[name].rows + self.batch_size
        while len(rows) < self.batch_size:
            if scanned >= limit:
                if len(rows) >= 2:  # a source smaller than the batch gives all it has, once per batch
                    self.short_batches += 1
                    break
                raise ValueError(f"source {name!r} has fewer than 2 distinct pairs")
            row = cursor.next_row()
            scanned += 1
            q, p = dedup_key(row[0]), dedup_key(row[1])
            if q in seen_queries or p in seen_passages:
                self.skipped_duplicates += 1
                continue
            seen_queries.add(q)
            seen_passages.add(p)
            rows.append(row)
        self.batch_index += 1
        return PairBatch(
            source=name,
            queries=[r[0] for r in rows],
            passages=[r[1] for r in rows],
            pair_ids=[r[2] for r in rows],
            hard_negatives=[r[3] for r in rows] if self.hard_negative_column else None,
        )

    def __iter__(self) -> Iterator[PairBatch]:
        while True:
            yield self.next_batch()

    def state_dict(self) -> Dict:
        return {
            "batch_index": self.batch_index,
            "skipped_duplicates": self.skipped_duplicates,
            "short_batches": self.short_batches,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "cursors": {n: c.state_dict() for n, c in self.cursors.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        if state["seed"] != self.seed or state["batch_size"] != self.batch_size:
            raise ValueError("resuming with a different seed or batch size would not continue the same stream")
        if set(state["cursors"]) != set(self.cursors):
            raise ValueError(f"checkpoint sources {sorted(state['cursors'])} != current {sorted(self.cursors)}")
        self.batch_index = int(state["batch_index"])
        self.skipped_duplicates = int(state["skipped_duplicates"])
        self.short_batches = int(state.get("short_batches", 0))
        for name, cursor_state in state["cursors"].items():
            self.cursors[name].load_state_dict(cursor_state)
