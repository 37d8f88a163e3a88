"""Stack Exchange dump rows: `<row>` line -> typed post -> drop reason -> (question, answer) pair.

E5's CCPairs takes (title, upvoted answer) pairs from Stack Exchange. Per question we pick the
accepted answer when its score is at least ``accepted_min_score`` (default 1: E5's "upvoted";
an accepted answer nobody upvoted is often the asker's own, see README), otherwise the
best-scored answer with score >= ``min_score`` (default 1, "upvoted"); with ``top_n`` > 1 the
next best upvoted answers follow. A title of fewer than ``short_title_words`` words ("Glassware
for Beer") says too little alone: the question body is added to it. Meta sites (questions about
the site itself) are dropped by default; closed questions are kept (their answers still answer).

Ids are site-qualified, ``beer.stackexchange.com/q/1`` and ``beer.stackexchange.com/a/4``, so two
sites never collide. The site (the pair's subsource) comes from the input's path, see
``site_from_path``.
"""

import calendar
import dataclasses
import datetime as _dt
import functools
import posixpath
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from schemas import reasons
from schemas.pairs import make_pair, utc_from_epoch
from sources import values
from sources.errors import RejectRecord
from sources.formats.stackexchange_xml import parse_row
from sources.settings import setting
from sources.text.html_text import count_images, html_to_text
from sources.text.normalize import normalize_whitespace
from sources.text.rules import English, LinkOnly, MaxChars, MinChars, NotEmpty, first_drop

SOURCE = "stackexchange"
QUESTION, ANSWER = 1, 2  # PostTypeId; others: 3 orphaned tag wiki, 4/5 tag wiki, 6 nomination, 7 wiki placeholder, 8 privilege wiki
UNKNOWN_SITE = "unknown"
_SITE = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+)+$")
_NAME_EXTENSIONS = (".7z", ".xml", ".gz", ".bz2", ".zst", ".xz")
_POSTS_SUFFIX = re.compile(r"(?:^|[._-])posts$", re.I)


@dataclass(frozen=True)
class StackExchangeConfig:
    """Every filter is a named drop reason; defaults follow E5 where it says something."""

    top_n: int = setting(1, "answers kept per question")
    accepted_min_score: int = setting(1, "the accepted answer is chosen if its score is at least this "
                                         "(E5: 'upvoted')")
    min_score: int = setting(1, "score any other answer needs: 'upvoted'")
    include_question_body: bool = setting(False, "query = title + body for every question (default: "
                                                 "only for short titles, see --short_title_words)")
    short_title_words: int = setting(5, "a title with fewer words gets the question body added (0: never)")
    drop_closed_questions: bool = setting(False, "drop questions with a ClosedDate (and so their answers)")
    drop_meta_sites: bool = setting(True, "keep meta sites (meta.*, *.meta.*: questions about the site itself)",
                                    flag="keep_meta_sites")
    max_passage_chars: int = setting(4096, "E5: passages longer than this are dropped")
    min_answer_chars: int = setting(20, "shorter answers are dropped")
    min_question_chars: int = setting(10, "shorter queries are dropped")
    max_query_chars: int = setting(4096, "longer queries are dropped (matters with --include_question_body)")
    english_only: bool = setting(True, "keep non-English text (the pair's lang column says which)",
                                 flag="any_language")
    split_mb: int = setting(64, "cut an extracted Posts.xml into byte ranges of this many MiB (0: never)")
    drop_footnote_marks: bool = setting(True, "keep footnote marks whose links are gone ('gracefully [1].'; "
                                              "default: removed, counted)", flag="keep_footnote_marks")
    min_image_answer_words: int = setting(25, "an answer with an image and fewer words than this is dropped "
                                              "(image_answer): its substance was the picture, which the text "
                                              "lacks (0: off)")

    def __post_init__(self):
        if self.top_n < 1:
            raise ValueError(f"--top_n must be at least 1, not {self.top_n}")
        if self.split_mb < 0:
            raise ValueError(f"--split_mb must be >= 0, not {self.split_mb}")
        if min(self.max_passage_chars, self.max_query_chars) < 1:
            raise ValueError("--max_passage_chars and --max_query_chars must be at least 1")
        if self.short_title_words < 0:
            raise ValueError(f"--short_title_words must be >= 0, not {self.short_title_words}")
        if self.min_image_answer_words < 0:
            raise ValueError(f"--min_image_answer_words must be >= 0, not {self.min_image_answer_words}")


@dataclass(frozen=True)
class StackExchangePost:
    """One row, reduced to what pairing needs. `text` is already plain text ("" for other post types)."""

    site: str
    post_id: int
    post_type: int
    parent_id: Optional[int]  # answers: the question's id
    accepted_answer_id: Optional[int]  # questions: the accepted answer's id, if any
    score: int
    created_utc: Optional[int]
    last_activity_utc: Optional[int]  # picks the newer copy when a post comes twice (two dumps)
    text: str
    accepted: bool = False  # answers: set by the pipeline once the question's AcceptedAnswerId is joined
    closed: bool = False  # questions: the row has a ClosedDate
    language_sample: str = ""  # questions: title + start of the body, what language ID reads (titles alone are too short)
    images: int = 0  # <img> elements in the body (answers)
    cleanup: Tuple[Tuple[str, int], ...] = ()  # (what text cleanup did, how often): counted by the pipeline

    @property
    def language_text(self) -> str:
        """What language ID reads: a question's title + body start, an answer's text."""
        return self.language_sample or self.text

    @property
    def is_question(self) -> bool:
        return self.post_type == QUESTION

    @property
    def is_answer(self) -> bool:
        return self.post_type == ANSWER

    @property
    def key(self) -> str:
        """The record key and the pair's query_id/passage_id: site/q/<id>, site/a/<id>, site/p/<id>."""
        return post_key(self.site, self.post_type, self.post_id)

    @property
    def question_key(self) -> str:
        """Answers: the key of the question they answer."""
        return post_key(self.site, QUESTION, self.parent_id)

    @property
    def accepted_key(self) -> str:
        """Questions: the key of their accepted answer."""
        return post_key(self.site, ANSWER, self.accepted_answer_id)


def post_key(site: str, post_type: int, post_id) -> str:
    kind = "q" if post_type == QUESTION else "a" if post_type == ANSWER else "p"
    return f"{site}/{kind}/{post_id}"


def _site_in_name(name: str) -> Optional[str]:
    """`beer.stackexchange.com`, `stackoverflow.com-Posts`, `beer.stackexchange.com-2017-03.Posts` -> site."""
    changed = True
    while changed:
        changed = False
        for extension in _NAME_EXTENSIONS:
            if name.lower().endswith(extension):
                name, changed = name[: -len(extension)], True
    name = _POSTS_SUFFIX.sub("", name)
    candidate = re.split(r"[-_ ]", name, maxsplit=1)[0].lower()
    return candidate if _SITE.match(candidate) else None


@functools.lru_cache(maxsize=4096)
def site_from_path(path: str) -> str:
    """The site a dump file belongs to, from its path.

    Rule: the file's own name first, then the folder that holds it. A name gives a site when,
    after dropping the extensions (.7z, .xml, .gz, ...) and a trailing ``Posts`` part, what
    precedes the first ``-`` or ``_`` is a host name (Stack Exchange site names have no ``-``):
    ``beer.stackexchange.com.7z``, ``stackoverflow.com-Posts.7z``,
    ``beer.stackexchange.com-2017-03.Posts.xml`` and ``dumps/beer.stackexchange.com/Posts.xml``
    all give ``beer.stackexchange.com``. When neither looks like a host name the folder's name
    is used as is (``unknown`` if there is none).
    """
    clean = path.replace("\\", "/").rstrip("/")
    folder, name = posixpath.split(clean)
    folder_name = posixpath.basename(folder)
    return _site_in_name(name) or _site_in_name(folder_name) or folder_name or UNKNOWN_SITE


def _need(row: Mapping[str, str], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, f"missing attribute {name!r}")
    return value


def _int(row: Mapping[str, str], name: str, required: bool) -> Optional[int]:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise RejectRecord(reasons.REJECT_MISSING_FIELDS, f"missing attribute {name!r}")
        return None
    return values.integer_text(value, f"attribute {name}")


def _epoch(row: Mapping[str, str], name: str) -> Optional[int]:
    """Dump dates are UTC without a zone, `2014-01-21T20:26:05.383`; seconds since the epoch."""
    value = row.get(name)
    if not value:
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"attribute {name}={value[:40]!r} is not a date") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return values.epoch_seconds(calendar.timegm(parsed.timetuple()), f"attribute {name}")


LANGUAGE_SAMPLE_CHARS = 1000  # sources.text.langid reads no further


def is_meta_site(site: str) -> bool:
    """meta.stackexchange.com, bicycles.meta.stackexchange.com, meta.stackoverflow.com."""
    return site.startswith("meta.") or ".meta." in site


def is_short_title(title: str, short_title_words: int) -> bool:
    return len(title.split()) < short_title_words


FOOTNOTE_MARKS_REMOVED = "footnote_marks_removed"  # [n] marks whose links are gone, see html_text.drop_footnote_marks


def question_texts(title: str, body_html: str, include_body: bool, short_title_words: int = 0,
                   footnotes: Optional[List[int]] = None) -> Tuple[str, str]:
    """(query, language sample): the title, plus the body as plain text when asked for or when
    the title is short (fewer than `short_title_words` words); `footnotes`: see html_to_text."""
    text = normalize_whitespace(title)
    body = html_to_text(body_html, footnotes) if body_html else ""
    sample = f"{text}\n\n{body}"[:LANGUAGE_SAMPLE_CHARS] if body else text
    if (include_body or is_short_title(text, short_title_words)) and body and text:
        return f"{text}\n\n{body}", sample
    return text, sample


def post_from_row(row: Mapping[str, str], site: str, config: StackExchangeConfig = StackExchangeConfig()) -> StackExchangePost:
    """Typed post from a row's attributes, or RejectRecord with a reason."""
    post_id = _int(row, "Id", required=True)
    post_type = _int(row, "PostTypeId", required=True)
    if post_id <= 0:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"Id {post_id} is not positive")
    if post_type not in (QUESTION, ANSWER):  # tag wikis and the like: only the id is needed to count them
        return StackExchangePost(site, post_id, post_type, None, None, 0, None, None, "")
    score = _int(row, "Score", required=True)
    created, last_activity = _epoch(row, "CreationDate"), _epoch(row, "LastActivityDate")
    footnotes = [0] if config.drop_footnote_marks else None
    if post_type == QUESTION:
        text, sample = question_texts(_need(row, "Title"), row.get("Body", ""), config.include_question_body,
                                      config.short_title_words, footnotes)
        return StackExchangePost(site, post_id, QUESTION, None, _int(row, "AcceptedAnswerId", required=False),
                                 score, created, last_activity, text, language_sample=sample,
                                 closed=bool(row.get("ClosedDate")), cleanup=_cleanup(footnotes))
    parent = _int(row, "ParentId", required=True)
    body = row.get("Body", "")
    return StackExchangePost(site, post_id, ANSWER, parent, None, score, created, last_activity,
                             html_to_text(body, footnotes), images=count_images(body), cleanup=_cleanup(footnotes))


def _cleanup(footnotes: Optional[List[int]]) -> Tuple[Tuple[str, int], ...]:
    return ((FOOTNOTE_MARKS_REMOVED, footnotes[0]),) if footnotes and footnotes[0] else ()


def parse_row_line(raw: bytes, site: str, config: StackExchangeConfig = StackExchangeConfig()) -> StackExchangePost:
    """One `<row .../>` line -> typed post; malformed XML, unsafe XML and bad fields are rejects."""
    return post_from_row(parse_row(raw), site, config)


@dataclass(frozen=True)
class _AnswerScore:
    """An answer needs accepted_min_score if its question accepted it, else min_score ("upvoted")."""

    config: StackExchangeConfig

    def __call__(self, post: StackExchangePost) -> Optional[str]:
        needed = self.config.accepted_min_score if post.accepted else self.config.min_score
        return reasons.DROP_LOW_SCORE if post.score < needed else None


@dataclass(frozen=True)
class _ImageAnswer:
    """An answer that showed an image and says little besides ("Something like this:"): the picture
    was the answer, and the text has none of it."""

    min_words: int

    def __call__(self, post: StackExchangePost) -> Optional[str]:
        if post.images and len(post.text.split()) < self.min_words:
            return reasons.DROP_IMAGE_ANSWER
        return None


@dataclass(frozen=True)
class _SitePolicy:
    """Stack Exchange's own rules: meta sites (every post) and closed questions, when asked to drop them."""

    config: StackExchangeConfig

    def __call__(self, post: StackExchangePost) -> Optional[str]:
        if self.config.drop_meta_sites and is_meta_site(post.site):
            return reasons.DROP_META_SITE
        if self.config.drop_closed_questions and post.closed:
            return reasons.DROP_CLOSED_QUESTION
        return None


@functools.lru_cache(maxsize=64)
def rules(config: StackExchangeConfig, is_question: bool, is_english=None) -> Tuple:
    """The rule list of a question or an answer, cheapest first (language ID last); an answer's starts
    with the site policy and the score (answer_drop_reasons relies on it)."""
    if is_question:
        text = (NotEmpty(), MaxChars(config.max_query_chars), MinChars(config.min_question_chars))
    else:
        text = (_AnswerScore(config), NotEmpty(), LinkOnly(), MaxChars(config.max_passage_chars),
                MinChars(config.min_answer_chars))
        if config.min_image_answer_words:
            text += (_ImageAnswer(config.min_image_answer_words),)
    language = (English("language_text", detector=is_english),) if config.english_only else ()
    return (_SitePolicy(config),) + text + language


def drop_reason(post: StackExchangePost, config: StackExchangeConfig, is_english=None) -> Optional[str]:
    """The first rule a post fails, or None when it may take part in pairs.

    Questions are judged on title + body (``language_sample``): short English titles ("Tripel
    beers on tap") are often not recognised alone. Answers need `post.accepted` set (the pipeline
    joins it in first): the score an answer needs depends on it. `is_english` may be injected
    (tests); by default sources.text.langid's cascade, paid only by posts that pass every cheaper rule.
    """
    if not (post.is_question or post.is_answer):
        return reasons.DROP_OTHER_POST_TYPE
    return first_drop(post, rules(config, post.is_question, is_english))


def answer_drop_reasons(post: StackExchangePost, config: StackExchangeConfig,
                        is_english=None) -> Tuple[Optional[str], Optional[str]]:
    """An answer's drop reason (if its question accepted it, if not), before the question is joined.

    The score it needs depends on that (``accepted_min_score`` or ``min_score``); every other rule
    does not, so each is evaluated once, and the later rules (language ID last) only when a score
    passes. Equals ``drop_reason`` of the answer flagged accepted, resp. not.
    """
    site_rule, _score_rule, *later = rules(config, False, is_english)
    reason = site_rule(post)
    if reason is not None:
        return reason, reason
    passes_accepted, passes = post.score >= config.accepted_min_score, post.score >= config.min_score
    rest = first_drop(post, later) if passes_accepted or passes else None
    return (rest if passes_accepted else reasons.DROP_LOW_SCORE), (rest if passes else reasons.DROP_LOW_SCORE)


def answer_rank_key(post: StackExchangePost) -> Tuple[int, int, int]:
    """Order of answers under one question: higher score, then earlier, then lower id (deterministic)."""
    return (post.score, -(post.created_utc or 0), -post.post_id)


def copy_rank_key(post: StackExchangePost) -> Tuple:
    """Which copy of a post seen twice (overlapping dumps) to keep: the most recently active one."""
    return (post.last_activity_utc or 0, post.created_utc or 0, post.score, post.text, post.accepted_answer_id or 0)


def select_answers(question: StackExchangePost, accepted_by_id: Mapping[int, StackExchangePost],
                   best_answers: Iterable[StackExchangePost], config: StackExchangeConfig) -> List[StackExchangePost]:
    """The answers a question is paired with, best first.

    `accepted_by_id`: answers flagged accepted (normally at most one); only the one the question
    names counts. `best_answers`: its best-ranked answers, best first (at least top_n of them if
    there are that many).
    """
    chosen: List[StackExchangePost] = []
    accepted = accepted_by_id.get(question.accepted_answer_id) if question.accepted_answer_id else None
    if accepted is not None and accepted.score >= config.accepted_min_score:
        chosen.append(accepted)
    for answer in best_answers:
        if len(chosen) >= config.top_n:
            break
        if answer.score >= config.min_score and all(answer.post_id != c.post_id for c in chosen):
            chosen.append(answer)
    return chosen


def pair_language(passage: str, config: StackExchangeConfig) -> str:
    """The pair's lang column: "en" when only English passed the filter, else what the detector says."""
    if config.english_only:
        return "en"
    from sources.text.langid import detect_language

    return detect_language(passage)[0]


def make_stackexchange_pair(question: StackExchangePost, answer: StackExchangePost, lang: str = "en") -> dict:
    return make_pair(
        source=SOURCE,
        subsource=answer.site,
        query=question.text,
        passage=answer.text,
        query_id=question.key,
        passage_id=answer.key,
        lang=lang,
        score=answer.score,
        created_at=utc_from_epoch(answer.created_utc),
    )


def pairs_in_memory(posts: Iterable[StackExchangePost], config: StackExchangeConfig = StackExchangeConfig(),
                    is_english=None) -> List[dict]:
    """The whole rule set on an in-memory list of posts (no duplicates): a reference for tests and benchmarks.

    The Beam pipeline does the same with bounded memory per question; results must agree.
    """
    questions: Dict[str, StackExchangePost] = {}
    answers: List[StackExchangePost] = []
    for post in posts:
        if post.is_question:
            questions[post.key] = post
        elif post.is_answer:
            answers.append(post)
    claims = {(q.accepted_key, q.key) for q in questions.values() if q.accepted_answer_id}
    kept_questions = {k: q for k, q in questions.items() if drop_reason(q, config, is_english) is None}
    by_question: Dict[str, List[StackExchangePost]] = {}
    for answer in answers:
        flagged = dataclasses.replace(answer, accepted=(answer.key, answer.question_key) in claims)
        if drop_reason(flagged, config, is_english) is None:
            by_question.setdefault(flagged.question_key, []).append(flagged)
    pairs: Dict[str, dict] = {}
    for key, question in sorted(kept_questions.items()):
        candidates = by_question.get(key, [])
        accepted = {a.post_id: a for a in candidates if a.accepted}
        ranked = sorted(candidates, key=answer_rank_key, reverse=True)
        for answer in select_answers(question, accepted, ranked, config):
            pair = make_stackexchange_pair(question, answer, pair_language(answer.text, config))
            kept = pairs.get(pair["pair_id"])  # same text twice: keep the smallest ids, as DedupPairs does
            if kept is None or (pair["query_id"], pair["passage_id"]) < (kept["query_id"], kept["passage_id"]):
                pairs[pair["pair_id"]] = pair
    return list(pairs.values())
