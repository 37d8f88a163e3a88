"""The CombineFn contract, for every combiner the pipelines use.

A runner may add inputs to fresh accumulators on many workers, merge them in any order and
grouping, add more inputs to a merged accumulator, and merge again. The result must equal one
accumulator fed every input. (The old Reddit top-N combiner broke this: a merged accumulator
came back sorted largest-first and was then used as a min-heap.)
"""

import random

import apache_beam as beam
import pytest
from apache_beam.transforms.core import CallableWrapperCombineFn

from pipelines import accounting
from pipelines import reddit as PR
from pipelines import semanticscholar as PS
from pipelines import stackexchange as PSE
from pipelines.transforms import KeepBest, _KeepBestPacked, pack
from schemas.pairs import PAIR_COLUMNS
from sources import reddit as SR
from sources import stackexchange as SS


def sequential(fn, inputs):
    acc = fn.create_accumulator()
    for x in inputs:
        acc = fn.add_input(acc, x)
    return fn.extract_output(fn.compact(acc))


def scrambled(fn, inputs, rng):
    """Random partitions, merged in random groups and order, with inputs added after merges."""
    inputs = list(inputs)
    rng.shuffle(inputs)
    late = inputs[: len(inputs) // 4]
    pending = inputs[len(inputs) // 4:]
    accs = []
    while pending:
        n = rng.randint(1, 5)
        take, pending = pending[:n], pending[n:]
        acc = fn.create_accumulator()
        for x in take:
            acc = fn.add_input(acc, x)
        accs.append(acc)
    while len(accs) > 1 or late:
        rng.shuffle(accs)
        group_size = rng.randint(1, min(3, len(accs)))
        merged = fn.merge_accumulators(accs[:group_size])
        accs = accs[group_size:]
        for _ in range(rng.randint(0, 3)):
            if late:
                merged = fn.add_input(merged, late.pop())
        accs.append(merged)
    return fn.extract_output(fn.compact(accs[0]))


def post(i, score, created, parent="t3_s"):
    return SR.RedditPost("comment", f"t1_{i}", parent, "sub", "u", f"raw {i % 7}", f"text {i}", score, created,
                         False, False)


def answer(i, score, created):
    return SS.StackExchangePost("site", i, SS.ANSWER, 1, None, score, created, created, f"answer {i}")


RNG = random.Random(0)
ANSWERS = [answer(i, RNG.randint(-1, 4), RNG.randint(0, 3)) for i in range(1, 121)]
FATES = [RNG.choice(PR.FATE_PRIORITY) for _ in range(120)]
PAIRS = [{"query_id": f"q{RNG.randint(0, 5)}", "passage_id": f"p{i}"} for i in range(120)]  # (ids) are unique per pair
COPIES = [post(i % 9, RNG.randint(0, 3), RNG.randint(0, 2)) for i in range(120)]
THREAD_REPLIES = [(PR.REPLY, f"t1_{i}", "t3_s", "sub", None, f"text {i}", RNG.randint(-2, 6), RNG.randint(0, 3), "")
                  for i in range(120)]
THREAD_PARENT = (PR.PARENT, "t3_s", "", "sub", None, "title", 3, 0, PR.SUBMISSION)
DROPPED_MARKER = (PR.DROPPED, "t3_s", "", "", None, "", None, None, "")
PAIR_ROWS = [tuple(p.get(c) for c in PAIR_COLUMNS) for p in PAIRS]
PAIR_CANDIDATES = [(row, RNG.randint(0, 1)) for row in PAIR_ROWS + PAIR_ROWS[:30]]  # an edge twice: a row, a legacy copy
THREAD_PAIRS = [(row, 1 + int(row[PAIR_COLUMNS.index("query_id")][1:]) % 3) for row in PAIR_ROWS + PAIR_ROWS[:30]]
PAPER_FATES = [(RNG.randrange(len(PS.FATE_PRIORITY)), ()) for _ in range(119)] + [(3, (("papers", 1), ("abstracts", 2)))]


COMBINERS = {
    "one copy per record (OneCopyPerKey)": (KeepBest(PR.copy_rank), COPIES),
    "one copy per question (OneCopyPerKey)": (KeepBest(SS.copy_rank_key), ANSWERS + ANSWERS[:30]),
    "best fate (ResolveFates)": (CallableWrapperCombineFn(accounting.BestFate(PR.FATE_PRIORITY)), FATES),
    "outcome counts (CountOutcomes)": (beam.combiners.CountCombineFn(), FATES),
    "one copy per record, packed (OneCopyPerKey)": (
        _KeepBestPacked(), [(PR.copy_rank(p), pack(p), ) for p in COPIES]),
    "thread of a parent (Reddit ThreadFn)": (PR.ThreadFn(3), THREAD_REPLIES + [THREAD_PARENT]),
    "thread of an absent parent (Reddit ThreadFn)": (PR.ThreadFn(3), THREAD_REPLIES + [DROPPED_MARKER]),
    "one pair per pair_id (DedupPairs)": (accounting._SmallestPair(), PAIR_ROWS),
    "one pair per pair_id, rows behind it (Semantic Scholar)": (PS._OnePairPerId(), PAIR_CANDIDATES),
    "one pair per pair_id, pairs of its question (Stack Exchange)": (PSE.SmallestPair(), THREAD_PAIRS),
    "best fate of a paper (Semantic Scholar)": (PS._BestFate(), PAPER_FATES),
}


@pytest.mark.parametrize("name", sorted(COMBINERS))
@pytest.mark.parametrize("seed", range(25))
def test_any_partition_and_merge_order_gives_the_sequential_result(name, seed):
    fn, inputs = COMBINERS[name]
    assert scrambled(fn, inputs, random.Random(seed)) == sequential(fn, inputs)


def test_the_contract_check_catches_the_old_heap_bug():
    """The check must fail on a combiner that breaks the contract the way the old one did."""
    import heapq

    class SortedMergeHeap(beam.CombineFn):
        def create_accumulator(self):
            return []

        def add_input(self, heap, x):
            if len(heap) < 3:
                heapq.heappush(heap, x)
            elif x > heap[0]:
                heapq.heapreplace(heap, x)
            return heap

        def merge_accumulators(self, accs):
            return heapq.nlargest(3, [x for acc in accs for x in acc])  # sorted largest-first: not a heap

        def extract_output(self, heap):
            return sorted(heap, reverse=True)

    values = list(range(40))
    assert any(scrambled(SortedMergeHeap(), values, random.Random(s)) != sequential(SortedMergeHeap(), values)
               for s in range(25))
