"""Reddit's blocks of fullnames: the block of a name; copies of a post grouped in the read batch and
merged per block (one entry per fullname whatever its copies, the same best copy in any order); fate
events: a stage's bounded buffer, the per-block combiner (one entry per fullname, whatever the number
of events or the merge order) and the corrections it yields."""

import itertools
import random

from pipelines import reddit
from pipelines.read import Counted
from schemas import reasons
from sources.reddit import RedditConfig, parse_post

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


def _node(fullname, score, text="some text", parent="t3_p"):
    return (reddit.PARENT, fullname, parent, "sub", None, text, score, 100, "")


def test_copies_of_a_fullname_are_one_entry_of_its_block_and_the_best_wins_in_any_order():
    fn = reddit.CopiesFn()
    copies = [{"t1_hot": (_node("t1_hot", i % 50), 1)} for i in range(100_000)]
    copies += [{"t1_hot": (_node("t1_hot", 49, text="z tie"), 1)}, {"t1_hot": reddit.DROPPED_COPY},
               {"t1_hou": reddit.DROPPED_COPY},
               {"t1_hot": ((reddit.PARENT, "t1_hot", "t3_q", "other", None, "z tie", 49, 100, ""), 1)}]  # a full tie
    results = set()
    for seed in (1, 2):
        random.Random(seed).shuffle(copies)
        for cut in (1, 999):
            accs = [fn.create_accumulator() for _ in range(0, len(copies), cut)]
            for i, copy in enumerate(copies):
                fn.add_input(accs[i // cut], copy)
            block = fn.extract_output(fn.merge_accumulators(accs))
            assert len(block) == 2
            results.add(tuple(sorted(block.items())))
    assert results == {(("t1_hot", (_node("t1_hot", 49, text="z tie"), 100_002)), ("t1_hou", (None, 0)))}


def test_the_read_batch_holds_its_copies_per_block_and_counts_its_drops():
    config = RedditConfig(english_only=False)
    decide = reddit.Decide(config)
    body = "a reply long enough to be a passage with more than twenty words " * 2
    posts = [{"id": name, "parent_id": "t3_p", "link_id": "t3_p", "author": "a", "body": body, "score": 5,
              "created_utc": 100, "subreddit": "s"} for name in ("a1", "a1", "a2", "zzzz")]
    posts.append(dict(posts[0], id="a3", body="[deleted]"))
    out = [o for post in posts for o in decide(parse_post(post, config))]
    assert [type(o) for o in out] == [Counted]
    blocks = dict(decide.batch_done())
    assert sorted(blocks) == ["t1_0", "t1_" + format(int("zzzz", 36) >> 10, "x")]
    assert {name: copy[1] for name, copy in blocks["t1_0"].items()} == {"t1_a1": 2, "t1_a2": 1, "t1_a3": 0}
    assert blocks["t1_0"]["t1_a3"] == reddit.DROPPED_COPY
    assert decide.batch_done() == []


def test_a_block_of_threads_keeps_a_hot_parent_to_its_cap_in_any_merge_order():
    fn, cap = reddit.ThreadsPerBlockFn(3), 3
    replies = [("t1_p", (reddit.REPLY, "t1_r%d" % i, "t1_p", "s", None, "text %d" % i, i, 100, ""))
               for i in range(100_000)]
    entries = replies + [("t1_p", _node("t1_p", 1, parent="t3_x")), ("t1_q", (reddit.REPLY, "t1_z", "t1_q", "s", None,
                                                                           "t", 5, 100, ""))]
    results = set()
    for seed, cut in ((1, 1000), (2, 33_333)):
        random.Random(seed).shuffle(entries)
        accs = [fn.compact(fn.add_input(fn.create_accumulator(), entries[i:i + cut]))
                for i in range(0, len(entries), cut)]
        block = fn.extract_output(fn.merge_accumulators(accs))
        parent, dropped, top, others = block["t1_p"]
        assert parent == _node("t1_p", 1, parent="t3_x") and not dropped and others == []
        assert [r[6] for r in top] == [99_999, 99_998, 99_997][:cap]
        assert block["t1_q"][0] is None and [r[1] for r in block["t1_q"][2]] == ["t1_z"]
        results.add(repr(sorted(block.items())))
    assert len(results) == 1
