"""Wikipedia pages: ``<page>`` XML -> typed page -> sections -> (entity + section title, passage) pairs.

E5's CCPairs pairs every section of English Wikipedia with "entity name + section title". Here:

- pages: articles only (namespace 0, wikitext); redirects, disambiguation pages and list pages
  ("List of …") are dropped with their own reasons before any wikitext is parsed;
- sections: the lead, and every heading at any level (``==``, ``===``, …) with the text up to the
  next heading; a subsection's query carries its parents' headings: ``"{title} {h2} {h3}"``
  (``--max_heading_level 2`` folds subsections into their ``==`` section instead);
- query = ``"{title} {heading path}"`` (the lead: the title alone, or ``--lead_heading``);
  passage = the section's plain text (sources.text.wikitext) from its start, up to
  ``--max_passage_words`` words, cut at a sentence end;
- sections dropped, and counted by reason: boilerplate (See also, References, Notes, External
  links, …, and everything under them), empty, too short, markup left after cleaning (a guard);
  a page none of whose sections makes a pair is dropped as ``no_sections``.

Ids: a page is ``{wiki}/{page id}`` (its record key); a pair's query_id and passage_id are both
``{wiki}/{page id}/{section index}``, the index counting every heading of the page (0: lead), so
they do not depend on settings. ``created_at`` is the revision's timestamp. A wiki is one language:
``lang`` is the wiki's (``enwiki`` -> ``en``), or the dump's ``xml:lang``; language ID of a page's text
only where the dump tells neither (``site_of``, ``identified_language``).

Cleaning what removals leave (issue 24; sources.text.wikitext): broken sentences, introductions whose
list or table is gone, runs of symbols, each a setting, each counted (``WikiPage.cleanups``).
"""

import calendar
import dataclasses
import datetime as _dt
import functools
import posixpath
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

import sources.text.langid
import sources.text.wikitext
from schemas import reasons
from schemas.pairs import make_pair, utc_from_epoch
from sources.errors import RejectRecord
from sources.formats.mediawiki_xml import MAX_PAGE_BYTES, PageFields, parse_page
from sources.settings import setting
from sources.text.rules import MinChars, NotEmpty, first_drop

SOURCE = "wikipedia"
UNKNOWN_WIKI = "unknown"
ARTICLE_NAMESPACE = 0

# Namespace prefixes of exports that lack <ns> (schemas before 0.5): anything else is an article.
_NAMESPACE_PREFIXES = ("Talk", "User", "User talk", "Wikipedia", "Wikipedia talk", "WP", "Project", "File", "Image",
                       "File talk", "MediaWiki", "MediaWiki talk", "Template", "Template talk", "Help", "Help talk",
                       "Category", "Category talk", "Portal", "Portal talk", "Book", "Draft", "Module", "TimedText",
                       "Special", "Media", "Gadget", "Topic")
_REDIRECT_TEXT = re.compile(r"\s*#\s*REDIRECT\b", re.I)
# Disambiguation pages carry one of these templates (enwiki's {{Disambiguation}} and its
# redirects, and the "… disambiguation" family: {{Place name disambiguation}}, {{Human name
# disambiguation}}; {{Disambiguation needed}} is an inline tag and does not match).
_DISAMBIGUATION = re.compile(
    r"\{\{\s*(?:template\s*:\s*)?(?:disambiguation|disambig|disamb|dab|dis|disambiguation page|dp|hndis|"
    r"hndisambig|geodis|numberdis|mathdab|letter-number combination disambiguation|"
    r"[\w .'-]{0,40}[ _-]disambiguation)\s*(?:\||\}\})", re.I)
_LIST_TITLE = re.compile(r"^Lists? of\b")
_WIKI_IN_NAME = re.compile(r"^([a-z][a-z0-9_]*wik[a-z]*)(?:-|$)")
_LANGUAGE_OF_WIKI = re.compile(r"^([a-z]{2,3})(?:_[a-z_]+)?wiki$")
BOILERPLATE_HEADINGS = frozenset((
    "see also", "references", "reference", "notes", "note", "footnotes", "external links", "external link",
    "further reading", "bibliography", "sources", "citations", "works cited", "notes and references",
    "references and notes", "notes and sources", "sources and notes", "citations and notes", "notes and citations",
    "references and sources", "sources and references", "references and further reading",
    "further reading and external links", "external links and further reading", "other reading",
    "literature", "selected bibliography", "general references", "general bibliography", "cited sources",
    "cited works", "explanatory notes", "reference notes", "endnotes", "primary sources", "secondary sources",
    "additional reading", "related articles", "related pages", "links", "web links", "weblinks", "gallery",
    "image gallery", "images", "photo gallery", "bibliography and further reading", "sources and further reading",
    "notes and further reading", "references and external links", "footnotes and references", "informational notes",
))


@dataclass(frozen=True)
class WikipediaConfig:
    """What a pair is made of; every filter is a named drop reason (pages) or counter (sections)."""

    max_passage_words: int = setting(256, "a passage is the section's text up to this many words, cut at a sentence end")
    min_passage_chars: int = setting(100, "shorter passages are dropped (section too short)")
    max_heading_level: int = setting(6, "headings deeper than this (== is 2) fold into their parent section")
    lead_heading: str = setting("", "words added to the title in the lead section's query (default: none)")
    split_mb: float = setting(64.0, "with a multistream index, read a dump in units of about this many MiB "
                                    "of bz2 streams (0: a unit per file)")
    index: str = setting("", "multistream index file(s) (path or glob); default: found beside each dump by name")
    pronunciations: str = setting("in_text", "pronunciation templates ({{IPAc-en}}, {{IPA-de}}, {{respell}}): "
                                             "'in_text' renders them where a sentence needs them (\"named /ˈeɪ/, "
                                             "plural\") and drops them as asides (\"Beer (; German: Bier)\" -> "
                                             "\"Beer (Bier)\"); 'all' renders every one; 'none' drops every one")
    drop_broken_sentences: bool = setting(True, "drop a sentence from which a template or formula that held some of "
                                                "its words was removed (\"such as , or .\"); counted as "
                                                "cleaned/broken_sentence")
    drop_dangling_intros: bool = setting(True, "drop an introduction ending in ':' whose table, formula or list is "
                                               "gone (removed, or cut off by the word budget); counted as "
                                               "cleaned/dangling_intro")
    drop_symbol_runs: bool = setting(True, "drop a sentence holding a run of 3+ symbols (\"↔±≃↦ℂ\", debris of math "
                                           "templates); counted as cleaned/symbol_run")
    detect_language: bool = setting(True, "when neither <siteinfo>, the root's xml:lang nor the file name tells the "
                                          "wiki's language, identify it from each page's text (sources.text.langid)")
    max_page_bytes: int = setting(MAX_PAGE_BYTES, "a page whose XML is longer is one record_too_large reject, "
                                                  "skipped without ever being held whole (Wikimedia caps a page's "
                                                  "wikitext at 2 MiB; 8 MiB leaves room for XML escaping)")

    def __post_init__(self):
        if self.max_passage_words < 1:
            raise ValueError(f"--max_passage_words must be at least 1, not {self.max_passage_words}")
        if self.min_passage_chars < 0:
            raise ValueError(f"--min_passage_chars must be >= 0, not {self.min_passage_chars}")
        if not 1 <= self.max_heading_level <= 6:
            raise ValueError(f"--max_heading_level must be 1 to 6, not {self.max_heading_level}")
        if not self.split_mb >= 0:
            raise ValueError(f"--split_mb must be >= 0, not {self.split_mb}")
        if self.max_page_bytes < 1:
            raise ValueError(f"--max_page_bytes must be at least 1, not {self.max_page_bytes}")
        if self.pronunciations not in ("in_text", "all", "none"):
            raise ValueError(f"--pronunciations must be in_text, all or none, not {self.pronunciations!r}")

    @property
    def clean_options(self) -> sources.text.wikitext.CleanOptions:
        return sources.text.wikitext.CleanOptions(
            pronunciations=self.pronunciations, broken_sentences=self.drop_broken_sentences,
            dangling_intros=self.drop_dangling_intros, symbol_runs=self.drop_symbol_runs)


@dataclass(frozen=True)
class Section:
    """One kept section: its pair's text and where it sits in the page."""

    index: int  # 0: the lead; n: the page's n-th heading
    headings: Tuple[str, ...]  # the heading path, outermost first (empty for the lead)
    text: str  # the passage


@dataclass(frozen=True)
class WikiPage:
    """A page reduced to what pairing needs. `sections` are filled only for pages that pass the page rules."""

    wiki: str
    page_id: int
    title: str
    namespace: int
    model: str
    revision_id: Optional[int]
    created_utc: Optional[int]  # the revision's timestamp
    is_redirect: bool
    is_disambiguation: bool
    sections: Tuple[Section, ...] = ()
    section_drops: Tuple[Tuple[str, int], ...] = ()  # (reason, sections) for the sections left out
    cleanups: Tuple[Tuple[str, int], ...] = ()  # (rule, sentences or lines it removed), wikitext.CLEANUPS
    lang: str = ""  # the wiki's language; "" until known (language_of(wiki), or language ID of the text)

    @property
    def key(self) -> str:
        return f"{self.wiki}/{self.page_id}"


# ---- page rules -----------------------------------------------------------------------------------


def _not_article(page: WikiPage) -> Optional[str]:
    return reasons.DROP_NOT_ARTICLE if page.namespace != ARTICLE_NAMESPACE or page.model != "wikitext" else None


def _redirect(page: WikiPage) -> Optional[str]:
    return reasons.DROP_REDIRECT if page.is_redirect else None


def _disambiguation(page: WikiPage) -> Optional[str]:
    return reasons.DROP_DISAMBIGUATION if page.is_disambiguation else None


def _list_page(page: WikiPage) -> Optional[str]:
    return reasons.DROP_LIST_PAGE if _LIST_TITLE.match(page.title) else None


def _no_sections(page: WikiPage) -> Optional[str]:
    return None if page.sections else reasons.DROP_NO_SECTIONS


PAGE_RULES = (_not_article, _redirect, _disambiguation, _list_page)  # decided before the wikitext is parsed


def drop_reason(page: WikiPage) -> Optional[str]:
    """The first page rule a page fails (no_sections last: none of its sections made a pair), or None."""
    return first_drop(page, PAGE_RULES + (_no_sections,))


# ---- section rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LeftoverMarkup:
    """A guard: cleaning must leave no wiki markup; a section where some survived is not shipped."""

    field: str = "text"

    def __call__(self, record) -> Optional[str]:
        return reasons.DROP_MARKUP_LEFT if sources.text.wikitext.leftover_markup(getattr(record, self.field)) else None


@functools.lru_cache(maxsize=16)
def section_rules(config: WikipediaConfig) -> Tuple:
    return (NotEmpty(), _LeftoverMarkup(), MinChars(config.min_passage_chars))


def normalize_heading(heading: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", heading.lower()).split())


def is_boilerplate(heading: str) -> bool:
    return normalize_heading(heading) in BOILERPLATE_HEADINGS


def page_sections(wikitext: str, config: WikipediaConfig) -> Tuple[Tuple[Section, ...], Dict[str, int]]:
    """The kept sections of an article's wikitext, and how many were dropped for which reason."""
    kept, drops, _ = page_sections_counted(wikitext, config)
    return kept, drops


def page_sections_counted(wikitext: str, config: WikipediaConfig
                          ) -> Tuple[Tuple[Section, ...], Dict[str, int], Dict[str, int]]:
    """page_sections, and what each cleaning rule removed from the kept sections (sentences, lines)."""
    kept: List[Section] = []
    drops: Dict[str, int] = {}
    cleaned: Dict[str, int] = {}
    options = config.clean_options
    path: List[Tuple[int, str]] = []  # (level, heading) of the enclosing headings
    boilerplate_from: Optional[int] = None  # level of the boilerplate heading we are under
    current: Optional[Tuple[int, Tuple[str, ...], List[str]]] = None  # (index, headings, bodies)

    def close(section) -> None:
        if section is None:
            return
        index, headings, bodies = section
        try:
            text, counts = sources.text.wikitext.section_text_counted("\n".join(bodies), config.max_passage_words,
                                                                    options)
        except sources.text.wikitext.Unrenderable:  # an opening never closed: MediaWiki would show markup
            drops[reasons.DROP_MARKUP_LEFT] = drops.get(reasons.DROP_MARKUP_LEFT, 0) + 1
            return
        text = sources.text.wikitext.cut_at_sentence(text, config.max_passage_words)
        if config.drop_dangling_intros:  # the budget may have cut a list off its introduction
            text, dangling = sources.text.wikitext.drop_dangling_end(text)
            if dangling:
                counts[sources.text.wikitext.DANGLING_INTRO] = counts.get(sources.text.wikitext.DANGLING_INTRO,
                                                                           0) + dangling
        for rule, n in counts.items():  # counted whatever becomes of the section (emptied: empty_text)
            cleaned[rule] = cleaned.get(rule, 0) + n
        candidate = Section(index, headings, text)
        reason = first_drop(candidate, section_rules(config))
        if reason is None:
            kept.append(candidate)
        else:
            drops[reason] = drops.get(reason, 0) + 1

    for raw in sources.text.wikitext.split_sections(sources.text.wikitext.strip_page(wikitext, options)):
        if raw.heading is not None and raw.level > config.max_heading_level:
            if current is not None:  # folded into the enclosing section, heading line left out
                current[2].append(raw.body)
            continue
        close(current)
        current = None
        if raw.heading is None:
            current = (raw.index, (), [raw.body])
            continue
        while path and path[-1][0] >= raw.level:
            path.pop()
        if boilerplate_from is not None and raw.level <= boilerplate_from:
            boilerplate_from = None
        try:
            heading = sources.text.wikitext.heading_text(raw.heading)
        except sources.text.wikitext.Unrenderable:  # the same, in the heading line
            heading = None
        path.append((raw.level, heading or ""))
        if boilerplate_from is None and heading is not None and is_boilerplate(heading):
            boilerplate_from = raw.level
        if boilerplate_from is not None or heading is None:
            reason = reasons.DROP_BOILERPLATE_SECTION if boilerplate_from is not None else reasons.DROP_MARKUP_LEFT
            drops[reason] = drops.get(reason, 0) + 1
            continue
        current = (raw.index, tuple(h for _, h in path if h), [raw.body])
    close(current)
    return tuple(kept), drops, cleaned


# ---- the page ---------------------------------------------------------------------------------


def namespace_of(fields: PageFields) -> int:
    if fields.namespace is not None:
        return fields.namespace
    prefix = fields.title.split(":", 1)[0] if ":" in fields.title else ""
    return 1 if prefix in _NAMESPACE_PREFIXES else ARTICLE_NAMESPACE  # 1: "some other namespace"


def is_disambiguation(title: str, wikitext: str) -> bool:
    return title.endswith("(disambiguation)") or bool(_DISAMBIGUATION.search(wikitext))


def epoch_of(timestamp: str) -> Optional[int]:
    """``2016-04-22T10:19:33Z`` -> seconds since the epoch; RejectRecord for anything else."""
    if not timestamp:
        return None
    try:
        parsed = _dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"<timestamp>{timestamp[:40]!r} is not a UTC time") from None
    return calendar.timegm(parsed.timetuple())


def page_from_fields(fields: PageFields, wiki: str, config: WikipediaConfig = WikipediaConfig(),
                     lang: str = "") -> WikiPage:
    """Typed page; the wikitext of articles that pass the page rules becomes their sections.

    `lang`: the wiki's language when the file tells it (else language_of(wiki)); when neither does,
    the language of the page's text (config.detect_language), and an unknown wiki is named after it."""
    page = WikiPage(
        wiki=wiki, page_id=fields.page_id, title=fields.title, namespace=namespace_of(fields), model=fields.model,
        revision_id=fields.revision_id, created_utc=epoch_of(fields.timestamp),
        is_redirect=fields.redirect or bool(_REDIRECT_TEXT.match(fields.text)),
        is_disambiguation=is_disambiguation(fields.title, fields.text), lang=lang or language_of(wiki))
    if first_drop(page, PAGE_RULES) is not None:
        return page
    try:
        sections, drops, cleaned = page_sections_counted(fields.text, config)
    except RecursionError as exc:
        raise RejectRecord(reasons.REJECT_INVALID_WIKITEXT, f"wikitext nested too deeply: {exc}") from None
    except MemoryError:  # the worker's state, not this page's (pages are capped by --max_page_bytes)
        raise
    except Exception as exc:  # noqa: BLE001 - mwparserfromhell failing on a page is that page's reject
        raise RejectRecord(reasons.REJECT_INVALID_WIKITEXT, f"{type(exc).__name__}: {exc}") from None
    page = dataclasses.replace(page, sections=sections, section_drops=tuple(sorted(drops.items())),
                               cleanups=tuple(sorted(cleaned.items())))
    if not page.lang and config.detect_language and sections:
        page = identified_language(page)
    return page


def identified_language(page: WikiPage) -> WikiPage:
    """A page of a file that does not say its wiki's language: the language of its text, and a wiki
    named after it when the wiki is unknown too (``dewiki``); "" only when the text has none."""
    text = " ".join(section.text for section in page.sections)[:4 * sources.text.langid.MAX_CHARS]
    code, _ = sources.text.langid.detect_language(text)
    if not code:
        return page
    wiki = f"{code}wiki" if page.wiki == UNKNOWN_WIKI else page.wiki
    return dataclasses.replace(page, lang=code, wiki=wiki)


def parse_page_xml(raw: bytes, wiki: str, config: WikipediaConfig = WikipediaConfig(), lang: str = "") -> WikiPage:
    """One ``<page>…</page>`` -> typed page; bad XML, unsafe XML, bad fields are RejectRecord."""
    return page_from_fields(parse_page(raw), wiki, config, lang)


# ---- pairs ------------------------------------------------------------------------------------------


def section_key(page: WikiPage, section: Section) -> str:
    return f"{page.key}/{section.index}"


def page_key_of(section_key_: str) -> str:
    return section_key_.rsplit("/", 1)[0]


def query_of(page: WikiPage, section: Section, config: WikipediaConfig) -> str:
    headings = section.headings or ((config.lead_heading,) if config.lead_heading else ())
    return " ".join((page.title,) + headings)


def language_of(wiki: str) -> str:
    """ISO 639 code of a wiki's language from its database name: enwiki -> en, simplewiki -> en."""
    if wiki == "simplewiki":
        return "en"
    match = _LANGUAGE_OF_WIKI.match(wiki)
    return match.group(1) if match else ""


def make_wikipedia_pair(page: WikiPage, section: Section, config: WikipediaConfig) -> dict:
    key = section_key(page, section)
    return make_pair(source=SOURCE, subsource=page.wiki, query=query_of(page, section, config), passage=section.text,
                     query_id=key, passage_id=key, lang=page.lang or language_of(page.wiki), score=None,
                     created_at=utc_from_epoch(page.created_utc))


def pairs_of(page: WikiPage, config: WikipediaConfig) -> List[dict]:
    return [make_wikipedia_pair(page, section, config) for section in page.sections]


def copy_rank_key(page: WikiPage) -> Tuple:
    """Which copy of a page met twice (two dumps) to keep: the newer revision (then its text: a total order)."""
    return (page.created_utc or 0, page.revision_id or 0, tuple((s.index, s.headings, s.text) for s in page.sections))


# ---- where a dump comes from ------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """What a dump says of its wiki: the database name (subsource, id prefix) and its language."""

    wiki: str
    lang: str


def site_of(dbname: Optional[str], root_lang: Optional[str], base_lang: Optional[str], path: str) -> Site:
    """The wiki and language of a dump, from what it tells, best first: siteinfo's <dbname>, the file
    name as Wikimedia writes it (``dewiki-20240601-…``), the language of the <mediawiki xml:lang> root
    or siteinfo's <base> host (a Wikipedia: ``{lang}wiki``); else UNKNOWN_WIKI and "" (language ID per page)."""
    wiki = dbname or wiki_from_name(path)
    known = root_lang or base_lang or ""
    if wiki:
        return Site(wiki, language_of(wiki) or known)
    return Site(f"{known}wiki", known) if known else Site(UNKNOWN_WIKI, "")


def wiki_from_name(path: str) -> Optional[str]:
    """``enwiki-20240601-pages-articles-multistream.xml.bz2`` -> ``enwiki`` (Wikimedia's names start with it)."""
    match = _WIKI_IN_NAME.match(posixpath.basename(path.replace("\\", "/")))
    return match.group(1) if match else None


def pairs_in_memory(pages: Iterable[WikiPage], config: WikipediaConfig = WikipediaConfig()) -> List[dict]:
    """The whole rule set on in-memory pages: a reference for tests and benchmarks (the pipeline must agree)."""
    best: Dict[str, WikiPage] = {}
    for page in pages:
        if drop_reason(page) is None:
            kept = best.get(page.key)
            if kept is None or copy_rank_key(page) > copy_rank_key(kept):
                best[page.key] = page
    pairs: Dict[str, dict] = {}
    for page in best.values():
        for pair in pairs_of(page, config):
            kept = pairs.get(pair["pair_id"])
            if kept is None or (pair["query_id"], pair["passage_id"]) < (kept["query_id"], kept["passage_id"]):
                pairs[pair["pair_id"]] = pair
    return list(pairs.values())
