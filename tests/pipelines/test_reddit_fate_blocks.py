"""Reddit's fate events in blocks of fullnames: the block of a name, a stage's bounded buffer, the
per-block combiner (one entry per fullname, whatever the number of events or the merge order) and
the corrections it yields."""

import itertools
import random

from pipelines import reddit
from schemas import reasons

USED, DUP, NOT_TOP, MISSING = (reddit.FATE_RANK[f] for f in (
    reasons.USED, reasons.DROP_DUPLICATE_PAIR, reasons.DROP_NOT_TOP_REPLY, reasons.DROP_PARENT_MISSING))


def test_a_block_is_a_range_of_ids_of_one_kind_and_an_odd_name_is_its_own_block():
    assert reddit.fate_block("t1_0") == reddit.fate_block("t1_rr") == "t1_0"  # "rr" = 999 < 1024
    assert reddit.fate_block("t1_sg") == "t1_1"  # "sg" = 1024
    assert reddit.fate_block("t3_0") != reddit.fate_block("t1_0")
    for odd in ("t1_", "t1_A1", "t1_ 1", "t1_+1", "t1_1_0", "nounderscore", "t1_" + "z" * 14):
        assert reddit.fate_block(odd) == "=" + odd


def test_fate_blocks_group_a_bundle_and_say_when_to_send_early():
    fates = reddit.FateBlocks(held_max=3)
    fates.add("t1_1", DUP, NOT_TOP)
    fates.add("t3_1", USED, reddit.NO_DEFAULT)
    assert not fates.full
    fates.add("t1_2", DUP, NOT_TOP)
    assert fates.full
    assert fates.blocks() == [("t1_0", [("t1_1", DUP, NOT_TOP), ("t1_2", DUP, NOT_TOP)]),
                              ("t3_0", [("t3_1", USED, reddit.NO_DEFAULT)])]
    assert not fates.full and fates.blocks() == []


def test_a_hot_fullname_is_one_entry_of_its_block_in_any_merge_order():
    fn = reddit.FateBlockFn()
    events = [("t1_hot", DUP, NOT_TOP)] * 100_000 + [("t1_hot", USED, reddit.NO_DEFAULT), ("t1_hou", MISSING, NOT_TOP)]
    random.Random(3).shuffle(events)
    results = set()
    for cut in (1, 7, 50_000):  # events per accumulator, then merged in pairs
        parts = [events[i:i + cut] for i in range(0, len(events), cut)]
        accs = [fn.add_input(fn.create_accumulator(), part) for part in parts]
        while len(accs) > 1:
            accs = [fn.merge_accumulators(pair) for pair in itertools.zip_longest(accs[::2], accs[1::2], fillvalue={})]
        block = fn.extract_output(accs[0])
        assert len(block) == 2
        results.add(tuple(sorted(block.items())))
    assert results == {(("t1_hot", (USED, NOT_TOP)), ("t1_hou", (MISSING, NOT_TOP)))}


def test_corrections_move_each_record_from_its_default_to_its_best_fate():
    fn = reddit.BlockCorrections()
    fn.start_bundle()
    fn.process(("t1_0", {"t1_a": (USED, NOT_TOP), "t1_b": (MISSING, NOT_TOP), "t1_c": (USED, reddit.NO_DEFAULT),
                         "t1_d": (NOT_TOP, NOT_TOP)}))
    counts = {wv.value[0]: wv.value[1] for wv in (out.value for out in fn.finish_bundle())}
    assert counts == {"used": 2, "dropped/parent_missing": 1, "dropped/not_top_reply": -2}
