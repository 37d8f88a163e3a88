"""Beam tests of the Stack Exchange graph: the accepted-answer join, top-N, accounting, unsafe files, real dumps."""

import glob
import json
import os

import apache_beam as beam
import py7zr
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that, equal_to

import pipelines.stackexchange
import sources.stackexchange
from pipelines import accounting
from sources.demo_inputs.stackexchange import (BILLION_LAUGHS, XXE, generate_rows, posts_xml, write_bytes,
                                               write_demo_dumps)
from sources.formats.readers import RawLine, iter_lines
from sources.formats.sevenzip import SevenZipMemberReader
from sources.formats.stackexchange_xml import is_structure_line, strip_line

SITE = "beer.stackexchange.com"
BODY = "<p>Dry hopping adds aroma without much bitterness; add the hops after fermentation. ({})</p>"
CONFIG = sources.stackexchange.StackExchangeConfig(english_only=False)  # the join is under test here, not language ID


def q(post_id, accepted=None, title="What is dry hopping and why do brewers do it?", body="<p>Asking for a friend.</p>"):
    row = {"Id": str(post_id), "PostTypeId": "1", "Score": "3", "Title": title, "Body": body,
           "CreationDate": "2020-01-01T00:00:00.000"}
    if accepted is not None:
        row["AcceptedAnswerId"] = str(accepted)
    return sources.stackexchange.post_from_row(row, SITE, CONFIG)


def a(post_id, parent, score):
    row = {"Id": str(post_id), "PostTypeId": "2", "ParentId": str(parent), "Score": str(score),
           "Body": BODY.format(post_id), "CreationDate": f"2020-01-02T00:00:{post_id % 60:02d}.000"}
    return sources.stackexchange.post_from_row(row, SITE, CONFIG)


def ids(row):
    """(question id, answer id) of a pair as the job hands it to the sink (accounting.pair_row)."""
    pair = accounting.pair_of_row(row)
    return (pair["query_id"].rsplit("/", 1)[1], pair["passage_id"].rsplit("/", 1)[1])


def counted(outcomes):
    """Outcome strings and (outcome, n) counts -> (outcome, total)."""
    return outcomes | "AsCounts" >> beam.Map(_as_count) | "Sum" >> beam.CombinePerKey(sum)


def _as_count(outcome):
    return (outcome, 1) if isinstance(outcome, str) else (outcome[0], outcome[1])


def test_join_picks_accepted_or_best_upvoted_and_accounts_for_every_post(pipeline):
    posts = [
        q(1, accepted=11), a(11, 1, 0), a(12, 1, 9), a(12, 1, 9),  # accepted but unvoted: best upvoted wins; 12 twice
        q(2, accepted=21), a(21, 2, -3), a(22, 2, 2), a(23, 2, 5),  # accepted is net-downvoted: best upvoted wins
        q(3), a(31, 3, -1), a(32, 3, 0),  # only unvoted and negative answers: no pair
        q(4), q(4),  # unanswered, and in the input twice
        a(51, 5, 4),  # its question is not in the input
        q(6, title="Hops?", body=""), a(61, 6, 4),  # the question is too short: its answer's parent was dropped
        sources.stackexchange.post_from_row({"Id": "7", "PostTypeId": "5"}, SITE),  # a tag wiki
    ]
    with pipeline as p:
        out = p | beam.Create(posts) | pipelines.stackexchange.ExtractStackExchangePairs(CONFIG)
        assert_that(out["pair_rows"] | beam.Map(ids), equal_to([("1", "12"), ("2", "23")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 4), ("dropped/not_selected_answer", 1), ("dropped/low_score", 4), ("dropped/no_answer", 2),
            ("dropped/question_missing", 1), ("dropped/too_short", 1), ("dropped/parent_dropped", 1),
            ("dropped/duplicate_record", 2), ("dropped/other_post_type", 1)]), label="outcomes")


def test_hot_question_keeps_accepted_plus_top_n_in_bounded_memory(pipeline):
    config = sources.stackexchange.StackExchangeConfig(english_only=False, top_n=2)
    posts = [q(1, accepted=5000)] + [a(1000 + i, 1, i) for i in range(1, 401)] + [a(5000, 1, 1)]
    with pipeline as p:
        out = p | beam.Create(posts) | pipelines.stackexchange.ExtractStackExchangePairs(config)
        assert_that(out["pair_rows"] | beam.Map(ids), equal_to([("1", "5000"), ("1", "1400")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([("used", 3), ("dropped/not_selected_answer", 399)]),
                    label="outcomes")


def _bomb_with_rows(n_rows: int) -> bytes:
    """A billion-laughs prolog followed by enough good rows that the file is split into ranges."""
    rows = b"".join(posts_xml(generate_rows(n_rows, seed=5), bom=False))
    rows = rows[rows.index(b"<posts>") + len(b"<posts>"):]
    return BILLION_LAUGHS[: BILLION_LAUGHS.index(b"<posts>") + len(b"<posts>")] + rows


def _posts_of(path):
    if path.endswith(".7z"):
        with open(path, "rb") as fh, SevenZipMemberReader(fh, "Posts.xml") as reader:
            lines = [i.data for i in iter_lines(reader, "Posts.xml")]
    else:
        with open(path, "rb") as fh:
            lines = [i.data for i in iter_lines(fh, path) if isinstance(i, RawLine)]
    posts = []
    for line in lines:
        if not is_structure_line(strip_line(line)):
            try:
                posts.append(sources.stackexchange.parse_row_line(line, sources.stackexchange.site_from_path(path)))
            except Exception:  # noqa: BLE001 - the malformed demo rows
                pass
    return posts


def _read_version(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    pairs = pq.read_table(sorted(glob.glob(os.path.join(directory, "pairs-*.parquet")))).to_pylist()
    rejects = pq.read_table(sorted(glob.glob(os.path.join(directory, "rejects-*.parquet")))).to_pylist()
    return manifest, pairs, rejects


def test_unsafe_and_broken_files_are_refused_while_the_others_yield_pairs(tmp_path):
    demo = write_demo_dumps(str(tmp_path / "in"), n_questions=60)
    bomb = write_bytes(str(tmp_path / "in" / "bomb.stackexchange.com" / "Posts.xml"), _bomb_with_rows(2500))
    assert os.path.getsize(bomb) > 1 << 20  # split into two ranges at --split_mb 1
    xxe = write_bytes(str(tmp_path / "in" / "xxe.stackexchange.com-2021-01.Posts.xml"), XXE)
    broken = write_bytes(str(tmp_path / "in" / "broken.stackexchange.com.7z"), b"7z? no")
    out = pipelines.stackexchange.run(
        [
            "--input",
            str(tmp_path / "in" / "*.7z"),
            "--input",
            str(tmp_path / "in" / "*" / "Posts.xml"),
            "--input",
            xxe,
            "--output",
            str(tmp_path / "out"),
            "--version",
            "v1",
            "--split_mb",
            "1",
        ]
    )
    manifest, pairs, rejects = _read_version(out)
    counts = manifest["counts"]
    assert counts["records_rejected"] == {"unsafe_xml": 3, "invalid_xml": 1, "unreadable_file": 1}  # bomb, xxe, &nbsp; row
    assert counts["records_read"] == (counts["records_used"] + sum(counts["records_dropped"].values())
                                      + sum(counts["records_rejected"].values()))
    assert {p["subsource"] for p in pairs} == {"demo.stackexchange.com", "demo2.stackexchange.com"}
    by_file = {r["input_file"]: r for r in rejects if r["position"] is None}
    assert by_file[bomb]["reason"] == by_file[xxe]["reason"] == "unsafe_xml"
    assert "DOCTYPE" in by_file[bomb]["detail"] and by_file[broken]["reason"] == "unreadable_file"
    expected = sources.stackexchange.pairs_in_memory(_posts_of(demo[0]) + _posts_of(demo[1]))
    assert sorted(p["pair_id"] for p in pairs) == sorted(p["pair_id"] for p in expected)


def test_real_sample_bare_split_and_7z_give_the_same_pairs_and_reruns_are_identical(tmp_path, shared_data):
    bare = str(shared_data / "stackexchange" / "beer.stackexchange.com-2017-03.Posts.xml")
    archive = tmp_path / "beer.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as z:
        z.write(bare, "Posts.xml")
    common = ["--output", str(tmp_path / "out")]
    split = pipelines.stackexchange.run(["--input", bare, "--split_mb", "1", "--version", "bare"] + common)
    from_7z = pipelines.stackexchange.run(["--input", str(archive), "--version", "7z"] + common)
    shards = {path: open(path, "rb").read() for path in glob.glob(os.path.join(split, "*.parquet"))}
    assert (
        pipelines.stackexchange.run(["--input", bare, "--split_mb", "1", "--version", "bare", "--overwrite"] + common)
        == split
    )
    assert shards == {path: open(path, "rb").read() for path in glob.glob(os.path.join(split, "*.parquet"))}
    manifest, pairs, rejects = _read_version(split)
    manifest_7z, pairs_7z, _ = _read_version(from_7z)
    assert manifest["counts"]["records_read"] == 2354 and not rejects
    assert manifest["counts"] == manifest_7z["counts"]
    assert sorted(p["pair_id"] for p in pairs) == sorted(p["pair_id"] for p in pairs_7z)
    assert len(pairs) > 500 and {p["subsource"] for p in pairs} == {SITE}
    assert all(p["query_id"].startswith(SITE + "/q/") and p["passage_id"].startswith(SITE + "/a/") for p in pairs)
    first = {p["query_id"]: p for p in pairs}[SITE + "/q/1"]
    assert first["passage_id"] == SITE + "/a/4" and first["score"] == 13  # question 1 accepted answer 4
    assert sorted(p["pair_id"] for p in pairs) == sorted(
        p["pair_id"] for p in sources.stackexchange.pairs_in_memory(_posts_of(bare))
    )


def test_meta_sites_and_closed_questions_are_counted_with_their_own_reasons(pipeline):
    meta = "bicycles.meta.stackexchange.com"
    closed_row = {"Id": "8", "PostTypeId": "1", "Score": "3", "Title": "Which is the best beer in the world, really?",
                  "Body": "<p>Opinions welcome.</p>", "ClosedDate": "2020-02-01T00:00:00.000"}
    config = sources.stackexchange.StackExchangeConfig(english_only=False, drop_closed_questions=True)
    posts = [
        sources.stackexchange.post_from_row(
            {
                "Id": "1",
                "PostTypeId": "1",
                "Score": "3",
                "Title": "Opinion and Debate tag, again?",
                "Body": "<p>Should we keep it?</p>",
            },
            meta,
            config,
        ),
        sources.stackexchange.post_from_row(
            {"Id": "2", "PostTypeId": "2", "ParentId": "1", "Score": "5", "Body": BODY.format(2)}, meta, config
        ),
        sources.stackexchange.post_from_row(closed_row, SITE, config),
        a(81, 8, 4),
        q(9),
        a(91, 9, 2),
    ]
    with pipeline as p:
        out = p | beam.Create(posts) | pipelines.stackexchange.ExtractStackExchangePairs(config)
        assert_that(out["pair_rows"] | beam.Map(ids), equal_to([("9", "91")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([
            ("used", 2), ("dropped/meta_site", 2), ("dropped/closed_question", 1), ("dropped/parent_dropped", 1)]),
            label="outcomes")


def test_duplicate_pairs_leave_one_and_a_question_with_another_kept_pair_is_used(pipeline):
    """Questions 2 and 10 share a title and answer text X: one (title, X) pair is kept, the smallest
    (query_id, passage_id), q/10's; question 2 still has its pair with Y, so it is used."""
    config = sources.stackexchange.StackExchangeConfig(english_only=False, top_n=2)
    title = "Why do some brewers add hops twice during the boil?"
    same = "<p>Early hops give bitterness and late hops give aroma, so brewers add them twice.</p>"
    posts = [q(2, title=title), answer_row(21, 2, 5, same), answer_row(22, 2, 3, BODY.format(22)),
             q(10, title=title), answer_row(101, 10, 4, same),
             q(30, title=title), answer_row(301, 30, 4, same)]  # q/30's only pair is a duplicate
    with pipeline as p:
        out = p | beam.Create(posts) | pipelines.stackexchange.ExtractStackExchangePairs(config)
        assert_that(out["pair_rows"] | beam.Map(ids), equal_to([("10", "101"), ("2", "22")]), label="pairs")
        assert_that(counted(out["outcomes"]), equal_to([("used", 4), ("dropped/duplicate_pair", 3)]),
                    label="outcomes")


def answer_row(post_id, parent, score, body):
    row = {"Id": str(post_id), "PostTypeId": "2", "ParentId": str(parent), "Score": str(score), "Body": body,
           "CreationDate": f"2020-01-02T00:00:{post_id % 60:02d}.000"}
    return sources.stackexchange.post_from_row(row, SITE, CONFIG)


def _thread_rows(posts):
    """(block key, Post) rows as the read batch makes them."""
    decide = pipelines.stackexchange._Decide(sources.stackexchange.StackExchangeConfig(english_only=False, top_n=2))
    return [out for post in posts for out in decide(post) if isinstance(out, tuple) and not hasattr(out, "outcome")]


def _combine(fn, chunks, order):
    accumulators = []
    for chunk in chunks:
        acc = fn.create_accumulator()
        for _, row in chunk:
            acc = fn.add_input(acc, row)
        accumulators.append(fn.compact(acc))
    return fn.extract_output(fn.merge_accumulators([accumulators[i] for i in order]))


def test_threads_combiner_holds_top_n_plus_accepted_whatever_the_order_and_the_split():
    """A hot question (400 answers + the accepted one, with a second copy of an answer), its rows cut
    into bundles in any order: the same thread, and once the question is in, a bounded hand."""
    import random

    fn = pipelines.stackexchange.ThreadsFn(cap=2, min_score=1)
    rows = _thread_rows([q(1, accepted=5000)] + [a(1000 + i, 1, i) for i in range(1, 401)] + [a(5000, 1, 1)]
                        + [a(1200, 1, 200)])
    expected = None
    for seed in range(6):
        shuffled = list(rows)
        random.Random(seed).shuffle(shuffled)
        chunks = [shuffled[i::3] for i in range(3)]
        block = _combine(fn, chunks, random.Random(seed).sample(range(3), 3))
        thread = block[1]
        question, copies, dropped, claims, hand, folded, dups, drops = thread
        assert (question.post_id, copies, dropped, claims, dups, drops) == (1, 1, False, [5000], 1, [])
        assert sorted(p.post_id for p in hand) == [1399, 1400, 5000] and len(folded) == 398
        expected = expected or sorted(hand)
        assert sorted(hand) == expected
    ordered = fn.create_accumulator()
    for _, row in rows:  # the question first, as in a dump: the hand never grows past 2 * top_n + claims + 4
        ordered = fn.add_input(ordered, row)
        assert len(ordered[1][4]) <= 2 * 2 + 1 + 4


def test_of_two_copies_of_an_answer_the_more_recent_wins_whether_the_other_was_folded_or_not():
    """Two dumps of one site: answer 12's newer copy (score 9) beats answer 11 (score 5), while its older
    copy (score 4) ranks below it; whichever copy comes first, and in whichever bundle, the newer one is the pair's."""
    import itertools

    Post = pipelines.stackexchange.Post
    question = Post(1, 10, 10, None, 3, 100, 500, "What is dry hopping and why do brewers do it?", "", "")
    a11 = Post(2, 10, 11, None, 5, 200, 600, "Eleven: hops after fermentation.", "", "")
    old12 = Post(2, 10, 12, None, 4, 300, 700, "Twelve, as first written.", "", "")
    new12 = Post(2, 10, 12, None, 9, 300, 900, "Twelve, as edited later.", "", "")
    fn, threads = pipelines.stackexchange.ThreadsFn(cap=1, min_score=1), pipelines.stackexchange.Threads(1, 1)
    for order in itertools.permutations([question, a11, old12, new12]):
        for cut in range(1, 4):
            accumulators = []
            for part in (order[:cut], order[cut:]):
                acc = fn.create_accumulator()
                for post in part:
                    acc = fn.add_input(acc, post)
                for thread in acc.values():  # as a bundle with many answers does: fold what is not in the top
                    threads.settle(thread)
                accumulators.append(acc)
            thread = fn.extract_output(fn.merge_accumulators(accumulators))[10]
            assert [p.text for p in thread[4]] == ["Twelve, as edited later."], (order, cut)
            assert [entry[0] for entry in thread[5]] == [11] and thread[6] == 1, (order, cut)
