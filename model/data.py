"""Training batches streamed from pair Parquet shards: one source per batch, deterministic, resumable.

- Input: version dirs `<out>/<source>/<version>/` (or a folder above them). A version is read only
  when its manifest.json exists (written last by the pipelines); an incomplete one is refused when
  named directly and skipped with a warning when found by walking a parent folder. What a complete
  version is, and how its shards are listed and checked, is schemas/versions.py.
- Which versions (choose_versions): below a folder, only the latest complete version of each
  dataset folder (the one its LATEST names, else schemas.versions.latest_version), logged with the
  ones left out, because a rerun
  writes a new version of the same pairs and training on both would see every pair twice. Every
  source's pairs must then come from one version, and extracted versions never mix with filtered
  ones (a filtered version holds a subset of the same sources' pairs): otherwise the choice is
  refused, naming the versions, and the user names the version dirs to train on.
- The shards chosen are recorded in state_dict(): a resumed run trains on exactly those, whatever a
  new walk of the folders would find (PairBatcher.from_state).
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

import collections
import dataclasses
import hashlib
import logging
import os
import pathlib
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from schemas import versions
from schemas.pairs import normalize_for_dedup
from schemas.versions import IncompleteVersionError  # noqa: F401  (raised by find_version_dirs; imported from here)

log = logging.getLogger(__name__)

# Datasets whose versions hold filtered pairs (filtering.filter_pairs.DATASET writes "consistency").
FILTERED_DATASETS = frozenset({"consistency"})


class VersionChoiceError(ValueError):
    """The versions under --pairs do not name one version per source (or mix filtered and extracted)."""


@dataclasses.dataclass(frozen=True)
class Shard:
    path: Union[pathlib.Path, str]  # a local path, or a URI (gs://, s3://, file://) as given
    row_group_rows: Tuple[int, ...]
    source: str = ""  # the source its rows come from (a batch never mixes sources)
    size: int = 0  # bytes

    @property
    def rows(self) -> int:
        return sum(self.row_group_rows)

    def to_dict(self) -> Dict:
        return {"path": str(self.path), "row_group_rows": list(self.row_group_rows), "source": self.source,
                "size": self.size}

    @classmethod
    def from_dict(cls, values: Mapping) -> "Shard":
        return cls(_as_path(values["path"]), tuple(int(r) for r in values["row_group_rows"]),
                   str(values["source"]), int(values["size"]))


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


def _absolute(path: str) -> Union[pathlib.Path, str]:
    """Local paths made absolute (a resumed run may start in another folder); URIs as given."""
    return path if versions.is_uri(path) else pathlib.Path(os.path.abspath(path))


def find_version_dirs(root: os.PathLike | str) -> List[Union[pathlib.Path, str]]:
    """Complete version dirs at or below root (schemas.versions.find_version_dirs)."""
    return [_as_path(p) for p in versions.find_version_dirs(root)]


def _dirname(path: str) -> str:
    path = os.fspath(path).rstrip("/")
    return path.rsplit("/", 1)[0] if versions.is_uri(path) else os.path.dirname(path)


def latest_of(folder: str) -> Optional[str]:
    """The version a dataset folder's LATEST names (a scheduled run's last whole corpus), else its
    latest complete version (schemas.versions.latest_version: name order, timestamps oldest first)."""
    pointed = versions.read_latest(folder)
    if pointed and versions.is_complete(versions.join(folder, pointed)):
        return pointed
    return versions.latest_version(_dirname(folder), versions.base_name(folder))


def latest_versions(root: os.PathLike | str) -> List[str]:
    """The latest complete version of each dataset folder at or below root; root itself when it is one
    (a `<folder>/LATEST` pointer file stands for the version it names)."""
    root = versions.resolve_latest(root)
    found = versions.find_version_dirs(root)
    if found == [os.fspath(root)]:
        return found
    by_folder: Dict[str, List[str]] = collections.defaultdict(list)
    for version_dir in found:
        by_folder[_dirname(version_dir)].append(version_dir)
    chosen = []
    for folder, candidates in sorted(by_folder.items()):
        latest = latest_of(folder)
        pick = versions.join(folder, latest) if latest else candidates[-1]
        left_out = [versions.base_name(c) for c in candidates if c != pick]
        if left_out:
            log.warning("--pairs %s: %s: using version %s, the latest complete one (left out: %s)",
                        os.fspath(root), versions.base_name(folder), versions.base_name(pick), ", ".join(left_out))
        chosen.append(pick)
    return chosen


def choose_versions(roots: Sequence[os.PathLike | str]) -> List[Union[pathlib.Path, str]]:
    """The version dirs to read for --pairs: named ones as they are, the latest per dataset folder
    below a named folder; refused (VersionChoiceError) when a source would come from two versions
    or extracted and filtered versions would mix."""
    chosen: List[str] = []
    for root in roots:
        for version_dir in latest_versions(root):
            if version_dir not in chosen:
                chosen.append(version_dir)
    refuse_mixed_versions(chosen)
    for version_dir in chosen:
        log.info("training data: %s", version_dir)
    return [_as_path(p) for p in chosen]


def refuse_mixed_versions(version_dirs: Sequence[str]) -> None:
    """One version per source, and never extracted with filtered pairs (see the module docstring)."""
    by_source: Dict[str, List[str]] = collections.defaultdict(list)
    filtered, extracted = [], []
    for version_dir in version_dirs:
        manifest = versions.read_manifest(version_dir)
        (filtered if manifest.get("dataset") in FILTERED_DATASETS else extracted).append(str(version_dir))
        for source in sorted({s.source for s in versions.pair_shards(version_dir, manifest)}):
            by_source[source].append(str(version_dir))
    if filtered and extracted:
        raise VersionChoiceError(
            f"--pairs mixes extracted versions ({', '.join(extracted)}) with filtered ones "
            f"({', '.join(filtered)}): name the version dirs to train on")
    for source, dirs in sorted(by_source.items()):
        if len(dirs) > 1:
            raise VersionChoiceError(
                f"--pairs: source {source!r} is in {len(dirs)} versions ({', '.join(dirs)}); its pairs would be "
                "read more than once: name one version dir per source")


def read_version(version_dir: os.PathLike | str) -> Tuple[str, List[Shard]]:
    """(dataset name, non-empty shards) of one complete version dir, as its manifest lists them."""
    manifest = versions.read_manifest(version_dir)
    shards = [Shard(_absolute(s.path), s.row_group_rows, s.source, s.size)
              for s in versions.pair_shards(version_dir, manifest) if s.rows]
    return str(manifest["dataset"]), shards


def discover_sources(dirs: Sequence[os.PathLike | str]) -> Dict[str, Source]:
    """Sources by name (each shard's source) over the versions choose_versions picks."""
    sources: Dict[str, Source] = {}
    for version_dir in choose_versions(dirs):
        _, shards = read_version(version_dir)
        for shard in shards:
            sources.setdefault(shard.source, Source(shard.source, [])).shards.append(shard)
    sources = {k: v for k, v in sorted(sources.items()) if v.rows}
    if not sources:
        raise ValueError(f"no pairs found in {list(map(str, dirs))}")
    return sources


def sources_from_record(record: Mapping[str, Sequence[Mapping]]) -> Dict[str, Source]:
    """Sources as a checkpoint recorded them, each shard checked to still hold the same row groups."""
    sources = {}
    for name, shards in sorted(record.items()):
        listed = [Shard.from_dict(s) for s in shards]
        for shard in listed:
            check_shard_unchanged(shard)
        sources[name] = Source(name, listed)
    return sources


def check_shard_unchanged(shard: Shard) -> None:
    try:
        meta = versions.open_parquet(shard.path).metadata
    except (OSError, ValueError) as err:
        raise ValueError(f"recorded shard {shard.path} cannot be read ({err})") from None
    rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    if rows != shard.row_group_rows:
        raise ValueError(f"recorded shard {shard.path} changed: row groups {list(rows)}, "
                         f"recorded {list(shard.row_group_rows)}")


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
        sources: Optional[Mapping[str, Source]] = None,
    ):
        """`sources` (instead of walking `dirs`): the exact shards to read, e.g. a checkpoint's."""
        if batch_size < 2:
            raise ValueError("in-batch negatives need batch_size >= 2")
        self.sources = dict(sources) if sources is not None else discover_sources(dirs)
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
        self.batches_by_source = {n: 0 for n in self.names}  # drawn so far: what each source gave training

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.sources.values())

    def sources_under_one_batch(self) -> Dict[str, int]:
        """Sources with fewer pairs than one batch -> their pairs: each of their batches is all of them,
        short, with fewer in-batch negatives, the same rows every time (Common Crawl's 49 pairs at 64)."""
        return {n: s.rows for n, s in self.sources.items() if s.rows < self.batch_size}

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
        self.batches_by_source[name] += 1
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

    @classmethod
    def from_state(cls, state: Mapping, batch_size: int, seed: int = 0,
                   weights: Optional[Mapping[str, float]] = None,
                   hard_negative_column: Optional[str] = None) -> "PairBatcher":
        """The batcher a checkpoint recorded: its shards (checked unchanged on disk), at its position."""
        if "shards" not in state:
            raise ValueError("the checkpoint does not record its shards")
        batcher = cls([], batch_size, seed, weights, hard_negative_column, sources=sources_from_record(state["shards"]))
        batcher.load_state_dict(state)
        return batcher

    def shard_record(self) -> Dict[str, List[Dict]]:
        """Every source's shards in the order the cursors index them."""
        return {name: [shard.to_dict() for shard in source.shards] for name, source in self.sources.items()}

    def state_dict(self) -> Dict:
        """The shards read (shard_record) and the position in them (position)."""
        return {"shards": self.shard_record(), **self.position()}

    def position(self) -> Dict:
        """Where the stream is: small, so model.train snapshots it after every batch it draws ahead."""
        return {
            "batch_index": self.batch_index,
            "skipped_duplicates": self.skipped_duplicates,
            "short_batches": self.short_batches,
            "batches_by_source": dict(self.batches_by_source),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "cursors": {n: c.state_dict() for n, c in self.cursors.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        if state["seed"] != self.seed or state["batch_size"] != self.batch_size:
            raise ValueError("resuming with a different seed or batch size would not continue the same stream")
        if set(state["cursors"]) != set(self.cursors):
            raise ValueError(f"checkpoint sources {sorted(state['cursors'])} != current {sorted(self.cursors)}")
        if "shards" in state and state["shards"] != self.shard_record():
            raise ValueError("the checkpoint trained on other shards than these (PairBatcher.from_state reads its own)")
        self.batch_index = int(state["batch_index"])
        self.skipped_duplicates = int(state["skipped_duplicates"])
        self.short_batches = int(state.get("short_batches", 0))
        self.batches_by_source = {n: int(state.get("batches_by_source", {}).get(n, 0)) for n in self.names}
        for name, cursor_state in state["cursors"].items():
            self.cursors[name].load_state_dict(cursor_state)
