"""Composite transforms that every source's extraction is built from.

    FilterRecords       typed records -> kept, dropped outcomes, dropped keys (a source's rules)
    OneCopyPerKey       the same record seen twice (overlapping dumps) -> the best copy; the rest counted
    TopRepliesPerParent parents + replies -> per parent its top-N replies (Beam's Top.PerKey, a combiner,
                        so a thread with 100k replies never sits in one worker's memory), pinned
                        replies (an accepted answer), and the fate of replies whose parent is
                        missing or was dropped, all in one CoGroupByKey

Outcomes are the strings the manifest counts (pipelines.accounting); fates are (record key, reason)
events resolved per record by accounting.ResolveFates.
"""

from typing import Any, Callable, Optional

import apache_beam as beam

from pipelines import accounting
from schemas import reasons


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


class OneCopyPerKey(beam.PTransform):
    """Records -> {"records": one copy per key (the best by `rank`), "outcomes": duplicate_record per extra copy}."""

    def __init__(self, key: Callable[[Any], str], rank: Callable[[Any], Any]):
        super().__init__()
        self._key, self._rank = key, rank

    def expand(self, records):
        def emit(kv):
            _, (record, copies) = kv
            for _ in range(copies - 1):
                yield dropped_outcome(reasons.DROP_DUPLICATE_RECORD)
            yield record

        return (
            records
            | "KeyById" >> beam.Map(lambda r, key=self._key: (key(r), r))
            | "BestCopy" >> beam.CombinePerKey(KeepBest(self._rank))
            | "CountCopies" >> beam.FlatMap(emit).with_outputs("outcomes", main="records")
        )


class TopRepliesPerParent(beam.PTransform):
    """{"parents": records, "replies": records, "dropped_keys": keys of dropped parents,
    ["pinned": replies that must be offered whatever their rank]} ->
    {"threads": (parent, pinned replies, top-N replies best first), "fates": (reply key, fate)}.

    `parent_key(parent)` and `reply_key(reply)` are records' own ids; `parent_of(reply)` is the id of
    the record it answers. Replies not `eligible` are no candidates for the top N (but still
    count as children for the parent check). A reply whose parent is absent gets
    `missing_fate`, one whose parent was dropped gets parent_dropped.
    """

    def __init__(self, *, top_n: int, rank: Callable[[Any], Any], parent_key: Callable[[Any], str],
                 reply_key: Callable[[Any], str], parent_of: Callable[[Any], str],
                 eligible: Callable[[Any], bool] = lambda reply: True,
                 missing_fate: str = reasons.DROP_PARENT_MISSING):
        super().__init__()
        self._top_n, self._rank, self._eligible = top_n, rank, eligible
        self._parent_key, self._reply_key, self._parent_of = parent_key, reply_key, parent_of
        self._missing_fate = missing_fate

    def expand(self, pcolls):
        parent_key, reply_key, parent_of = self._parent_key, self._reply_key, self._parent_of
        replies = pcolls["replies"]
        pipeline = replies.pipeline
        top = (
            replies
            | "Eligible" >> beam.Filter(self._eligible)
            | "ByParent" >> beam.Map(lambda r: (parent_of(r), r))
            | "TopN" >> beam.combiners.Top.PerKey(self._top_n, key=self._rank)
        )
        pinned = pcolls.get("pinned")
        if pinned is None:
            pinned = pipeline | "NoPinned" >> beam.Create([])
        joined = {
            "parent": pcolls["parents"] | "KeyParents" >> beam.Map(lambda p: (parent_key(p), p)),
            "top": top,
            "pinned": pinned | "KeyPinned" >> beam.Map(lambda r: (parent_of(r), r)),
            "dropped": pcolls["dropped_keys"] | "KeyDropped" >> beam.Map(lambda k: (k, True)),
            "children": replies | "ChildIds" >> beam.Map(lambda r: (parent_of(r), reply_key(r))),
        } | "JoinParents" >> beam.CoGroupByKey()
        return joined | "Threads" >> beam.ParDo(_Thread(self._missing_fate)).with_outputs("fates", main="threads")


class _Thread(beam.DoFn):
    def __init__(self, missing_fate: str):
        self._missing_fate = missing_fate

    def process(self, kv):
        _, groups = kv
        parents = list(groups["parent"])
        if parents:
            tops = list(groups["top"])
            yield (parents[0], list(groups["pinned"]), tops[0] if tops else [])
            return
        fate = reasons.DROP_PARENT_DROPPED if any(True for _ in groups["dropped"]) else self._missing_fate
        for child in groups["children"]:
            yield beam.pvalue.TaggedOutput("fates", (child, fate))
