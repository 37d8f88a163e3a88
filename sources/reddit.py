"""Reddit (Pushshift) records: raw JSON object -> typed post -> drop reason -> (query, passage) pair.

Submissions and comments are told apart by their fields (`title` vs `body`), never by file name:
dumps get renamed and mixed. Field sets differ by era (2005 comments have 18 keys, 2019 ones ~41);
only the fields read here are required.

Pairs (E5): (post title [+ selftext], top-level comment) and (parent comment, reply).
"""

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, FrozenSet, Mapping, Optional, Tuple

from schemas import reasons
from schemas.pairs import make_pair, utc_from_epoch
from sources import values
from sources.errors import RejectRecord
from sources.settings import setting
from sources.text.markdown import clean_markdown_tally
from sources.text.ngrams import drop_copied_runs
from sources.text.normalize import repair_mojibake
from sources.text.rules import English, LinkOnly, MaxChars, MinChars, MinScore, MinWords, NotEmpty, first_drop

SOURCE = "reddit"
PARENT_MIN_SCORE = 1
# A reply under 20 words is mostly a quip, a retort or chat: of the 137 pairs on the shared samples
# (all judged, benchmarks/results/pair_audit.md) 9 of 27 such replies were relevant, 99 of 110
# longer ones. Short comments still serve as queries ("How is this not bank fraud?").
MIN_REPLY_WORDS = 20
SUBMISSION_PREFIX = "t3_"
COMMENT_PREFIX = "t1_"
DELETED_MARKERS = frozenset({"[deleted]", "[removed]", "[deleted by user]"})
# Bots whose names no shape below catches (lowercase "...bot", hyphens, no "bot" at all).
KNOWN_BOTS = frozenset(
    {"AutoModerator", "automoderator", "RemindMeBot", "WikiTextBot", "sneakpeekbot", "RepostSleuthBot",
     "SaveVideo", "savevideobot", "stabbot", "vredditshare", "Gfycat-Bot", "MAGIC_EYE_BOT", "imguralbumbot",
     "TweetPoster", "autotldr", "GoodBot_BadBot", "B0tRank", "LinkFixerBot", "CommonMisspellingBot",
     "converter-bot", "haikusbot", "nice-scores", "Reddit-Book-Bot", "timezone_bot", "totesmessenger",
     "Zozbot", "mechkbot", "gifv-bot", "auddbot", "tweettranscriberbot", "LimbRetrieval-Bot"}
)
# The shapes bot accounts are named in: "bot" as the last word, after an underscore (MemeInvestor_bot,
# Edgar_The_Pug_Bot) or CamelCase (WikiTextBot, VerticalGifBot). Hyphenated names (RekSai-Bot,
# forgive-Nice-Bot) and words that merely end in "bot" (Rubiksrobot, Talbot) are people's.
BOT_NAME_SHAPE = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*(?:_(?:bot|Bot|BOT)|[a-z0-9]Bot)$", re.ASCII)
BOT_BY_LIST, BOT_BY_SHAPE = "bot_known_name", "bot_name_shape"


@dataclass(frozen=True)
class RedditConfig:
    """Every filter is a named drop reason; defaults follow E5 where it says something."""

    top_n: int = setting(1, "replies kept per parent, best score first")
    min_score: int = setting(1, "E5: a reply (the passage) with a score below this is dropped")
    parent_min_score: int = setting(PARENT_MIN_SCORE, "score a comment needs to be the query of its replies "
                                                      "(at most --min_score)")
    max_passage_chars: int = setting(4096, "E5: passages longer than this are dropped")
    min_reply_words: int = setting(MIN_REPLY_WORDS, "a reply with fewer words (URLs not counted) is no passage; "
                                                    "it may still be a query")
    drop_copied_query_text: bool = setting(True, "keep the runs of 8+ words a reply copies from its query "
                                                 "(default: cut, they repeat the query)",
                                           flag="keep_copied_query_text")
    min_comment_chars: int = setting(20, "shorter comments are dropped")
    min_submission_chars: int = setting(10, "shorter posts (title + selftext) are dropped")
    drop_nsfw: bool = setting(False, "drop posts and comments marked over_18")
    english_only: bool = setting(True, "keep non-English text (the pair's lang column says which)",
                                 flag="any_language")
    include_selftext: bool = setting(True, "query is the post title only", flag="no_selftext")
    drop_removed_submissions: bool = setting(False, "drop posts whose selftext is [removed]/[deleted] or that "
                                                    "were taken down (default: their title is the query)")
    drop_quotes: bool = setting(True, "keep >-quoted lines in comments (default: dropped, they are mostly "
                                      "the parent's words)", flag="keep_quotes")
    drop_bots: bool = setting(True, "keep comments by bot accounts", flag="keep_bots")
    join_hard_wraps: bool = setting(True, "keep line breaks that wrap a paragraph of prose (default: joined with a "
                                          "space, as Reddit shows them; lists, quotes and code keep theirs)",
                                    flag="keep_hard_wraps")
    max_line_bytes: int = setting(16 << 20, "a JSON line longer than this (bytes, decompressed) is one "
                                            "record_too_large reject, skipped unread")
    bot_authors: FrozenSet[str] = field(default_factory=lambda: KNOWN_BOTS)

    def __post_init__(self):
        if self.top_n < 1:
            raise ValueError(f"--top_n must be at least 1, not {self.top_n}")
        for name in ("max_passage_chars", "max_line_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, not {getattr(self, name)}")
        for name in ("min_comment_chars", "min_submission_chars", "min_reply_words"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0, not {getattr(self, name)}")
        if self.parent_min_score > self.min_score:
            raise ValueError(f"--parent_min_score ({self.parent_min_score}) must not exceed --min_score "
                             f"({self.min_score})")


@dataclass(frozen=True)
class RedditPost:
    """A submission or comment, reduced to what pairing needs. `text` is already cleaned."""

    kind: str  # "submission" | "comment"
    fullname: str  # t3_<id> or t1_<id>: the key parents are looked up by
    parent: Optional[str]  # parent fullname (t3_/t1_) for comments; None for submissions
    subreddit: str
    author: str
    raw_text: str
    text: str
    score: Optional[int]
    created_utc: Optional[int]
    nsfw: bool
    removed: bool  # the content itself is gone ([deleted]/[removed], or removed by moderators)
    cleanup: Tuple[Tuple[str, int], ...] = ()  # (what cleanup did, how often): counted by the pipeline

    @property
    def is_comment(self) -> bool:
        return self.kind == "comment"


def _need_str(obj: Mapping[str, Any], key: str) -> str:
    if key not in obj or obj[key] is None:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, f"missing field {key!r}")
    value = obj[key]
    if not isinstance(value, str):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"field {key!r} is {type(value).__name__}, not str")
    return value


def _strip_prefix(value: str, prefixes: Tuple[str, ...]) -> str:
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def parse_post(obj: Any, config: RedditConfig = RedditConfig()) -> RedditPost:
    """Typed post from one decoded JSON value, or RejectRecord with a reason."""
    if not isinstance(obj, dict):
        raise RejectRecord(reasons.REJECT_NOT_AN_OBJECT, f"JSON value is {type(obj).__name__}, not an object")
    has_title, has_body = "title" in obj, "body" in obj
    if has_title == has_body:
        raise RejectRecord(reasons.REJECT_UNKNOWN_RECORD_TYPE, "neither a submission (title) nor a comment (body)"
                           if not has_title else "has both title and body")
    post_id = _strip_prefix(_need_str(obj, "id"), (SUBMISSION_PREFIX, COMMENT_PREFIX))
    if not post_id:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, "empty id")
    author = obj.get("author") or ""
    subreddit = obj.get("subreddit") or ""
    if not isinstance(author, str) or not isinstance(subreddit, str):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, "author/subreddit is not a string")
    score = values.number(obj.get("score"), "score")  # 2005-era dumps carry numbers as strings in places
    created = values.epoch_seconds(values.number(obj.get("created_utc"), "created_utc"), "created_utc")
    if has_title:
        title = _need_str(obj, "title")
        selftext = obj.get("selftext") or ""
        if not isinstance(selftext, str):
            raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, "field 'selftext' is not a string")
        selftext_gone = selftext.strip() in DELETED_MARKERS
        taken_down = obj.get("removed_by_category") is not None or selftext_gone
        removed = title.strip() in DELETED_MARKERS or (taken_down and config.drop_removed_submissions)
        body = selftext if (config.include_selftext and not taken_down) else ""
        cleanup = _Cleanup(config.join_hard_wraps)
        text = cleanup.markdown(title)
        cleaned_body = cleanup.markdown(body) if body else ""
        if cleaned_body:
            text = f"{text}\n\n{cleaned_body}"
        return RedditPost("submission", SUBMISSION_PREFIX + post_id, None, subreddit, author,
                          f"{title}\n\n{selftext}" if selftext else title, text, score, created,
                          bool(obj.get("over_18")), removed, cleanup.counts())
    body = _need_str(obj, "body")
    parent = _need_str(obj, "parent_id")
    if not parent.startswith((SUBMISSION_PREFIX, COMMENT_PREFIX)):
        link = obj.get("link_id")
        if isinstance(link, str) and parent == _strip_prefix(link, (SUBMISSION_PREFIX,)):
            parent = SUBMISSION_PREFIX + parent  # some early dumps drop the prefix on top-level parents
        else:
            raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"parent_id {parent!r} has no t1_/t3_ prefix")
    if parent == COMMENT_PREFIX + post_id:
        raise RejectRecord(reasons.REJECT_SELF_REFERENCE, f"comment {post_id!r} names itself as its parent")
    cleanup = _Cleanup(config.join_hard_wraps)
    text = cleanup.markdown(body, drop_quotes=config.drop_quotes)
    return RedditPost("comment", COMMENT_PREFIX + post_id, parent, subreddit, author, body,
                      text, score, created, bool(obj.get("over_18")),
                      body.strip() in DELETED_MARKERS, cleanup.counts())


QUOTED_LINES_REMOVED = "quoted_lines_removed"
MOJIBAKE_REPAIRED = "mojibake_repaired"
COPIED_QUERY_WORDS_CUT = "copied_query_words_cut"  # words of a reply cut as a copy of its query
HARD_WRAPS_JOINED = "hard_wraps_joined"  # line breaks inside a paragraph of prose, joined with a space


class _Cleanup:
    """Cleans a post's texts and tallies what it changed (quoted lines dropped, mojibake repaired,
    hard wraps joined)."""

    def __init__(self, join_wraps: bool = False):
        self._tally: dict = {}
        self._join_wraps = join_wraps

    def markdown(self, raw: str, drop_quotes: bool = False) -> str:
        """Mojibake repaired first (filters and language ID must see real letters), then Markdown."""
        raw, repaired = repair_mojibake(raw)
        if repaired:
            self._add(MOJIBAKE_REPAIRED, 1)
        text, quoted, joined = clean_markdown_tally(raw, drop_quotes, self._join_wraps)
        if quoted:
            self._add(QUOTED_LINES_REMOVED, quoted)
        if joined:
            self._add(HARD_WRAPS_JOINED, joined)
        return text

    def _add(self, name: str, n: int) -> None:
        self._tally[name] = self._tally.get(name, 0) + n

    def counts(self) -> Tuple[Tuple[str, int], ...]:
        return tuple(sorted(self._tally.items()))


def decode_line(raw: bytes, config: RedditConfig = RedditConfig()) -> RedditPost:
    """One NDJSON line -> typed post; invalid UTF-8 and invalid JSON are rejects with their reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectRecord(reasons.REJECT_INVALID_UTF8, str(exc)) from None
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise RejectRecord(reasons.REJECT_INVALID_JSON, str(exc)) from None
    post = parse_post(obj, config)
    if "\\u" in text:  # only an escape can smuggle half a surrogate pair into a str
        for name in ("raw_text", "author", "subreddit", "fullname", "parent"):
            values.utf8_text(getattr(post, name) or "", name)
    return post


def bot_rule(author: str, config: RedditConfig) -> Optional[str]:
    """Why an author is taken for a bot (BOT_BY_LIST or BOT_BY_SHAPE), or None for a person."""
    if author in config.bot_authors:
        return BOT_BY_LIST
    if BOT_NAME_SHAPE.match(author):
        return BOT_BY_SHAPE
    return None


def is_bot(author: str, config: RedditConfig) -> bool:
    return bot_rule(author, config) is not None


@dataclass(frozen=True)
class _RedditOnly:
    """The rules only Reddit has: deleted content, bots, NSFW."""

    config: RedditConfig

    def __call__(self, post: RedditPost) -> Optional[str]:
        if post.removed:
            return reasons.DROP_DELETED
        if self.config.drop_bots and is_bot(post.author, self.config):
            return reasons.DROP_BOT_AUTHOR
        if self.config.drop_nsfw and post.nsfw:
            return reasons.DROP_NSFW
        return None


@functools.lru_cache(maxsize=64)
def rules(config: RedditConfig, is_comment: bool, is_english=None) -> Tuple:
    """The rule list of a comment or a submission, cheapest first (language ID last)."""
    own = (_RedditOnly(config),)
    text = (NotEmpty(), LinkOnly("raw_text"))
    if is_comment:  # a comment scored between the two minimums may still be a query
        text = (MinScore(min(config.min_score, config.parent_min_score)),) + text + (MaxChars(config.max_passage_chars),
                                                       MinChars(config.min_comment_chars))
    else:
        text += (MinChars(config.min_submission_chars),)
    language = (English(detector=is_english),) if config.english_only else ()
    return own + text + language


def drop_reason(post: RedditPost, config: RedditConfig, is_english=None) -> Optional[str]:
    """The first rule a post fails, or None when it may take part in pairs.

    `is_english` may be injected (tests); by default sources.text.langid's cascade, paid only by posts
    that pass every cheaper rule.
    """
    return first_drop(post, rules(config, post.is_comment, is_english))


def reply_refusal(post: RedditPost, config: RedditConfig) -> Optional[str]:
    """Why a kept comment may not be a passage (score under --min_score, fewer than
    --min_reply_words words), or None; such a comment still serves as a query."""
    return first_drop(post, _reply_rules(config))


@functools.lru_cache(maxsize=64)
def _reply_rules(config: RedditConfig) -> Tuple:
    return (MinScore(config.min_score), MinWords(config.min_reply_words, count_urls=False))


def may_be_reply(post: RedditPost, config: RedditConfig) -> bool:
    return post.is_comment and reply_refusal(post, config) is None


def reply_passage(parent: RedditPost, reply: RedditPost, config: RedditConfig) -> Tuple[Optional[str], int]:
    """(the reply's text as its parent's passage, words cut): runs of 8+ words copied from the
    parent are cut (they repeat the query: inline quotes, which --keep_quotes's rule cannot see);
    None when what is left is under --min_reply_words."""
    if not config.drop_copied_query_text:
        return reply.text, 0
    passage, cut = drop_copied_runs(reply.text, parent.text)
    if cut and _reply_rules(config)[1].too_few(passage):
        return None, cut
    return passage, cut


def copy_rank_key(post) -> Tuple[int, str, int]:
    """Same fullname twice (overlapping dumps): the best-scored copy wins, then text, then time.
    (`raw_text` None: a slim copy whose raw text is its cleaned text.)"""
    raw = post.raw_text if post.raw_text is not None else post.text
    return (post.score if post.score is not None else -(2**62), raw, post.created_utc or 0)


# Replies offered per parent beyond --top_n: a top reply that is only a copy of its query gives
# way to the next one (the copy is seen only once the parent's text is joined).
SPARE_REPLIES = 2


def pairs_in_memory(posts, config: RedditConfig = RedditConfig(), detect=None) -> list:
    """The whole rule set on an in-memory list of typed posts: filters, one copy per fullname, the
    top replies per parent, pairs, pair dedup. A reference for tests and benchmarks (the Beam
    pipeline does the same with bounded memory per parent); results must agree."""
    best = {}
    for post in posts:
        if drop_reason(post, config) is None:
            kept = best.get(post.fullname)
            if kept is None or copy_rank_key(post) > copy_rank_key(kept):
                best[post.fullname] = post
    replies = {}
    for post in best.values():
        if may_be_reply(post, config):
            replies.setdefault(post.parent, []).append(post)
    pairs = {}
    for parent_id, children in replies.items():
        parent = best.get(parent_id)
        if parent is None:
            continue
        made = 0
        for reply in sorted(children, key=reply_rank_key, reverse=True)[:config.top_n + SPARE_REPLIES]:
            if made == config.top_n:
                break
            passage, _ = reply_passage(parent, reply, config)
            if passage is None:
                continue
            made += 1
            lang = "en" if config.english_only else detect(passage)
            pair = make_reddit_pair(parent, reply, lang, passage)
            kept = pairs.get(pair["pair_id"])
            if kept is None or (pair["query_id"], pair["passage_id"]) < (kept["query_id"], kept["passage_id"]):
                pairs[pair["pair_id"]] = pair
    return list(pairs.values())


def reply_rank_key(post: RedditPost) -> Tuple[int, int, str]:
    """Order of replies under one parent: higher score, then earlier, then id (deterministic)."""
    return (post.score if post.score is not None else 0, -(post.created_utc or 0), post.fullname)


def make_reddit_pair(parent: RedditPost, reply: RedditPost, lang: str = "en", passage: Optional[str] = None) -> dict:
    """`passage`: the reply's text as reply_passage made it (default: the reply's text)."""
    return make_pair(
        source=SOURCE,
        subsource=reply.subreddit or parent.subreddit,
        query=parent.text,
        passage=reply.text if passage is None else passage,
        query_id=parent.fullname,
        passage_id=reply.fullname,
        lang=lang,
        score=reply.score,
        created_at=utc_from_epoch(reply.created_utc),
    )
