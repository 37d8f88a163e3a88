"""Every input record ends in exactly one outcome: used, dropped/<reason> or rejected/<reason>.

Outcome strings are what the manifest counts; the same names are Beam counters in the
``ccpairs`` namespace. A record can meet several fates on the way (a Reddit comment is a reply
and a parent at once), so fates are resolved per record key by a priority order.
"""

import datetime as _dt
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas import reasons
from schemas.pairs import PAIR_COLUMNS

NAMESPACE = "ccpairs"


def used() -> str:
    return reasons.USED


def dropped(reason: str) -> str:
    return reasons.counter_name("dropped", reason)


def rejected(reason: str) -> str:
    return reasons.counter_name("rejected", reason)


def count(outcome: str, n: int = 1) -> None:
    """Increment the Beam counter named after an outcome (``dropped/too_short``, ``used``, ...)."""
    Metrics.counter(NAMESPACE, outcome).inc(n)


# What a source's text cleanup changed (quoted lines dropped, mojibake repaired, an abstract cut to
# its last sentence): counters of their own, apart from NAMESPACE, whose counters are the
# manifest's record counts.
CLEANUP_NAMESPACE = "ccpairs.cleanup"


def count_cleanup(name: str, n: int = 1) -> None:
    Metrics.counter(CLEANUP_NAMESPACE, name).inc(n)


class BestFate:
    """The best of a record's fates by a priority list (a picklable function for CombinePerKey)."""

    def __init__(self, priority: Sequence[str]):
        unknown = [f for f in priority if f != reasons.USED and f not in reasons.DROP_REASONS]
        if unknown:
            raise ValueError(f"unknown fates {unknown}")
        self._rank = {fate: i for i, fate in enumerate(priority)}

    def __call__(self, fates: Iterable[str]) -> str:
        return min(fates, key=self._rank.__getitem__)


class ResolveFates(beam.PTransform):
    """(record_key, fate) events -> one outcome string per record key.

    `priority` lists fates best first: ``used`` before any drop reason, so a record that served
    as the query of one pair and lost as the reply of another counts once, as used.
    """

    def __init__(self, priority: Sequence[str]):
        super().__init__()
        self._best = BestFate(priority)

    def expand(self, events):
        def to_outcome(kv: Tuple[str, str]) -> str:
            fate = kv[1]
            outcome = reasons.USED if fate == reasons.USED else dropped(fate)
            count(outcome)
            return outcome

        return events | "BestFate" >> beam.CombinePerKey(self._best) | "ToOutcome" >> beam.Map(to_outcome)


class CountsPerBundle(beam.DoFn):
    """A DoFn whose outcomes are summed over its bundle and leave once per outcome as (outcome, n) on
    the "outcomes" output when the bundle ends: a certain outcome is a count, never an element.
    `counters=False` leaves the Beam counters to a later NetOutcomes (for corrections, n < 0)."""

    OUTCOMES = "outcomes"
    _counters = True  # a subclass with its own __init__ need not call this one

    def __init__(self, counters: bool = True):
        self._counters = counters

    def start_bundle(self):
        self._counts = {}

    def add(self, outcome: str, n: int = 1) -> None:
        self._counts[outcome] = self._counts.get(outcome, 0) + n

    def finish_bundle(self):
        for outcome, n in sorted(self._counts.items()):
            if n:
                if self._counters:
                    count(outcome, n)
                yield beam.pvalue.TaggedOutput(self.OUTCOMES, GlobalWindows.windowed_value((outcome, n)))
        self._counts = {}


class NetOutcomes(beam.PTransform):
    """(outcome, n) counts, corrections included -> one (outcome, total) per outcome whose total is not
    zero, counted in the Beam counters here (once, net)."""

    def expand(self, counts):
        def counted(kv):
            if kv[1]:
                count(*kv)
                yield kv

        return counts | "SumEach" >> beam.CombinePerKey(sum) | "Counted" >> beam.FlatMap(counted)


_CREATED_AT = PAIR_COLUMNS.index("created_at")
_QUERY_ID, _PASSAGE_ID = PAIR_COLUMNS.index("query_id"), PAIR_COLUMNS.index("passage_id")
PAIR_QUERY_ID, PAIR_PASSAGE_ID = _QUERY_ID, _PASSAGE_ID  # where a pair_row holds its records' keys
_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)


def pair_row(pair: Mapping[str, Any]) -> Tuple:
    """A pair dict as a plain tuple in PAIR_COLUMNS order, created_at as (epoch seconds, microseconds): what
    pairs are shuffled as (Beam writes tuples of str/int natively; a datetime would be pickled)."""
    created = pair["created_at"]
    row = [pair[c] for c in PAIR_COLUMNS]
    if created is not None:
        delta = created - _EPOCH
        row[_CREATED_AT] = (delta.days * 86400 + delta.seconds, delta.microseconds)
    return tuple(row)


def pair_of_row(row: Tuple) -> Dict[str, Any]:
    pair = dict(zip(PAIR_COLUMNS, row))
    created: Optional[Tuple[int, int]] = row[_CREATED_AT]
    if created is not None:
        pair["created_at"] = _EPOCH + _dt.timedelta(seconds=created[0], microseconds=created[1])
    return pair


def _pair_rank(row):
    """Of pairs with one pair_id, the one with the smallest (query_id, passage_id) is kept."""
    return (row[_QUERY_ID], row[_PASSAGE_ID])


class _SmallestPair(beam.CombineFn):
    """One pair per pair_id in O(1) memory whatever the number of copies (a combiner, not a GroupByKey);
    pairs as pair_row tuples."""

    def create_accumulator(self):
        return None

    def add_input(self, best, pair):
        return pair if best is None or _pair_rank(pair) < _pair_rank(best) else best

    def merge_accumulators(self, accumulators):
        best = None
        for pair in accumulators:
            if pair is not None:
                best = self.add_input(best, pair)
        return best

    def extract_output(self, best):
        return best


class DedupPairs(beam.PTransform):
    """Keep one pair per pair_id (the smallest query_id, passage_id); the rest are duplicate_pair.

    Returns {"pairs": kept pairs, "fates": (record_key, fate) events}: every candidate pair marks
    both its records duplicate_pair, the kept one marks them used, and ResolveFates ranks used first,
    so no group of copies is ever held in memory. `candidate_fates=False`: only the kept pairs' used
    events, for a source whose pair maker already sent each candidate's records a duplicate_pair
    event of its own (one event per record and role instead of two more per pair). `rows=True`:
    the kept pairs leave as pair_row tuples under "pair_rows" (what the sink takes; no dict with a
    datetime to pickle where the sink materialises them). `fates=False` (with rows=True and
    candidate_fates=False): no "fates" at all, for a source that derives the used events from the
    kept rows itself (Reddit: in blocks of record keys).
    """

    def __init__(self, candidate_fates: bool = True, rows: bool = False, fates: bool = True):
        super().__init__()
        self._candidate_fates, self._rows, self._fates = candidate_fates, rows, fates
        if not fates and (candidate_fates or not rows):
            raise ValueError("fates=False needs rows=True and candidate_fates=False")

    def expand(self, pairs):
        def candidate_fates(pair):
            yield (pair["query_id"], reasons.DROP_DUPLICATE_PAIR)
            yield (pair["passage_id"], reasons.DROP_DUPLICATE_PAIR)

        def used_fates(pair):
            yield (pair["query_id"], reasons.USED)
            yield (pair["passage_id"], reasons.USED)

        best = (
            pairs
            | "KeyByPairId" >> beam.Map(lambda p: (p["pair_id"], pair_row(p)))
            | "OnePerPairId" >> beam.CombinePerKey(_SmallestPair())
        )
        if self._rows:
            def used_row_fates(row):
                yield (row[_QUERY_ID], reasons.USED)
                yield (row[_PASSAGE_ID], reasons.USED)

            kept_rows = best | "DropKey" >> beam.Map(lambda kv: kv[1])
            if not self._fates:
                return {"pair_rows": kept_rows}
            fates = kept_rows | "UsedFates" >> beam.FlatMap(used_row_fates)
            if self._candidate_fates:
                candidates = pairs | "CandidateFates" >> beam.FlatMap(candidate_fates)
                fates = (candidates, fates) | "PairFates" >> beam.Flatten()
            return {"pair_rows": kept_rows, "fates": fates}
        kept = best | "DropKey" >> beam.Map(lambda kv: pair_of_row(kv[1]))
        if not self._candidate_fates:
            return {"pairs": kept, "fates": kept | "UsedFates" >> beam.FlatMap(used_fates)}
        fates = (
            (pairs | "CandidateFates" >> beam.FlatMap(candidate_fates),
             kept | "UsedFates" >> beam.FlatMap(used_fates))
            | "PairFates" >> beam.Flatten()
        )
        return {"pairs": kept, "fates": fates}


def _as_count(outcome) -> Tuple[str, int]:
    return (outcome, 1) if isinstance(outcome, str) else outcome


class CountOutcomes(beam.PTransform):
    """Outcome strings, or (outcome, n) counts a stage summed itself (per read batch), -> a single
    {outcome: n} dict (empty dict when there are none)."""

    def expand(self, outcomes):
        return (
            outcomes
            | "AsCounts" >> beam.Map(_as_count)
            | "CountEach" >> beam.CombinePerKey(sum)
            | "ToDict" >> beam.combiners.ToDict()
        )
