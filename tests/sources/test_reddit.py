"""One small record per Reddit rule: parsing, rejects and every drop reason."""

import json

import pytest

from schemas import reasons as R
from sources.errors import RejectRecord
from sources.reddit import (RedditConfig, decode_line, drop_reason, make_reddit_pair, parse_post,
                            reply_rank_key)

ENGLISH = "This is a perfectly reasonable English comment about brewing coffee at home."


def comment(**kw):
    base = {"id": "c1", "body": ENGLISH, "parent_id": "t3_s1", "link_id": "t3_s1", "author": "alice",
            "score": 5, "created_utc": 1134365188, "subreddit": "coffee"}
    base.update(kw)
    return base


def submission(**kw):
    base = {"id": "s1", "title": "How do I brew better coffee at home?", "selftext": "", "author": "bob",
            "score": 10, "created_utc": 1569888142, "subreddit": "coffee", "over_18": False,
            "removed_by_category": None}
    base.update(kw)
    return base


def reason(obj, config=RedditConfig(), english=True):
    return drop_reason(parse_post(obj, config), config, is_english=lambda text: english)


def test_submission_and_comment_are_told_apart_by_fields():
    s = parse_post(submission())
    c = parse_post(comment())
    assert (s.kind, s.fullname, s.parent) == ("submission", "t3_s1", None)
    assert (c.kind, c.fullname, c.parent) == ("comment", "t1_c1", "t3_s1")


def test_2005_era_fields_parse():
    c = parse_post({"body": ENGLISH, "id": "c13", "parent_id": "t3_17863", "link_id": "t3_17863",
                    "author": "frjo", "score": "2", "created_utc": "1134365188", "ups": 2})
    assert c.score == 2 and c.created_utc == 1134365188 and c.subreddit == ""


def test_query_is_title_plus_selftext_cleaned():
    s = parse_post(submission(selftext="I use **fresh** beans &amp; a [grinder](http://x.com)."))
    assert s.text == "How do I brew better coffee at home?\n\nI use fresh beans & a grinder."
    assert parse_post(submission(selftext="body"), RedditConfig(include_selftext=False)).text.endswith("home?")


@pytest.mark.parametrize("obj, why", [
    ([1, 2], R.REJECT_NOT_AN_OBJECT),
    ({"id": "x"}, R.REJECT_UNKNOWN_RECORD_TYPE),
    ({"id": "x", "title": "t", "body": "b"}, R.REJECT_UNKNOWN_RECORD_TYPE),
    ({"body": "b", "parent_id": "t3_a"}, R.REJECT_MISSING_FIELDS),
    ({"id": "x", "body": "b"}, R.REJECT_MISSING_FIELDS),
    ({"id": 5, "body": "b", "parent_id": "t3_a"}, R.REJECT_BAD_FIELD_TYPE),
    ({"id": "x", "body": "b", "parent_id": "t3_a", "score": "many"}, R.REJECT_BAD_FIELD_TYPE),
    ({"id": "x", "body": "b", "parent_id": "zzz"}, R.REJECT_BAD_FIELD_TYPE),
])
def test_malformed_records_are_rejected_with_reason(obj, why):
    with pytest.raises(RejectRecord) as info:
        parse_post(obj)
    assert info.value.reason == why


def test_invalid_utf8_and_json_lines():
    with pytest.raises(RejectRecord) as info:
        decode_line(b'{"id": "\xff\xfe"}')
    assert info.value.reason == R.REJECT_INVALID_UTF8
    with pytest.raises(RejectRecord) as info:
        decode_line(b'{"id": "c1", "body": ')
    assert info.value.reason == R.REJECT_INVALID_JSON
    assert decode_line(json.dumps(comment()).encode()).fullname == "t1_c1"


def test_good_records_pass():
    assert reason(comment()) is None
    assert reason(submission()) is None


@pytest.mark.parametrize("obj, why", [
    (comment(body="[deleted]"), R.DROP_DELETED),
    (comment(body="[removed]"), R.DROP_DELETED),
    (submission(selftext="[removed]"), R.DROP_DELETED),
    (submission(removed_by_category="moderator"), R.DROP_DELETED),
    (comment(author="AutoModerator"), R.DROP_BOT_AUTHOR),
    (comment(author="WikiTextBot"), R.DROP_BOT_AUTHOR),
    (comment(author="some_helper_bot"), R.DROP_BOT_AUTHOR),
    (comment(score=0), R.DROP_LOW_SCORE),
    (comment(score=-4), R.DROP_LOW_SCORE),
    (comment(body="https://imgur.com/a/xyz123"), R.DROP_LINK_ONLY),
    (comment(body="[](https://imgur.com/a/xyz123)"), R.DROP_LINK_ONLY),
    (comment(body="lol same"), R.DROP_TOO_SHORT),
    (submission(title="Why?"), R.DROP_TOO_SHORT),
    (comment(body="a" * 4097), R.DROP_TOO_LONG),
    (comment(body="**  **"), R.DROP_EMPTY_TEXT),
])
def test_each_filter_rule(obj, why):
    assert reason(obj) == why


def test_passage_of_exactly_4096_chars_is_kept():
    assert reason(comment(body="word " * 819 + "a")) is None  # 4096 characters


def test_nsfw_only_when_asked():
    assert reason(submission(over_18=True)) is None
    assert reason(submission(over_18=True), RedditConfig(drop_nsfw=True)) == R.DROP_NSFW


def test_non_english_uses_the_injected_detector():
    assert reason(comment(), english=False) == R.DROP_NON_ENGLISH
    assert reason(comment(), RedditConfig(english_only=False), english=False) is None


def test_removed_submission_titles_can_be_kept():
    config = RedditConfig(drop_removed_submissions=False)
    post = parse_post(submission(selftext="[removed]"), config)
    assert drop_reason(post, config, is_english=lambda t: True) is None
    assert post.text == "How do I brew better coffee at home?"


def test_bots_can_be_kept():
    assert reason(comment(author="AutoModerator"), RedditConfig(drop_bots=False)) is None


def test_reply_rank_prefers_score_then_earlier():
    a = parse_post(comment(id="a", score=5, created_utc=100))
    b = parse_post(comment(id="b", score=5, created_utc=50))
    c = parse_post(comment(id="c", score=9, created_utc=500))
    assert sorted([a, b, c], key=reply_rank_key, reverse=True) == [c, b, a]


def test_pair_ids_are_stable_and_columns_filled():
    s, c = parse_post(submission()), parse_post(comment())
    pair = make_reddit_pair(s, c)
    assert pair == make_reddit_pair(s, c)
    assert (pair["query_id"], pair["passage_id"], pair["subsource"], pair["score"]) == ("t3_s1", "t1_c1", "coffee", 5)
    assert pair["created_at"].year == 2005
