"""Composite transforms that every source's extraction is built from.

    FilterRecords       typed records -> kept, dropped outcomes, dropped keys (a source's rules)
    OneCopyPerKey       the same record seen twice (overlapping dumps) -> the best copy; the rest counted

(Threads of replies per parent are source-specific combiners: Reddit's and Stack Exchange's run in
blocks of keys, so a thread with 100k replies never sits in one worker's memory.)

Outcomes are the strings the manifest counts (pipelines.accounting); fates are (record key, reason)
events resolved per record by accounting.ResolveFates.

Records cross every shuffle here packed (`pack`/`unpack`): a dataclass as its class name and a
plain tuple of its fields, which Beam's FastPrimitivesCoder writes natively; a dataclass left to
Beam is pickled with its class per element, 15x the cost (benchmarks/results/beam_overhead.md).
"""

import dataclasses
import importlib
import operator
import typing
from typing import Any, Callable, Dict, Optional, Tuple

import apache_beam as beam

from pipelines import accounting
from schemas import reasons


class _Codec:
    """A dataclass <-> (its name, its init fields as a plain tuple); fields declared Tuple[SomeDataclass, ...]
    are packed one level down (a Wikipedia page's sections)."""

    def __init__(self, cls):
        self.cls, self.name = cls, f"{cls.__module__}:{cls.__qualname__}"
        self.names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
        getter = operator.attrgetter(*self.names)
        self.get = getter if len(self.names) > 1 else (lambda record: (getter(record),))
        hints = typing.get_type_hints(cls)
        self.nested = []
        for i, name in enumerate(self.names):
            args = typing.get_args(hints.get(name))
            if typing.get_origin(hints.get(name)) is tuple and args and dataclasses.is_dataclass(args[0]):
                self.nested.append(i)

    def pack(self, record) -> Tuple:
        values = self.get(record)
        if self.nested:
            values = list(values)
            for i in self.nested:
                values[i] = tuple(pack(item) for item in values[i])
            values = tuple(values)
        return (self.name, values)

    def unpack(self, values):
        if self.nested:
            values = list(values)
            for i in self.nested:
                values[i] = tuple(unpack(item) for item in values[i])
        record = object.__new__(self.cls)  # as pickle rebuilds it: no __init__, no __post_init__
        for name, value in zip(self.names, values):
            object.__setattr__(record, name, value)
        return record


_BY_CLASS: Dict[type, _Codec] = {}
_BY_NAME: Dict[str, _Codec] = {}


def _codec_of_class(cls) -> Optional[_Codec]:
    codec = _BY_CLASS.get(cls)
    if codec is None and dataclasses.is_dataclass(cls):
        codec = _BY_CLASS[cls] = _BY_NAME[f"{cls.__module__}:{cls.__qualname__}"] = _Codec(cls)
    return codec


def pack(record) -> Tuple:
    """A record as Beam encodes it cheaply: (class name, field tuple) for a dataclass, ("", record) otherwise."""
    codec = _BY_CLASS.get(type(record)) or _codec_of_class(type(record))
    return codec.pack(record) if codec is not None else ("", record)


def unpack(packed: Tuple):
    name, values = packed
    if not name:
        return values
    codec = _BY_NAME.get(name)
    if codec is None:
        module, qualname = name.split(":")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        codec = _codec_of_class(cls)
    return codec.unpack(values)


def dropped_outcome(reason: str) -> beam.pvalue.TaggedOutput:
    """A counted drop on the "outcomes" output of a DoFn."""
    outcome = accounting.dropped(reason)
    accounting.count(outcome)
    return beam.pvalue.TaggedOutput("outcomes", outcome)


class FilterRecords(beam.DoFn):
    """Kept records on the main output; a dropped one as its outcome and its key ("dropped_keys").

    `drop_reason(record)` is the source's rule list (sources.text.rules.first_drop); `key(record)` is
    the id other records refer to it by (a parent's fullname), so its replies learn it was dropped.
    `slim(record)` may shed fields only the filter needed, so less is shuffled after it.
    """

    def __init__(self, drop_reason: Callable[[Any], Optional[str]], key: Callable[[Any], str],
                 slim: Optional[Callable[[Any], Any]] = None):
        self._drop_reason, self._key, self._slim = drop_reason, key, slim

    def process(self, record):
        reason = self._drop_reason(record)
        if reason is None:
            yield self._slim(record) if self._slim else record
            return
        yield dropped_outcome(reason)
        yield beam.pvalue.TaggedOutput("dropped_keys", self._key(record))


class KeepBest(beam.CombineFn):
    """(best record by `rank`, copies seen). The rank must be a total order for a deterministic result."""

    def __init__(self, rank: Callable[[Any], Any]):
        self._rank = rank

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, acc, record):
        return self.merge_accumulators([acc, (record, 1)])

    def merge_accumulators(self, accs):
        best, n = None, 0
        for record, k in accs:
            n += k
            if record is not None and (best is None or self._rank(record) > self._rank(best)):
                best = record
        return (best, n)

    def extract_output(self, acc):
        return acc


class _KeepBestPacked(beam.CombineFn):
    """KeepBest over (rank, packed record): the rank is computed once per record, before the shuffle."""

    def create_accumulator(self):
        return (None, None, 0)

    def add_input(self, acc, ranked):
        return self.merge_accumulators([acc, (ranked[0], ranked[1], 1)])

    def merge_accumulators(self, accs):
        best_rank, best, n = None, None, 0
        for rank, packed, k in accs:
            n += k
            if packed is not None and (best is None or rank > best_rank):
                best_rank, best = rank, packed
        return (best_rank, best, n)

    def extract_output(self, acc):
        return acc


class OneCopyPerKey(beam.PTransform):
    """Records -> {"records": one copy per key (the best by `rank`), "outcomes": duplicate_record per extra copy}.

    What is shuffled is (key, (rank, packed record)); a key met once costs one element."""

    def __init__(self, key: Callable[[Any], str], rank: Callable[[Any], Any]):
        super().__init__()
        self._key, self._rank = key, rank

    def expand(self, records):
        def emit(kv):
            _, (_, packed, copies) = kv
            for _ in range(copies - 1):  # outcome strings, as every source's outcomes are
                yield dropped_outcome(reasons.DROP_DUPLICATE_RECORD)
            yield unpack(packed)

        return (
            records
            | "KeyById" >> beam.Map(lambda r, key=self._key, rank=self._rank: (key(r), (rank(r), pack(r))))
            | "BestCopy" >> beam.CombinePerKey(_KeepBestPacked())
            | "CountCopies" >> beam.FlatMap(emit).with_outputs("outcomes", main="records")
        )


class PerKeyInBlock(beam.CombineFn):
    """Per block key: {record key: state}, merged key by key with `merge_state(seen, new) -> state`.

    For stages that move keys in blocks (a range of ids per element, not an element per record):
    the combiner of a block holds one bounded state per record key, so a block is bounded by its
    key range however many elements name it. `add_input` takes a {key: state} of the same kind
    (a read batch's or a bundle's block); a subclass whose inputs differ overrides it."""

    def create_accumulator(self):
        return {}

    def merge_state(self, seen, new):
        raise NotImplementedError

    def merge_block(self, block: dict, other: dict) -> dict:
        merge = self.merge_state
        for key, state in other.items():
            seen = block.get(key)
            block[key] = state if seen is None else merge(seen, state)
        return block

    def add_input(self, block, states):
        return self.merge_block(block, states)

    def merge_accumulators(self, blocks):
        blocks = iter(blocks)
        merged = next(blocks)
        for block in blocks:
            self.merge_block(merged, block)
        return merged

    def extract_output(self, block):
        return block
