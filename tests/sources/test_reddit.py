"""One small record per Reddit rule: parsing, rejects and every drop reason."""

import functools
import json
import re

import pytest
import zstandard

from schemas import reasons
from sources.errors import RejectRecord
from sources.reddit import (BOT_BY_LIST, BOT_BY_SHAPE, MOJIBAKE_REPAIRED, QUOTED_LINES_REMOVED, RedditConfig, bot_rule,
                            decode_line, drop_reason, make_reddit_pair, may_be_reply, parse_post, reply_passage,
                            reply_rank_key, reply_refusal)

ENGLISH = ("This is a perfectly reasonable English comment about brewing coffee at home, long enough to be "
           "a passage: a reply needs 20 words.")


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
    ([1, 2], reasons.REJECT_NOT_AN_OBJECT),
    ({"id": "x"}, reasons.REJECT_UNKNOWN_RECORD_TYPE),
    ({"id": "x", "title": "t", "body": "b"}, reasons.REJECT_UNKNOWN_RECORD_TYPE),
    ({"body": "b", "parent_id": "t3_a"}, reasons.REJECT_MISSING_FIELDS),
    ({"id": "x", "body": "b"}, reasons.REJECT_MISSING_FIELDS),
    ({"id": 5, "body": "b", "parent_id": "t3_a"}, reasons.REJECT_BAD_FIELD_TYPE),
    ({"id": "x", "body": "b", "parent_id": "t3_a", "score": "many"}, reasons.REJECT_BAD_FIELD_TYPE),
    ({"id": "x", "body": "b", "parent_id": "zzz"}, reasons.REJECT_BAD_FIELD_TYPE),
])
def test_malformed_records_are_rejected_with_reason(obj, why):
    with pytest.raises(RejectRecord) as info:
        parse_post(obj)
    assert info.value.reason == why


def test_invalid_utf8_and_json_lines():
    with pytest.raises(RejectRecord) as info:
        decode_line(b'{"id": "\xff\xfe"}')
    assert info.value.reason == reasons.REJECT_INVALID_UTF8
    with pytest.raises(RejectRecord) as info:
        decode_line(b'{"id": "c1", "body": ')
    assert info.value.reason == reasons.REJECT_INVALID_JSON
    assert decode_line(json.dumps(comment()).encode()).fullname == "t1_c1"


def test_good_records_pass():
    assert reason(comment()) is None
    assert reason(submission()) is None


@pytest.mark.parametrize("obj, why", [
    (comment(body="[deleted]"), reasons.DROP_DELETED),
    (comment(body="[removed]"), reasons.DROP_DELETED),
    (submission(title="[deleted]"), reasons.DROP_DELETED),
    (comment(author="AutoModerator"), reasons.DROP_BOT_AUTHOR),
    (comment(author="WikiTextBot"), reasons.DROP_BOT_AUTHOR),
    (comment(author="some_helper_bot"), reasons.DROP_BOT_AUTHOR),
    (comment(score=0), reasons.DROP_LOW_SCORE),
    (comment(score=-4), reasons.DROP_LOW_SCORE),
    (comment(body="https://imgur.com/a/xyz123"), reasons.DROP_LINK_ONLY),
    (comment(body="[](https://imgur.com/a/xyz123)"), reasons.DROP_LINK_ONLY),
    (comment(body="lol same"), reasons.DROP_TOO_SHORT),
    (submission(title="Why?"), reasons.DROP_TOO_SHORT),
    (comment(body="a" * 4097), reasons.DROP_TOO_LONG),
    (comment(body="**  **"), reasons.DROP_EMPTY_TEXT),
])
def test_each_filter_rule(obj, why):
    assert reason(obj) == why


def test_passage_of_exactly_4096_chars_is_kept():
    assert reason(comment(body="word " * 819 + "a")) is None  # 4096 characters


def test_nsfw_only_when_asked():
    assert reason(submission(over_18=True)) is None
    assert reason(submission(over_18=True), RedditConfig(drop_nsfw=True)) == reasons.DROP_NSFW


def test_non_english_uses_the_injected_detector():
    assert reason(comment(), english=False) == reasons.DROP_NON_ENGLISH
    assert reason(comment(), RedditConfig(english_only=False), english=False) is None


@pytest.mark.parametrize("taken_down", [{"selftext": "[removed]"}, {"selftext": "[deleted]"},
                                        {"selftext": "my question, since removed", "removed_by_category": "moderator"}])
def test_removed_submissions_keep_their_title_as_the_query(taken_down):
    post = parse_post(submission(**taken_down))
    assert reason(submission(**taken_down)) is None
    assert post.text == "How do I brew better coffee at home?"  # the title alone, never the removed text
    config = RedditConfig(drop_removed_submissions=True)
    assert reason(submission(**taken_down), config) == reasons.DROP_DELETED


@functools.lru_cache(maxsize=None)
def _records(path):
    raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(open(path, "rb")).read()
    return {obj["id"]: obj for obj in map(json.loads, raw.decode("utf-8").splitlines())}


def real(shared_data, record_id, dump="RC_2005-12.zst"):
    return _records(str(shared_data / "reddit" / dump))[record_id]


def test_quoted_parent_lines_are_dropped_from_a_real_reply(shared_data):
    parent, reply = (parse_post(real(shared_data, i)) for i in ("c1841", "c1849"))
    quoted = "If people use the internet to reinforce their pre-existing views"
    assert quoted in parent.text and quoted in reply.raw_text
    assert quoted not in reply.text  # the reply no longer contains its own query
    assert reply.text.startswith("Your proved his point exactly.")
    assert reply.cleanup == ((QUOTED_LINES_REMOVED, 1),)
    kept = parse_post(real(shared_data, "c1849"), RedditConfig(drop_quotes=False))
    assert quoted in kept.text and kept.cleanup == ()


def test_a_quote_runs_to_the_blank_line_and_spoilers_are_no_quotes():
    post = parse_post(comment(body="&gt; quoted line\nlazy continuation\n\nMy answer, &gt;!not a spoiler!&lt; "
                                   "here.\n&gt;!a spoiler line!&lt;"))
    assert post.text == "My answer, not a spoiler here.\na spoiler line"
    assert post.cleanup == ((QUOTED_LINES_REMOVED, 2),)
    assert parse_post(submission(selftext="&gt; a quote in a post stays")).text.endswith("a quote in a post stays")


def test_a_reply_that_is_only_a_quote_becomes_empty(shared_data):
    post = parse_post(real(shared_data, "evn2ixd", "RC_2019-08.first1007.zst"))  # ">*Windows has detected...*"
    assert post.text == "" and drop_reason(post, RedditConfig(), is_english=lambda t: True) == reasons.DROP_EMPTY_TEXT


@pytest.mark.parametrize("record_id, broken, repaired", [
    ("c20", "don\u00e2\x80\x99t", "don\u2019t"),
    ("c1970", "Th\u00c3\u00a9orie", "Th\u00e9orie"),
    ("c1990", "\u00e2\x80\x9cforeign\u00e2\x80\x9d", "\u201cforeign\u201d"),
])
def test_mojibake_in_real_comments_is_repaired(shared_data, record_id, broken, repaired):
    post = parse_post(real(shared_data, record_id))
    assert broken in post.raw_text and broken not in post.text and repaired in post.text
    assert dict(post.cleanup)[MOJIBAKE_REPAIRED] == 1


@pytest.mark.parametrize("record_id, typed_tag, text_kept", [
    ("c1773", "&lt;i&gt;not&lt;/i&gt;", "Part of the fun is not having instructions."),
    ("c1943", "&lt;i&gt;\"Just look", "\"Just look at the speed of Basecamp"),
    ("c2032", "&lt;a href=", "to others: Usenet thread"),
])
def test_html_tags_typed_into_real_2005_comments_are_removed(shared_data, record_id, typed_tag, text_kept):
    post = parse_post(real(shared_data, record_id))
    assert typed_tag in post.raw_text and text_kept in " ".join(post.text.split())
    assert "<i>" not in post.text and "</i>" not in post.text and "<a " not in post.text


def test_html_tags_in_every_real_reddit_text_are_removed_and_angle_wording_kept(shared_data):
    tag = re.compile(r"</?(?:a|b|i|em|strong|p|br|u|s|code|pre)\b[^<>]*>", re.I)
    texts = {i: parse_post(obj).text for i, obj in _records(str(shared_data / "reddit" / "RC_2005-12.zst")).items()}
    assert not [i for i, text in texts.items() if tag.search(text)]
    assert "<web> because" in texts["c1708"]  # angle brackets as a writer's emphasis are words, not tags


def test_clean_unicode_is_left_alone():
    post = parse_post(comment(body="Un café naïve, s’il vous plaît: 10 € — ok"))
    assert post.text == "Un café naïve, s’il vous plaît: 10 € — ok" and post.cleanup == ()


def test_code_blocks_in_a_comment_keep_their_indentation():
    body = "Try:\n\n    def f(x):\n        return  x &lt; 2\n\nor\n\n```\nif  a:\n    b()\n```\n**done**"
    assert parse_post(comment(body=body)).text == "Try:\n\ndef f(x):\n    return  x < 2\n\nor\n\nif  a:\n    b()\n\ndone"


def test_bots_can_be_kept():
    assert reason(comment(author="AutoModerator"), RedditConfig(drop_bots=False)) is None


@pytest.mark.parametrize("author, rule", [
    ("AutoModerator", BOT_BY_LIST), ("Zozbot", BOT_BY_LIST), ("gifv-bot", BOT_BY_LIST), ("mechkbot", BOT_BY_LIST),
    ("MemeInvestor_bot", BOT_BY_SHAPE), ("Edgar_The_Pug_Bot", BOT_BY_SHAPE), ("VerticalGifBot", BOT_BY_SHAPE),
    ("NoSkinBot", BOT_BY_SHAPE), ("patience_bot", BOT_BY_SHAPE), ("SOME_HELPER_BOT", BOT_BY_SHAPE),
    # people, whom the old "...bot" suffix rule dropped: a hyphenated name, "robot", a surname
    ("RekSai-Bot", None), ("forgive-Nice-Bot", None), ("Rubiksrobot", None), ("JohnTalbot", None), ("botany_fan", None),
])
def test_bots_by_known_name_or_exact_shape(author, rule):
    assert bot_rule(author, RedditConfig()) == rule
    assert reason(comment(author=author)) == (reasons.DROP_BOT_AUTHOR if rule else None)


def test_a_person_named_like_a_bot_in_the_real_sample_stays(shared_data):
    obj = next(o for o in _records(str(shared_data / "reddit" / "RC_2019-08.first1007.zst")).values()
               if o["author"] == "Rubiksrobot")
    assert reason(obj) is None  # a comment on House, by a person


def test_parent_score_is_a_setting():
    strict, relaxed = RedditConfig(), RedditConfig(parent_min_score=-100)
    post = parse_post(comment(score=0))
    assert drop_reason(post, strict, is_english=lambda t: True) == reasons.DROP_LOW_SCORE
    assert drop_reason(post, relaxed, is_english=lambda t: True) is None  # may be a query...
    assert not may_be_reply(post, relaxed) and may_be_reply(parse_post(comment(score=1)), relaxed)  # ...not a passage
    with pytest.raises(ValueError, match="parent_min_score"):
        RedditConfig(parent_min_score=2)


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


def test_a_short_reply_is_no_passage_but_may_be_a_query():
    quip = parse_post(comment(body="So true! https://example.com/a-long-link-that-is-no-word and https://x.org"))
    assert drop_reason(quip, RedditConfig(), is_english=lambda t: True) is None  # kept: it may be a query
    assert reply_refusal(quip, RedditConfig()) == reasons.DROP_TOO_FEW_WORDS and not may_be_reply(quip, RedditConfig())
    assert may_be_reply(quip, RedditConfig(min_reply_words=2))
    assert reply_refusal(parse_post(comment(score=0)), RedditConfig(parent_min_score=0)) == reasons.DROP_LOW_SCORE
    with pytest.raises(ValueError, match="min_reply_words"):
        RedditConfig(min_reply_words=-1)


@pytest.mark.parametrize("parent_id, reply_id, passage_start", [
    # quoted with "..." (2005 Reddit had no > quotes): the quote goes, the answer stays
    ("c1936", "c1943", "Since you mentioned it, I gave Basecamp a try."),
    ("c2596", "c2597", "Agreed.\n\nI believe you must pick the best language for a task"),
    # what is left is under 20 words: "Uh, could it be that some men are psycho control freaks...",
    # and the parent's sentence pasted without marks + "I suggest that you RTFA."
    ("c2684", "c2698", None),
    ("c2138", "c2141", None),
])
def test_text_a_real_reply_copies_from_its_query_is_cut(shared_data, parent_id, reply_id, passage_start):
    parent, reply = (parse_post(real(shared_data, i)) for i in (parent_id, reply_id))
    passage, cut = reply_passage(parent, reply, RedditConfig())
    assert cut >= 8 and (passage is None if passage_start is None else passage.startswith(passage_start))
    assert reply_passage(parent, reply, RedditConfig(drop_copied_query_text=False)) == (reply.text, 0)
