"""Beam tests of the Reddit graph: joins, top-N, hot keys, accounting, bad input, real dumps."""

import collections
import glob
import json
import os
import random

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.testing.util import assert_that, equal_to

from pipelines import reddit
from pipelines.accounting import CLEANUP_NAMESPACE, pair_of_row
from pipelines.inputs import NoInputFiles
from schemas.versions import VersionExists
from sources.demo_inputs.reddit import write_zst_ndjson
from sources.reddit import RedditConfig, parse_post
from tests.pipelines.conftest import comment_body, run_counting


def sub(i, **kw):
    d = {"id": f"s{i}", "title": f"How do you brew good coffee at home, part {i}?", "selftext": "",
         "author": "op", "score": 3, "created_utc": 1000 + i, "subreddit": "coffee"}
    d.update(kw)
    return d


def com(cid, parent, score=5, **kw):
    d = {"id": cid, "body": comment_body(cid), "parent_id": parent, "link_id": "t3_s1", "author": "u",
         "score": score, "created_utc": 2000, "subreddit": "coffee"}
    d.update(kw)
    return d


def extract(pipeline, records, config=RedditConfig()):
    posts = pipeline | beam.Create([parse_post(r, config) for r in records])
    return posts | reddit.ExtractRedditPairs(config)


def pairs_of(out):
    """The job's kept pairs (pair_row tuples) as pair dicts."""
    return out["pair_rows"] | "AsDicts" >> beam.Map(pair_of_row)


def ids(pair):
    return (pair["query_id"], pair["passage_id"])


def counted(outcomes):
    """Outcome strings or (outcome, n) counts -> (outcome, total) for each outcome with records."""
    return (outcomes | "AsCounts" >> beam.Map(lambda o: (o, 1) if isinstance(o, str) else o)
            | "Sum" >> beam.CombinePerKey(sum) | "NotZero" >> beam.Filter(lambda kv: kv[1] != 0))


def test_joins_post_comment_and_comment_reply(pipeline):
    records = [
        sub(1),
        com("a", "t3_s1", score=10), com("b", "t3_s1", score=3),  # a wins the top-1 slot
        com("r", "t1_a", score=4),  # reply to a: (a, r)
        com("orphan", "t1_gone"),  # parent not in the input
        com("x", "t1_del"), com("del", "t3_s1", body="[deleted]"),  # parent dropped by a filter
    ]
    with pipeline as p:
        out = extract(p, records)
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t3_s1", "t1_a"), ("t1_a", "t1_r")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 3), ("dropped/not_top_reply", 1), ("dropped/parent_missing", 1),
            ("dropped/parent_dropped", 1), ("dropped/deleted", 1)]), label="outcomes")


def test_top_n_keeps_best_scores_and_counts_the_rest(pipeline):
    records = [sub(1)] + [com(f"c{i}", "t3_s1", score=i + 1) for i in range(6)]
    with pipeline as p:
        out = extract(p, records, RedditConfig(top_n=2))
        assert_that(pairs_of(out) | beam.Map(lambda x: x["passage_id"]), equal_to(["t1_c5", "t1_c4"]), label="top")
        assert_that(counted(out["outcomes"]), equal_to([("used", 3), ("dropped/not_top_reply", 4)]), label="n")


def test_non_top_reply_that_is_itself_a_parent_counts_once_as_used(pipeline):
    records = [sub(1), com("best", "t3_s1", score=50), com("loser", "t3_s1", score=2), com("r", "t1_loser")]
    with pipeline as p:
        out = extract(p, records)
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t3_s1", "t1_best"), ("t1_loser", "t1_r")]), label="p")
        assert_that(counted(out["outcomes"]), equal_to([("used", 4)]), label="n")


def test_duplicate_records_and_duplicate_pairs(pipeline):
    same = comment_body("same")
    records = [sub(1), com("a", "t3_s1", score=9), com("a", "t3_s1", score=9),  # same comment twice
               sub(2, title="Same question text for both posts?"), sub(3, title="Same question text for both posts?"),
               com("d1", "t3_s2", body=same), com("d2", "t3_s3", body=same)]  # identical pair text
    with pipeline as p:
        out = extract(p, records)
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t3_s1", "t1_a"), ("t3_s2", "t1_d1")]), label="p")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 4), ("dropped/duplicate_record", 1), ("dropped/duplicate_pair", 2)]), label="n")


def test_hot_thread_of_50k_comments_goes_through_the_combiner(pipeline):
    rng = random.Random(7)
    scores = list(range(1, 50_001))
    rng.shuffle(scores)
    records = [sub(1)] + [com(f"h{i}", "t3_s1", score=s) for i, s in enumerate(scores)]
    config = RedditConfig(top_n=3, english_only=False)
    with pipeline as p:
        posts = p | beam.Create([parse_post(r, config) for r in records], reshuffle=False)
        out = posts | reddit.ExtractRedditPairs(config)
        assert_that(pairs_of(out) | beam.Map(lambda x: x["score"]), equal_to([50_000, 49_999, 49_998]), label="top")
        assert_that(counted(out["outcomes"]), equal_to([("used", 4), ("dropped/not_top_reply", 49_997)]), label="n")


def test_replies_of_an_absent_parent_each_get_one_outcome_and_a_parent_role_still_wins(pipeline):
    """5,000 replies to a parent not in the input: parent_missing each (one event per role), except
    the one that is itself the query of a pair (used); refused ones keep their refusal."""
    records = [com(f"m{i}", "t1_gone", score=5 if i % 10 else 0) for i in range(5_000)]
    records += [com("child", "t1_m1")]
    config = RedditConfig(english_only=False)
    with pipeline as p:
        posts = p | beam.Create([parse_post(r, config) for r in records], reshuffle=False)
        out = posts | reddit.ExtractRedditPairs(config)
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t1_m1", "t1_child")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 2), ("dropped/parent_missing", 4_499), ("dropped/low_score", 500)]), label="n")


def test_a_parent_below_min_score_may_be_a_query_when_asked(pipeline):
    records = [sub(1), com("low", "t3_s1", score=0), com("r", "t1_low", score=3),  # low parent, good reply
               com("low2", "t1_low", score=0)]  # a low reply: never a passage, and no parent either
    config = RedditConfig(parent_min_score=-1000, english_only=False)
    with pipeline as p:
        out = extract(p, records, config)
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t1_low", "t1_r")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 2), ("dropped/no_reply", 1), ("dropped/low_score", 1)]), label="outcomes")


def test_a_short_top_reply_and_a_reply_that_only_copies_its_query_give_way(pipeline):
    parent = com("p", "t3_s1", score=2)
    copy = '"' + parent["body"] + '" So true.'
    records = [sub(1), parent,
               com("quip", "t3_s1", score=50, body="So true, and well said."),  # s1's best reply: 5 words
               com("copy", "t1_p", score=9, body=copy), com("copy2", "t1_p", score=8, body=copy),  # p's best two
               com("long", "t1_p", score=1)]
    with pipeline as p:
        out = extract(p, records, RedditConfig(english_only=False))
        # the quip is no passage, so p (next best) is s1's; p's two copies, cut of p's words, are too
        # short, so its next reply (a spare of Top.PerKey) is its passage
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t3_s1", "t1_p"), ("t1_p", "t1_long")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 3), ("dropped/too_few_words", 1), ("dropped/repeats_query", 2)]), label="outcomes")


def test_spare_replies_that_are_not_needed_stay_not_top_replies(pipeline):
    records = [sub(1)] + [com(f"r{i}", "t3_s1", score=10 - i) for i in range(4)]
    with pipeline as p:
        out = extract(p, records, RedditConfig(english_only=False))
        assert_that(pairs_of(out) | beam.Map(ids), equal_to([("t3_s1", "t1_r0")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([("used", 2), ("dropped/not_top_reply", 3)]), label="outcomes")


# ---- end to end through files, the sink and the manifest ----

def write_dump(path, records, extra_lines=()):
    write_zst_ndjson(str(path), records, list(extra_lines))


def run(tmp_path, *inputs, version="v1", extra=()):
    argv = [a for i in inputs for a in ("--input", str(i))] + ["--output", str(tmp_path / "out"), "--version", version]
    out = reddit.run(argv + list(extra))
    return out, json.loads(open(os.path.join(out, "manifest.json")).read())


def read_pairs(out_dir):
    rows = []
    for f in sorted(glob.glob(os.path.join(out_dir, "pairs-*.parquet"))):
        rows += pq.read_table(f).to_pylist()
    return rows


def test_bad_input_is_counted_and_the_job_goes_on(tmp_path):
    good = [sub(1), com("a", "t3_s1"), com("b", "t1_a")]
    write_dump(tmp_path / "RC_good.zst", good, extra_lines=[
        b"this is not json", b'{"id": "x", "body": "no parent"}', b'{"id": "\xff", "body": "x", "parent_id": "t3_a"}'])
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31)
    big = b"".join(json.dumps(com(f"t{i}", "t3_zz", body=os.urandom(40).hex())).encode() + b"\n" for i in range(3000))
    blob = zstandard.ZstdCompressor(compression_params=params).compress(big)
    (tmp_path / "RC_truncated.zst").write_bytes(blob[: len(blob) * 2 // 3])
    out, manifest = run(tmp_path, tmp_path / "RC_*.zst", extra=["--any_language"])
    counts = manifest["counts"]
    assert counts["records_rejected"]["invalid_json"] == 1
    assert counts["records_rejected"]["missing_fields"] == 1
    assert counts["records_rejected"]["invalid_utf8"] == 1
    assert counts["records_rejected"]["truncated_input"] == 1
    assert counts["records_read"] == counts["records_used"] + sum(counts["records_dropped"].values()) + sum(
        counts["records_rejected"].values())
    assert {ids(p) for p in read_pairs(out)} == {("t3_s1", "t1_a"), ("t1_a", "t1_b")}
    rejects = pq.read_table(os.path.join(out, "rejects-00000-of-00001.parquet")).to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["invalid_json", "invalid_utf8", "missing_fields", "truncated_input"]
    assert any(r["snippet"] == "this is not json" for r in rejects)


def test_glob_matching_nothing_is_an_error_at_start(tmp_path):
    with pytest.raises(NoInputFiles, match="matches no file"):
        run(tmp_path, tmp_path / "RC_*.zst")


def test_complete_version_is_not_overwritten_without_flag(tmp_path):
    write_dump(tmp_path / "RC.zst", [sub(1), com("a", "t3_s1")])
    run(tmp_path, tmp_path / "RC.zst")
    with pytest.raises(VersionExists):
        run(tmp_path, tmp_path / "RC.zst")
    out, manifest = run(tmp_path, tmp_path / "RC.zst", extra=["--overwrite"])
    assert manifest["counts"]["pairs"] == 1


def test_rerun_gives_byte_identical_shards(tmp_path):
    records = [sub(i) for i in range(30)] + [com(f"c{i}", f"t3_s{i % 30}", score=i % 7 + 1) for i in range(200)]
    write_dump(tmp_path / "RC.zst", records)
    out1, m1 = run(tmp_path, tmp_path / "RC.zst", version="a", extra=["--num_shards", "3"])
    out2, m2 = run(tmp_path, tmp_path / "RC.zst", version="b", extra=["--num_shards", "3"])
    assert m1["counts"] == m2["counts"] and m1["counts"]["pairs"] == 30
    for s1, s2 in zip(m1["shards"], m2["shards"]):
        assert open(os.path.join(out1, s1["path"]), "rb").read() == open(os.path.join(out2, s2["path"]), "rb").read()
    assert len({p["pair_id"] for p in read_pairs(out1)}) == 30


def test_real_pushshift_dumps(tmp_path, shared_data):
    inputs = shared_data / "reddit" / "*.zst"
    out, manifest = run(tmp_path, inputs, version="t1")
    counts = manifest["counts"]
    assert counts["records_read"] == 1075 + 1007 + 8271
    assert counts["records_read"] == counts["records_used"] + sum(counts["records_dropped"].values()) + sum(
        counts["records_rejected"].values())
    pairs = read_pairs(out)
    assert len(pairs) == counts["pairs"] > 100
    assert all(p["query"].strip() and p["passage"].strip() for p in pairs)
    assert all(p["query_id"].startswith("t1_") and p["passage_id"].startswith("t1_") for p in pairs)
    assert len({p["pair_id"] for p in pairs}) == len(pairs)
    subs = collections.Counter(p["subsource"] for p in pairs)
    assert subs["reddit.com"] > 50  # RC_2005-12's comment->reply threads
    _, again = run(tmp_path, inputs, version="t2")
    assert {p["pair_id"] for p in read_pairs(os.path.join(str(tmp_path / "out"), "reddit", "t2"))} == {
        p["pair_id"] for p in pairs}
    assert again["counts"] == counts


def _counters(tmp_path, records, version):
    """Run the job on one dump: (counters by (namespace, name), the manifest's counts)."""
    write_dump(tmp_path / f"{version}.zst", records, extra_lines=[b"not json"])
    argv = ["--input", str(tmp_path / f"{version}.zst"), "--output", str(tmp_path / "out"), "--version", version]
    counters = run_counting(reddit, argv)
    return counters, json.load(open(tmp_path / "out" / "reddit" / version / "manifest.json"))["counts"]


def test_cleanup_is_counted_apart_from_the_record_counts(tmp_path):
    quoting = com("q", "t3_s1", body="&gt; How do you brew good coffee?\n&gt; asked the title\n\n" + comment_body("q"))
    mojibake = com("m", "t3_s1", body="I donâ\x80\x99t think so, the grind matters more than anything else.")
    bots = [com("b1", "t3_s1", author="MemeInvestor_bot"), com("b2", "t3_s1", author="AutoModerator"),
            com("p", "t3_s1", author="RekSai-Bot")]
    counters, manifest = _counters(tmp_path, [sub(1), quoting, mojibake] + bots, "c")
    cleanup = {name: n for (ns, name), n in counters.items() if ns == CLEANUP_NAMESPACE}
    assert cleanup == {"quoted_lines_removed": 2, "mojibake_repaired": 1, "bot_known_name": 1, "bot_name_shape": 1}
    assert manifest["records_dropped"]["bot_author"] == 2  # RekSai-Bot is a person: kept
    ours = {name for ns, name in counters if ns == "ccpairs"}
    assert ours == {"records_read", "used", "rejected/invalid_json"} | {f"dropped/{r}" for r in manifest["records_dropped"]}


def test_beam_counters_carry_the_manifest_names_and_numbers(tmp_path):
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.options import parse_options

    write_dump(tmp_path / "RC.zst", [sub(1), com("a", "t3_s1"), com("b", "t3_s1", score=0), com("c", "t1_x")],
               extra_lines=[b"not json"])
    argv = ["--input", str(tmp_path / "RC.zst"), "--output", str(tmp_path / "out"), "--version", "m"]
    options = parse_options(argv, reddit.RedditOptions)
    pipeline = beam.Pipeline(runner=FnApiRunner(), options=options)
    reddit.build_pipeline(pipeline, options)
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
                if c.key.metric.namespace == "ccpairs"}
    manifest = json.load(open(tmp_path / "out" / "reddit" / "m" / "manifest.json"))["counts"]
    expected = {"records_read": manifest["records_read"], "used": manifest["records_used"]}
    expected.update({f"dropped/{k}": v for k, v in manifest["records_dropped"].items()})
    expected.update({f"rejected/{k}": v for k, v in manifest["records_rejected"].items()})
    assert counters == expected
    assert expected == {"records_read": 5, "used": 2, "dropped/low_score": 1, "dropped/parent_missing": 1,
                        "rejected/invalid_json": 1}
