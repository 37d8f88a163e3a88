"""Reading for every source: work units -> raw records in batches -> typed records, rejects, counts.

    units --Reshuffle--> UnitReader (one unit per worker) --batches--> Reshuffle --> ParseBatch --> records

A unit is a file or a byte range of one (pipelines.splits). Reading a compressed file cannot be
split, but parsing can: the reader cuts its raw records into batches of BATCH_SIZE and the
batches are reshuffled, so parsing, cleanup and language ID spread over every worker while the
shuffle carries one element per batch instead of one per line (Beam's per-element cost dominated
this job when raw lines were shuffled one by one).

A batch is (path, [(position, where, data), ...]) of plain tuples and bytes, which Beam's
FastPrimitivesCoder writes natively: a NamedTuple or dataclass in a shuffled element is pickled
with its class, 15-40x the cost (benchmarks/beam_overhead.md).

A source subclasses UnitReader (how its units become raw records) and gives ParseBatch a parse
function (raw bytes, path) -> typed record, raising sources.errors.RejectRecord for bad input.
Every raw record is counted in records_read exactly once; a unit that cannot be opened, or is
refused whole (a Stack Exchange file with a DTD), is one rejected record.
"""

import contextlib
import itertools
import os
from typing import Callable, Iterator, NamedTuple, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.accounting import count, count_cleanup
from pipelines.inputs import RECORDS_READ, REJECTS, reject_output
from pipelines.progress import ProgressLog
from pipelines.splits import ReadUnit
from schemas import reasons
from sources.errors import RejectRecord
from sources.formats.readers import (MAX_LINE_BYTES, InputReadError, TruncatedTail, iter_lines, read_json_document,
                                     starts_json_document)

BATCH_SIZE = 500
BATCH_BYTES = 32 << 20  # raw bytes per batch at most (plus one record): what one shuffled element holds
# Failures of the machine, not of the data: the unit fails (the runner retries it, then fails the job).
NOT_DATA = (OSError, InputReadError, MemoryError)


class Raw(NamedTuple):
    """One raw record: where it is (line number, or None plus a `where` text for byte ranges) and its bytes."""

    position: Optional[int]
    where: str
    data: bytes


def open_unit(path: str):
    """The unit's file as raw bytes (local, gs://, s3://); decompression is the reader's business."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class UnitReader(beam.DoFn):
    """ReadUnit -> batches (path, [Raw]) on the main output, rejects, and one records_read count.

    Subclasses implement `raw_records(unit, stack)`: it opens the unit with `self.open(unit, stack)`
    and returns an iterator of Raw or sources.formats.readers.TruncatedTail; raising before it returns
    refuses the whole unit (RejectRecord gives the reason, anything else is unreadable_file).

    What is data and what is not: a stream cut short or corrupt is data (a counted truncated
    record), and so is a file its format library refuses (unreadable_file); a failing open or read
    of the file itself (OSError such as EIO, sources.formats.readers.InputReadError, MemoryError, or
    any exception while iterating) is not, and propagates, so the runner retries the unit or fails
    the job. A unit opened with `open` must consume the bytes it was planned for (a range up to
    its end, a whole file its size at planning): a shortfall, a file that shrank, is one rejected
    record. An empty file is one rejected record too, so it shows in the manifest.
    """

    def __init__(self, source: str, batch_size: int = BATCH_SIZE):
        self._source, self._batch_size = source, batch_size
        self._handle = None

    def raw_records(self, unit: ReadUnit, stack: contextlib.ExitStack) -> Iterator:
        raise NotImplementedError

    def open(self, unit: ReadUnit, stack: contextlib.ExitStack):
        """The unit's file (raw bytes); how much of it was consumed is checked after reading."""
        self._handle = stack.enter_context(open_unit(unit.path))
        return self._handle

    def process(self, unit: ReadUnit):
        self._handle = None
        if unit.size == 0 and not unit.is_range:
            yield from self._refuse(unit, reasons.REJECT_EMPTY_FILE, b"", "the file has no bytes")
            return
        with contextlib.ExitStack() as stack:
            try:
                records = self.raw_records(unit, stack)
            except RejectRecord as exc:
                yield from self._refuse(unit, exc.reason, exc.raw, exc.detail)
                return
            except NOT_DATA:
                raise
            except Exception as exc:  # noqa: BLE001 - a file its format library cannot open is this unit's reject
                yield from self._refuse(unit, reasons.REJECT_UNREADABLE_FILE, b"", f"{type(exc).__name__}: {exc}")
                return
            yield from self._batches(unit, records)

    def _refuse(self, unit: ReadUnit, reason: str, raw: bytes, detail: str):
        """A refused file is one record; of a file cut into ranges, range 0 speaks for it."""
        if unit.index == 0:
            yield reject_output(self._source, unit.path, None, reason, raw, detail)
            count(RECORDS_READ)
            yield beam.pvalue.TaggedOutput(RECORDS_READ, 1)

    def _batches(self, unit: ReadUnit, records: Iterator):
        """Batches of at most batch_size records and about BATCH_BYTES: 100 Wikipedia pages just under
        their 8 MiB cap would otherwise be one 800 MB element to shuffle."""
        path, seen, batch, held = unit.path, 0, [], 0
        progress = self._progress(unit)
        for item in records:
            seen += 1
            if isinstance(item, TruncatedTail):  # a cut stream's tail, or a record over the reader's cap
                yield reject_output(self._source, path, item.position, item.reason, item.data, item.detail)
                continue
            batch.append(tuple(item))  # a plain tuple: Beam's coder writes it natively (a NamedTuple is pickled)
            held += len(item[2])
            if len(batch) >= self._batch_size or held >= BATCH_BYTES:
                yield (path, batch)
                batch, held = [], 0
                progress.update(seen, self._handle.tell() - unit.start if self._handle is not None else None)
        if batch:
            yield (path, batch)
        shortfall = self._shortfall(unit)
        if shortfall:
            seen += 1
            yield reject_output(self._source, path, None, reasons.REJECT_TRUNCATED_INPUT, b"", shortfall)
        count(RECORDS_READ, seen)
        yield beam.pvalue.TaggedOutput(RECORDS_READ, seen)

    def _progress(self, unit: ReadUnit) -> ProgressLog:
        """Records read so far in this unit; with the bytes of the file (or range) consumed, an ETA."""
        name = os.path.basename(unit.path) + (f" range {unit.index + 1}/{unit.count}" if unit.is_range else "")
        planned = (unit.end - unit.start) if unit.is_range else unit.size
        return ProgressLog(f"{self._source} {name}", "records", total=planned)

    def _shortfall(self, unit: ReadUnit) -> str:
        """'' when the opened file was read as far as planned, else what was missing."""
        planned = unit.end if unit.is_range else unit.size
        if self._handle is None or planned is None:
            return ""
        consumed = self._handle.tell()
        if consumed >= planned:
            return ""
        what = f"range [{unit.start}, {unit.end})" if unit.is_range else "file"
        return f"{what}: read {consumed} of {planned} planned bytes (the file shrank since planning?)"


OUTCOMES = "outcomes"


class Counted(NamedTuple):
    """What a `decide` function yields for a record that ends here: its outcome, summed per batch.
    With another `tag` (one of the source's decide_tags), a count of something else ((name, n) of a
    source's details), summed per batch too and left on that output without a Beam counter."""

    outcome: str
    n: int = 1
    tag: str = OUTCOMES


def _summing_counts(outputs, counts: dict):
    """A decide function's outputs, less its Counted ones, which are summed into counts by (tag, outcome)."""
    for out in outputs:
        if type(out) is Counted:
            key = (out.tag, out.outcome)
            counts[key] = counts.get(key, 0) + out.n
        else:
            yield out


class ParseBatch(beam.DoFn):
    """(path, [Raw]) -> typed records, or rejects with the parser's reason (one odd record never kills the job).
    A record's `cleanup` ((what its text cleanup changed, how often), ...) is counted here for every source.

    `decide(record)`, when given, runs on each parsed record inside the batch (a source's first rules,
    its split by record kind): it yields what goes on (elements, TaggedOutputs) and Counted outcomes
    for records that end there, which leave as one (outcome, n) per batch on OUTCOMES, so a dropped
    record never becomes an element. A decide object with a `batch_done()` method may hold what it
    kept and yield it there, after the batch's last record (Stack Exchange: one element per block of
    threads in the batch, not one per post)."""

    def __init__(self, source: str, parse: Callable[[bytes, str], object],
                 decide: Optional[Callable[[object], Iterator]] = None):
        self._source, self._parse, self._decide = source, parse, decide

    def process(self, batch):
        if self._decide is None:
            yield from self._parsed(batch)
            return
        decide, counts = self._decide, {}
        for record in self._parsed(batch):
            if isinstance(record, beam.pvalue.TaggedOutput):
                yield record
                continue
            yield from _summing_counts(decide(record), counts)
        batch_done = getattr(decide, "batch_done", None)  # a decide() that groups a batch's records yields them here
        if batch_done is not None:
            yield from _summing_counts(batch_done(), counts)
        for (tag, outcome), n in sorted(counts.items()):
            if tag == OUTCOMES:
                count(outcome, n)
            yield beam.pvalue.TaggedOutput(tag, (outcome, n))

    def _parsed(self, batch):
        path, raws = batch
        parse, source = self._parse, self._source
        for position, where, data in raws:
            try:
                record = parse(data, path)
            except RejectRecord as exc:
                yield reject_output(source, path, position, exc.reason, data, where + exc.detail)
            except MemoryError:  # the worker's state, not this record's: records are capped by their reader
                raise
            except Exception as exc:  # noqa: BLE001 - a parser bug shows as a counted reject, not a dead job
                yield reject_output(source, path, position, reasons.REJECT_PARSE_ERROR, data,
                                    f"{where}{type(exc).__name__}: {exc}")
            else:
                for name, n in getattr(record, "cleanup", ()):
                    count_cleanup(name, n)
                yield record


class ReadSource(beam.PTransform):
    """[ReadUnit] -> {"records", "rejects", "records_read"} through a source's UnitReader and parse function;
    with `decide`, also "outcomes" ((outcome, n) per batch) and each of `tags` (decide's tagged outputs)."""

    def __init__(self, source: str, units: Sequence[ReadUnit], reader: UnitReader,
                 parse: Callable[[bytes, str], object], decide: Optional[Callable[[object], Iterator]] = None,
                 tags: Sequence[str] = ()):
        super().__init__()
        self._source, self._units, self._reader, self._parse = source, list(units), reader, parse
        self._decide, self._tags = decide, tuple(tags)

    def expand(self, pbegin):
        read = (
            pbegin
            | "Units" >> beam.Create(self._units)
            | "SpreadUnits" >> beam.Reshuffle()
            | "ReadUnits" >> beam.ParDo(self._reader).with_outputs(REJECTS, RECORDS_READ, main="batches")
        )
        parsed = (
            read.batches
            | "SpreadBatches" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(ParseBatch(self._source, self._parse, self._decide)).with_outputs(
                REJECTS, *((OUTCOMES,) + self._tags if self._decide else ()), main="records")
        )
        rejects = (read[REJECTS], parsed[REJECTS]) | "AllRejects" >> beam.Flatten()
        out = {"records": parsed.records, "rejects": rejects, "records_read": read[RECORDS_READ]}
        if self._decide:  # the outcomes decided in the batch, and the decide function's own outputs
            out.update({tag: parsed[tag] for tag in (OUTCOMES,) + self._tags})
        return out


def lines_of(items: Iterator) -> Iterator:
    """sources.formats.readers.iter_lines output as Raw records (TruncatedTail passes through)."""
    for item in items:
        yield item if isinstance(item, TruncatedTail) else Raw(item.position, "", item.data)


class LineFileReader(UnitReader):
    """Whole files of one record per line (NDJSON, compressed or not): Reddit, Semantic Scholar.

    A line over max_line_bytes is one record_too_large reject, skipped unread. A file that is one
    pretty-printed JSON document (its first line a lone "{" or "[") is one record when it holds an
    object, else one `not_json_lines` reject: never a reject per line."""

    def __init__(self, source: str, max_line_bytes: int = MAX_LINE_BYTES, batch_size: int = BATCH_SIZE):
        super().__init__(source, batch_size)
        self._max_line_bytes = max_line_bytes

    def raw_records(self, unit, stack):
        lines = iter_lines(self.open(unit, stack), unit.path, max_line_bytes=self._max_line_bytes)
        first = next(lines, None)
        if starts_json_document(first):
            document = read_json_document(first, lines, self._max_line_bytes)
            return iter([Raw(first.position, "whole-file JSON document", document)])
        return lines_of(itertools.chain(() if first is None else (first,), lines))

