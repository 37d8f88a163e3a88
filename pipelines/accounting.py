"""Every input record ends in exactly one outcome: used, dropped/<reason> or rejected/<reason>.

Outcome strings are what the manifest counts; the same names are Beam counters in the
``ccpairs`` namespace. A record can meet several fates on the way (a Reddit comment is a reply
and a parent at once), so fates are resolved per record key by a priority order.
"""

from typing import Iterable, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import reasons as R

NAMESPACE = "ccpairs"


def used() -> str:
    return R.USED


def dropped(reason: str) -> str:
    return R.counter_name("dropped", reason)


def rejected(reason: str) -> str:
    return R.counter_name("rejected", reason)


def count(outcome: str, n: int = 1) -> None:
    """Increment the Beam counter named after an outcome (``dropped/too_short``, ``used``, ...)."""
    Metrics.counter(NAMESPACE, outcome).inc(n)


class BestFate:
    """The best of a record's fates by a priority list (a picklable function for CombinePerKey)."""

    def __init__(self, priority: Sequence[str]):
        unknown = [f for f in priority if f != R.USED and f not in R.DROP_REASONS]
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
            outcome = R.USED if fate == R.USED else dropped(fate)
            count(outcome)
            return outcome

        return events | "BestFate" >> beam.CombinePerKey(self._best) | "ToOutcome" >> beam.Map(to_outcome)


class DedupPairs(beam.PTransform):
    """Keep one pair per pair_id (the smallest query_id, passage_id); the rest are duplicate_pair.

    Returns {"pairs": kept pairs, "fates": (record_key, fate) events for both records of every
    pair: used for kept ones, duplicate_pair for the others}.
    """

    def expand(self, pairs):
        def pick(kv):
            _, group = kv
            ordered = sorted(group, key=lambda p: (p["query_id"], p["passage_id"]))
            keep = ordered[0]
            yield keep
            yield beam.pvalue.TaggedOutput("fates", (keep["query_id"], R.USED))
            yield beam.pvalue.TaggedOutput("fates", (keep["passage_id"], R.USED))
            for other in ordered[1:]:
                yield beam.pvalue.TaggedOutput("fates", (other["query_id"], R.DROP_DUPLICATE_PAIR))
                yield beam.pvalue.TaggedOutput("fates", (other["passage_id"], R.DROP_DUPLICATE_PAIR))

        results = (
            pairs
            | "KeyByPairId" >> beam.Map(lambda p: (p["pair_id"], p))
            | "GroupByPairId" >> beam.GroupByKey()
            | "PickOne" >> beam.FlatMap(pick).with_outputs("fates", main="pairs")
        )
        return {"pairs": results.pairs, "fates": results.fates}


class CountOutcomes(beam.PTransform):
    """Outcome strings -> a single {outcome: n} dict (empty dict when there are none)."""

    def expand(self, outcomes):
        return (
            outcomes
            | "CountEach" >> beam.combiners.Count.PerElement()
            | "ToDict" >> beam.combiners.ToDict()
        )
