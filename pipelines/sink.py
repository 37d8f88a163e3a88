"""The versioned sink: <output>/<source>/<version>/{pairs,rejects}-SSSSS-of-NNNNN.parquet + manifest.json.

Shards are made deterministic: each row goes to shard hash(key) % N and rows are sorted by key
inside a shard, so a rerun on the same input writes byte-identical files (and a retried bundle
just rewrites the same bytes). manifest.json is written after every shard, and a version without
it is incomplete. Writing into a complete version is refused unless --overwrite. The Beam
transforms live here; the folder format (naming, atomic writes, the manifest) is schemas.versions.
"""

import hashlib
import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

import schemas.manifest
from pipelines.accounting import CountOutcomes, pair_of_row, pair_row
from schemas import versions
from schemas.pairs import PAIR_SCHEMA
from schemas.rejects import REJECT_SCHEMA

DEFAULT_ROWS_PER_SHARD = 200_000
REJECT_ROWS_PER_SHARD = 1_000_000
MAX_ROWS_PER_SHARD = 500_000  # a shard is sorted in one worker's memory: more shards, never bigger ones
ARROW_BATCH_ROWS = 20_000  # rows turn into Arrow batches as they stream in, not one list of dicts
PAIR_SORT = [("pair_id", "ascending")]
REJECT_SORT = [("input_file", "ascending"), ("position", "ascending"), ("snippet", "ascending")]


def shard_of(key: str, num_shards: int) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % num_shards


def pair_sort_key(pair: Mapping[str, Any]) -> str:
    return pair["pair_id"]


def pair_row_sort_key(row: Tuple) -> str:
    """pair_sort_key of a pair as pipelines.accounting.pair_row writes it (pair_id is its first column)."""
    return row[0]


def reject_sort_key(reject: Mapping[str, Any]) -> str:
    position = reject["position"]
    return f"{reject['input_file']}\x1f{position if position is not None else -1:015d}\x1f{reject['snippet']}"


def shard_count(rows: int, fixed: int, per_shard: int) -> int:
    """--num_shards (or one shard per `per_shard` rows), raised so that no shard exceeds MAX_ROWS_PER_SHARD."""
    wanted = fixed or math.ceil(rows / per_shard)
    return max(1, wanted, math.ceil(rows / MAX_ROWS_PER_SHARD))


def sorted_table(rows: Iterable[Optional[Mapping[str, Any]]], schema: pa.Schema, sort: List[Tuple[str, str]]) -> pa.Table:
    """Rows (None placeholders skipped) as one Arrow table sorted by `sort`: the rows stream into
    Arrow batches, so a shard's peak memory is its columnar size, not a list of Python dicts."""
    batches, chunk = [], []
    for row in rows:
        if row is None:
            continue
        chunk.append(row)
        if len(chunk) >= ARROW_BATCH_ROWS:
            batches.append(pa.Table.from_pylist(chunk, schema=schema))
            chunk = []
    if chunk or not batches:
        batches.append(pa.Table.from_pylist(chunk, schema=schema))
    table = pa.concat_tables(batches)
    keys = pa.table({name: _nulls_first(table.column(name)) for name, _ in sort})
    return table.take(pc.sort_indices(keys, sort_keys=sort))


def _nulls_first(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Nulls as the smallest value (-1, ""), as reject_sort_key orders them; no pyarrow-version-specific options."""
    if column.null_count == 0:
        return column
    return pc.fill_null(column, -1 if pa.types.is_integer(column.type) else "")


class _WriteShard(beam.DoFn):
    def __init__(self, directory: str, prefix: str, schema: pa.Schema, sort: List[Tuple[str, str]],
                 unpack: Optional[Callable[[Any], Mapping]] = None):
        self._directory, self._prefix, self._schema, self._sort = directory, prefix, schema, sort
        self._unpack = unpack

    def process(self, element, num_shards):
        index, rows = element
        name = versions.shard_name(self._prefix, index, num_shards)
        if self._unpack is not None:
            rows = (None if row is None else self._unpack(row) for row in rows)
        table = sorted_table(rows, self._schema, self._sort)
        yield {"path": name, "rows": versions.write_table(versions.join(self._directory, name), table)}


class _WriteEmptyShards(beam.DoFn):
    """num_shards -> the shards of no row (an empty table each), given the shards written."""

    def __init__(self, writer: _WriteShard, prefix: str):
        self._writer, self._prefix = writer, prefix

    def process(self, num_shards, written):
        names = {shard["path"] for shard in written}
        for index in range(num_shards):
            if versions.shard_name(self._prefix, index, num_shards) not in names:
                yield from self._writer.process((index, [None]), num_shards)


class WriteShards(beam.PTransform):
    """Rows -> deterministic Parquet shards; outputs one {"path", "rows"} per shard written.

    `num_shards=0` picks ceil(rows / rows_per_shard), at least 1; no shard holds more than
    MAX_ROWS_PER_SHARD. Zero rows still give one (empty) shard, so every version has a readable
    schema. `sort_key` (a string per row) picks the shard; `sort` (Arrow columns) orders its rows.
    """

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, sort_key: Callable[[Mapping], str],
                 sort: List[Tuple[str, str]], num_shards: int = 0, rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
                 pack: Optional[Callable[[Mapping], Any]] = None, unpack: Optional[Callable[[Any], Mapping]] = None):
        super().__init__()
        self._directory, self._prefix, self._schema, self._sort = directory, prefix, schema, sort
        self._sort_key, self._num_shards, self._rows_per_shard = sort_key, num_shards, rows_per_shard
        self._pack, self._unpack = pack, unpack  # what a row is shuffled as (a plain tuple), and back

    def expand(self, rows):
        fixed, per_shard, sort_key, pack = self._num_shards, self._rows_per_shard, self._sort_key, self._pack
        total = rows | "CountRows" >> beam.combiners.Count.Globally()
        num_shards = total | "NumShards" >> beam.Map(shard_count, fixed, per_shard)
        keyed = rows | "AssignShard" >> beam.Map(
            lambda row, n: (shard_of(sort_key(row), n), pack(row) if pack else row),
            n=beam.pvalue.AsSingleton(num_shards))
        writer = _WriteShard(self._directory, self._prefix, self._schema, self._sort, self._unpack)
        written = (
            keyed
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(writer, num_shards=beam.pvalue.AsSingleton(num_shards))
        )
        # A shard index no row went to is written empty, once the others are (no Flatten of the rows
        # with empty entries: a runner that materialises a Flatten would copy every row once more).
        empty = num_shards | "WriteEmptyShards" >> beam.ParDo(_WriteEmptyShards(writer, self._prefix),
                                                              written=beam.pvalue.AsList(written))
        return (written, empty) | "AllShards" >> beam.Flatten()


class _PublishVersion(beam.DoFn):
    """Builds the manifest from the written shards and the counts, and publishes the staged version."""

    def __init__(self, claim: versions.Claim, fields: Dict[str, Any]):
        self._claim, self._fields = claim, fields

    def process(self, _, pair_shards, reject_shards, outcomes, records_read, detail_counts):
        used = outcomes.get("used", 0)
        dropped = {k.split("/", 1)[1]: v for k, v in outcomes.items() if k.startswith("dropped/")}
        rejected = {k.split("/", 1)[1]: v for k, v in outcomes.items() if k.startswith("rejected/")}
        manifest = schemas.manifest.build_manifest(
            records_read=records_read,
            records_used=used,
            records_dropped=dropped,
            records_rejected=rejected,
            pairs=sum(s["rows"] for s in pair_shards),
            shards=sorted(pair_shards, key=lambda s: s["path"]),
            reject_shards=sorted(reject_shards, key=lambda s: s["path"]),
            **self._fields,
        )
        if detail_counts:
            manifest["detail_counts"] = dict(sorted(detail_counts.items()))
        versions.publish(self._claim, manifest)
        yield manifest


class WriteVersion(beam.PTransform):
    """pairs, rejects, outcomes and per-file record counts -> a complete version directory.

    Shards go to the claim's staging folder; the last step writes the manifest there and
    publishes the folder as the version (schemas.versions.publish), so nothing under the
    version's name changes until the whole run has succeeded.

    Input: a dict of PCollections {"pairs" or "pair_rows", "rejects", "outcomes", "records_read"[, "detail_counts"]};
    "pair_rows" are the pairs as pipelines.accounting.pair_row tuples (nothing of them is pickled, where a
    pair dict's created_at datetime is, each time the pairs cross a stage);
    records_read holds one integer per input file (lines seen), counted independently of the
    outcomes so the manifest invariant is a real check; detail_counts, (name, n) of things that are
    not records (a page's sections), are summed into the manifest's "detail_counts". Output: the
    manifest dict (one element).
    """

    def __init__(self, *, claim: versions.Claim, dataset: str, version: str, inputs: List[Dict[str, Any]],
                 num_shards: int = 0, options: Optional[Mapping[str, Any]] = None,
                 extra: Optional[Mapping[str, Any]] = None):
        super().__init__()
        self._claim, self._directory, self._num_shards = claim, claim.staging_dir, num_shards
        self._fields = dict(dataset=dataset, version=version, code_version=schemas.manifest.code_version(),
                            inputs=inputs, options=dict(options or {}), extra=dict(extra or {}))

    def expand(self, pcolls):
        if "pair_rows" in pcolls:
            pairs = pcolls["pair_rows"]
            pair_shards = pairs | "WritePairs" >> WriteShards(
                self._directory, "pairs", PAIR_SCHEMA, pair_row_sort_key, PAIR_SORT, self._num_shards,
                unpack=pair_of_row)
        else:
            pairs = pcolls["pairs"]
            pair_shards = pairs | "WritePairs" >> WriteShards(
                self._directory, "pairs", PAIR_SCHEMA, pair_sort_key, PAIR_SORT, self._num_shards,
                pack=pair_row, unpack=pair_of_row)
        reject_shards = pcolls["rejects"] | "WriteRejects" >> WriteShards(
            self._directory, "rejects", REJECT_SCHEMA, reject_sort_key, REJECT_SORT, 0, REJECT_ROWS_PER_SHARD)
        outcomes = pcolls["outcomes"] | "CountOutcomes" >> CountOutcomes()
        records_read = pcolls["records_read"] | "SumRead" >> beam.CombineGlobally(sum)
        begin = pairs.pipeline | "ManifestTrigger" >> beam.Create([None])
        details = pcolls.get("detail_counts")
        if details is None:
            details = begin | "NoDetails" >> beam.FlatMap(lambda _: [])
        detail_counts = (details | "SumDetails" >> beam.CombinePerKey(sum)
                         | "DetailsAsDict" >> beam.combiners.ToDict())
        return begin | "WriteManifest" >> beam.ParDo(
            _PublishVersion(self._claim, self._fields),
            pair_shards=beam.pvalue.AsList(pair_shards),
            reject_shards=beam.pvalue.AsList(reject_shards),
            outcomes=beam.pvalue.AsSingleton(outcomes),
            records_read=beam.pvalue.AsSingleton(records_read),
            detail_counts=beam.pvalue.AsSingleton(detail_counts),
        )

