"""Common Crawl (and any WARC crawl): raw WARC record -> page -> (title, passage) pair.

    raw record (sources.formats.warc) -> Skipped(reason)     request, metadata, warcinfo, revisit, resource,
                                                      dns, non-HTML, non-2xx, too large, binary
                              -> WebPage             title, main text, prose lines, passage
    WebPage --rules (each a drop reason)--> pair: (title without the site name, start of the main text)

Pairs (E5's CCPairs): query = the page title (`<title>`, else og:title, else its only `<h1>`), the
site's name split off; passage = the start of the main text, whole sentences up to
`max_passage_words`. `subsource` is the crawl (CC-MAIN-2020-34; another crawler's WARC name),
`query_id` the URL without its fragment (`page_url`), `passage_id` that + "#passage", `created_at` the
WARC-Date. A query_id holds no "#" and a passage_id exactly one, so no URL, whatever fragment it
carries, makes one page's id equal to another's.

Main text: resiliparse's main-content mode, whose time grows with elements x nesting depth; a page
nested deeper than `max_dom_depth` gets the plain-text extraction instead (linear), and is counted.

Language: Common Crawl's own guess when the record carries one (WARC-Identified-Content-Language
on responses since 2018; before, the languages-cld2 of the metadata record, which the reader
attaches to its response); otherwise sources.text.langid on the passage. A page the crawler calls
non-English is dropped before its HTML is parsed, which is most of the cost.
"""

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union
from urllib.parse import urlsplit

from schemas import reasons
from schemas.pairs import make_pair
from sources.errors import RejectRecord
from sources.formats import http_message, warc
from sources.settings import setting
from sources.text import web_quality
from sources.text.rules import English, NotCertainlyForeign, first_drop
from sources.text.web_text import (HtmlDocument, Site, clean_text, decode_html, is_generic_title, line_key,
                                   looks_binary, passage_of, prose_lines, repaired, sniff_html, split_site_name,
                                   strip_section_label, text_key, without_lines)

SOURCE = "commoncrawl"
MAX_TEXT_CHARS = web_quality.MAX_CHARS  # of main text kept per page: every rule reads at most this much
LANGID_CHARS = 1000
# A page nested deeper than --max_dom_depth: its main text came from plain-text extraction.
PLAIN_TEXT_OVER_MAX_DOM_DEPTH = "plain_text_over_max_dom_depth"
# What the text cleanup did to a page, counted (manifest detail_counts "cleanup/<name>"):
TITLE_SECTION_LABEL_CUT = "title_section_label_cut"  # "Blog - Why we moved" -> "Why we moved"
REPEATED_SENTENCES_DROPPED = "repeated_sentences_dropped"  # a sentence already in the passage
COMMAND_LINES_DROPPED = "command_lines_dropped"  # "$ pip install foo." among the prose lines
BOILERPLATE_LINES_REMOVED = "boilerplate_lines_removed"  # lines on --boilerplate_min_pages pages of the site
_HOME_PATH = re.compile(r"^/?(?:(?:index|default|home|start)\.[a-z]{2,5})?$", re.I)
_TYPE_REASONS = {
    "request": reasons.DROP_WARC_REQUEST,
    "metadata": reasons.DROP_WARC_METADATA,
    "warcinfo": reasons.DROP_WARC_INFO,
    "revisit": reasons.DROP_WARC_REVISIT,
    "resource": reasons.DROP_WARC_RESOURCE,
}
# ISO 639-3 (WARC-Identified-Content-Language) -> 639-1 for the languages Common Crawl sees most.
_ISO3 = {"eng": "en", "zho": "zh", "deu": "de", "rus": "ru", "jpn": "ja", "spa": "es", "fra": "fr", "por": "pt",
         "ita": "it", "pol": "pl", "nld": "nl", "ces": "cs", "tur": "tr", "vie": "vi", "ind": "id", "kor": "ko",
         "swe": "sv", "fas": "fa", "ara": "ar", "hun": "hu", "ron": "ro", "ell": "el", "dan": "da", "fin": "fi",
         "ukr": "uk", "tha": "th", "slk": "sk", "heb": "he", "nor": "no", "bul": "bg", "hin": "hi", "cat": "ca"}


@dataclass(frozen=True)
class CommonCrawlConfig:
    """Every filter is a named drop reason; thresholds follow C4 and Gopher where they say something."""

    max_record_bytes: int = setting(2 << 20, "WARC records whose block (or decoded payload) is longer are skipped "
                                             "and counted (record_too_large), never read whole")
    max_html_bytes: int = setting(256 << 10, "HTML read per page; the rest is skipped (bounds extraction time; "
                                             "the passage comes from the start)")
    max_dom_depth: int = setting(256, "pages whose elements nest deeper get plain-text extraction instead of "
                                      "main-content extraction (whose time grows with elements x depth; "
                                      "counted as plain_text_over_max_dom_depth)")
    max_passage_words: int = setting(256, "passage: the start of the main text, whole sentences up to this many words")
    min_words: int = setting(50, "passages with fewer words are dropped (Gopher)")
    min_sentences: int = setting(3, "passages with fewer sentences are dropped (C4)")
    min_title_chars: int = setting(5, "shorter titles (site name split off) are dropped")
    max_title_chars: int = setting(200, "longer titles are dropped (keyword lists)")
    max_symbol_ratio: float = setting(0.1, "pages with more '#' and ellipses per word are dropped (Gopher)")
    max_bullet_lines: float = setting(0.9, "pages with a larger share of lines starting with a bullet are dropped "
                                           "(Gopher)")
    max_ellipsis_lines: float = setting(0.3, "pages with a larger share of lines ending in an ellipsis are dropped "
                                             "(Gopher)")
    drop_bad_words: bool = setting(True, "keep pages with a word of the LDNOOBW list (C4 drops them)",
                                   flag="keep_bad_words")
    english_only: bool = setting(True, "keep non-English pages (the pair's lang column says which)",
                                 flag="any_language")
    boilerplate_min_pages: int = setting(3, "a line on at least this many pages of one site within a WARC file "
                                            "is boilerplate and removed before the passage is cut (CCNet; "
                                            "0: off)")
    boilerplate_short_words: int = setting(8, "a line of fewer words is boilerplate already on 2 pages of its site "
                                              "within a WARC file ('New: Read the Collection Team's Blog!'); "
                                              "longer lines need --boilerplate_min_pages (0: no such rule)")
    drop_repeated_sentences: bool = setting(True, "keep a sentence that is already in the passage (default: "
                                                  "left out, counted)", flag="keep_repeated_sentences")
    drop_command_lines: bool = setting(True, "keep shell and command lines ('$ pip install x') among the prose "
                                             "lines (default: left out, counted)", flag="keep_command_lines")
    strip_title_labels: bool = setting(True, "keep section labels in titles ('Blog - ', ' | News'; default: "
                                             "cut, counted)", flag="keep_title_labels")
    lm_model: str = setting("", "KenLM model (.arpa or .binary, a local file) for the perplexity rule; "
                                "without one the rule is off")
    max_perplexity: float = setting(1000.0, "with --lm_model: passages above this perplexity are dropped")

    def __post_init__(self):
        for name in ("max_record_bytes", "max_html_bytes", "max_dom_depth", "max_passage_words", "max_title_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, not {getattr(self, name)}")
        for name in ("min_words", "min_sentences", "min_title_chars", "boilerplate_min_pages",
                     "boilerplate_short_words"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0, not {getattr(self, name)}")
        if self.min_title_chars > self.max_title_chars:
            raise ValueError(f"--min_title_chars ({self.min_title_chars}) must not exceed --max_title_chars "
                             f"({self.max_title_chars})")
        for name in ("max_bullet_lines", "max_ellipsis_lines"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name} must be a fraction between 0 and 1, not {getattr(self, name)}")
        if not self.max_symbol_ratio >= 0.0:
            raise ValueError(f"--max_symbol_ratio must be >= 0, not {self.max_symbol_ratio}")
        if not self.max_perplexity > 0.0:
            raise ValueError(f"--max_perplexity must be positive, not {self.max_perplexity}")
        if self.lm_model:
            if "://" in self.lm_model or not os.path.isfile(self.lm_model):
                raise ValueError(f"--lm_model {self.lm_model!r} is not a local file (KenLM reads local files; "
                                 "copy the model onto the workers' image or pass a local path)")
            try:
                import kenlm  # noqa: F401
            except ImportError:
                raise ValueError("--lm_model needs the kenlm module: pip install kenlm") from None


@dataclass(frozen=True)
class Skipped:
    """A WARC record that is no candidate page, and why (request, metadata, image, 404, too large, …)."""

    reason: str
    key: str


@dataclass(frozen=True)
class WebPage:
    """A fetched HTML page, reduced to what the rules and the pair need (texts capped at MAX_TEXT_CHARS)."""

    url: str
    url_key: str  # normalised URL: captures of one page share it
    record_id: str
    crawl: str
    fetched: int  # WARC-Date, epoch seconds
    lang_hint: str  # the crawler's language guess (ISO 639-1 where known), "" when it gave none
    title: str = ""
    text: str = ""  # main text as extracted (lines, bullets)
    prose: str = ""  # its prose lines
    passage: str = ""  # the start of the prose, up to max_passage_words
    charset: str = ""  # how the page was decoded (sources.text.web_text.decode_html), "" when not decoded
    mojibake_repaired: bool = False
    body_cut: bool = False  # the HTML was longer than max_html_bytes
    too_deep: bool = False  # nested deeper than max_dom_depth: plain-text extraction, not main content
    unit: str = ""  # the WARC file it came from: boilerplate is counted per site within it
    site_name: str = ""  # og:site_name (or application-name), cleaned: what the title rules compare with
    cleaned: Tuple[Tuple[str, int], ...] = ()  # (what text cleanup did, how often), see TITLE_SECTION_LABEL_CUT…

    @property
    def decoded(self) -> bool:
        return bool(self.charset)

    @property
    def cleanup(self) -> Tuple[Tuple[str, int], ...]:
        """What extraction did differently, as the pipeline counts it for every source (a Beam counter).
        The text cleanups (`cleaned`) are counted once the site's boilerplate is gone (page_details)."""
        return ((PLAIN_TEXT_OVER_MAX_DOM_DEPTH, 1),) if self.too_deep else ()

    @property
    def site(self) -> Site:
        return Site(self.site_name, _host(self.url))

    @property
    def passage_head(self) -> str:
        """What language ID reads: the passage's first LANGID_CHARS characters (on the samples, the
        same verdicts as the whole passage at an eighth of the time)."""
        return self.passage[:LANGID_CHARS]


@dataclass(frozen=True)
class KeptPage:
    """What a page that passed every rule carries on to deduplication and its pair."""

    url: str
    url_key: str
    record_id: str
    crawl: str
    fetched: int
    title: str
    passage: str
    lang: str


# ---- parsing ----

def page_url(url: str) -> str:
    """The URL without its fragment ("#top" is a place in a page, not a page): the page's query_id.
    It holds no "#", so a passage_id (page_url + "#passage") can never equal any page's query_id."""
    return url.partition("#")[0].strip()


def url_key(url: str) -> str:
    """Captures of one page share this: scheme, "www.", default port, fragment and letter case of the
    host are left out (http://www.Example.com:80/a#top and https://example.com/a are one page). It is
    a function of page_url(url), so the ids of one page (page_url(query_id) == page_url(passage_id))
    lead back to it."""
    url = page_url(url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return url
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    return netloc + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def target_uri(record: warc.RawRecord) -> str:
    """WARC-Target-URI, without the angle brackets wget and WARC 1.1 drafts put around it."""
    uri = record.get("warc-target-uri").strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1].strip()
    return uri


def warc_date(value: str) -> int:
    """WARC-Date (ISO 8601 UTC, seconds or finer) as epoch seconds; RejectRecord when absent or malformed."""
    if not value:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, "response without WARC-Date")
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"WARC-Date {value[:40]!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return int(moment.timestamp())


def language_hint(record: warc.RawRecord) -> str:
    """The crawler's guess of the page's main language, ISO 639-1 where known; "" when there is none
    (or Common Crawl's cld2 says it is unreliable)."""
    identified = record.get("warc-identified-content-language")
    if identified:
        first = identified.split(",")[0].strip().lower()
        return _ISO3.get(first, first)
    cld2 = record.get(warc.CLD2)
    if cld2:
        try:
            guess = json.loads(cld2)
            languages = guess.get("languages") or []
            if guess.get("reliable") and languages:
                code = str(languages[0].get("code") or "").lower()
                return code.split("-")[0] if code else ""
        except (ValueError, AttributeError, TypeError):
            return ""
    return ""


def url_path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def is_home_page(url: str) -> bool:
    """A site's front page (/, /index.html, /default.aspx): its title is rightly the site's name."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return _HOME_PATH.match(path) is not None


def choose_title(candidates: Iterable[str], site: Site, home: bool = False, path: str = "") -> str:
    """The first of the candidates (<title>, og:title, the only <h1>; read lazily) that is not generic
    ("Home") and, except on a front page, says more than the site's name (a blog whose every <title>
    is the author's name has the post's title in its <h1>); site name split off, text cleaned. Else
    the first non-empty one, so the title rules can say what is wrong with it."""
    seen = []
    for raw in candidates:
        if raw and raw.strip():
            cleaned = split_site_name(repaired(clean_text(raw))[0].replace("\n", " "), site)
            if cleaned and not is_generic_title(cleaned, site, path) and (home or not site.is_named_by(cleaned)):
                return cleaned
            seen.append(cleaned)
    return next((c for c in seen if c), "")


def parse_record(data: bytes, config: CommonCrawlConfig = CommonCrawlConfig(),
                 unit: str = "") -> Union[Skipped, WebPage]:
    """One raw record (sources.formats.warc's encoding) -> Skipped or WebPage; RejectRecord for a malformed one.
    `unit`: the WARC file it was read from (boilerplate is counted per site within it)."""
    record = warc.decode(data)
    kind = record.get("warc-type").strip().lower()
    key = record.get("warc-record-id") or f"record:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
    omitted = record.get(warc.OMITTED)
    if omitted:
        return Skipped(omitted if omitted in reasons.DROP_REASONS else reasons.DROP_RECORD_TOO_LARGE, key)
    if kind != "response":
        return Skipped(_TYPE_REASONS.get(kind, reasons.DROP_WARC_OTHER), key)
    url = target_uri(record)
    if not url:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, "response record without WARC-Target-URI")
    if not page_url(url):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"WARC-Target-URI {url[:80]!r} is only a fragment")
    if url.lower().startswith("dns:") or record.get("content-type").lower().startswith("text/dns"):
        return Skipped(reasons.DROP_DNS_RECORD, key)
    if not record.block.startswith(b"HTTP/") and "application/http" not in record.get("content-type").lower():
        return Skipped(reasons.DROP_NOT_HTML, key)  # an ftp: or whois: capture, no HTTP response
    head, body = http_message.read_head(record.block)
    if not 200 <= head.status < 300:
        return Skipped(reasons.DROP_HTTP_STATUS, key)
    media_type = head.media_type or record.get("warc-identified-payload-type").split(";")[0].strip().lower()
    if media_type and not warc.is_html_type(media_type):
        return Skipped(reasons.DROP_NOT_HTML, key)
    page = WebPage(url=url, url_key=url_key(url), record_id=key, crawl=record.get(warc.CRAWL),
                   fetched=warc_date(record.get("warc-date")), lang_hint=language_hint(record),
                   body_cut=bool(record.get(warc.BODY_CUT)), unit=unit)
    if config.english_only and page.lang_hint and page.lang_hint != "en":
        return page  # the crawler says it is not English: no need to read it (CrawlerLanguage drops it)
    try:
        body = http_message.decoded_body(head, body, config.max_html_bytes, config.max_record_bytes)
    except http_message.PayloadTooLarge:
        return Skipped(reasons.DROP_RECORD_TOO_LARGE, key)
    if not media_type and not sniff_html(body):
        return Skipped(reasons.DROP_NOT_HTML, key)
    if looks_binary(body) and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Skipped(reasons.DROP_BINARY_PAYLOAD, key)
    return read_page(page, body, head.charset, config)


def read_page(page: WebPage, body: bytes, http_charset: Optional[str], config: CommonCrawlConfig) -> WebPage:
    """The page's title, main text, prose and passage from its HTML bytes. The title comes first: a
    page the title rules refuse is not extracted (it ends with no text; TitleRules drops it)."""
    html, charset = decode_html(body, http_charset)
    doc = HtmlDocument(html)
    site = Site(clean_text(doc.site_name), _host(page.url))
    title = choose_title((read() for read in (lambda: doc.title, lambda: doc.og_title, lambda: doc.h1)), site,
                         is_home_page(page.url), url_path(page.url))
    cleaned = ()
    if config.strip_title_labels:
        title, cut = strip_section_label(title)
        cleaned = ((TITLE_SECTION_LABEL_CUT, 1),) if cut else ()
    page = dataclasses.replace(page, title=title, charset=charset, site_name=site.name, cleaned=cleaned)
    if TitleRules(config.min_title_chars, config.max_title_chars)(page) is not None:
        return page
    too_deep = doc.nests_deeper_than(config.max_dom_depth)  # main-content time grows with elements x depth
    extracted = doc.plain_text() if too_deep else doc.main_text()
    text = clean_text(extracted[:MAX_TEXT_CHARS + 2000])[:MAX_TEXT_CHARS]
    return with_passage(dataclasses.replace(page, text=text, too_deep=too_deep), config)


def with_passage(page: WebPage, config: CommonCrawlConfig, extra: Tuple[Tuple[str, int], ...] = ()) -> WebPage:
    """The page with its prose and passage cut from its text: command lines and repeated sentences
    left out when the config says so, each counted in `cleaned` (after the title's, before `extra`)."""
    commands = [0] if config.drop_command_lines else None
    repeats = [0] if config.drop_repeated_sentences else None
    lines = prose_lines(page.text, commands)
    passage, fixed = repaired(passage_of(lines, config.max_passage_words, repeats))
    cleaned = tuple(c for c in page.cleaned if c[0] == TITLE_SECTION_LABEL_CUT)
    cleaned += tuple((name, counter[0]) for name, counter in ((COMMAND_LINES_DROPPED, commands),
                                                              (REPEATED_SENTENCES_DROPPED, repeats))
                     if counter and counter[0]) + extra
    return dataclasses.replace(page, prose="\n".join(lines), passage=passage, mojibake_repaired=fixed,
                               cleaned=cleaned)


# ---- boilerplate: lines a site repeats across its pages within a unit (CCNet) ----

def boilerplate_group(item) -> str:
    """The group whose pages' lines are counted together: the WARC file and the site (host without
    "www."); "" for what has no text to clean (skipped records, pages refused before extraction)."""
    if not isinstance(item, WebPage) or not item.text:
        return ""
    host = _host(item.url).rstrip(".")
    return f"{item.unit}\t{host[4:] if host.startswith('www.') else host}" if host else ""


SHORT_LINE_MIN_PAGES = 2


def page_lines(page: WebPage, config: CommonCrawlConfig,
               keys: Optional[List[str]] = None) -> Tuple[str, Tuple[Tuple[str, int], ...]]:
    """(the page's key, (line key, pages that make it boilerplate) of its distinct lines): a page's
    share of its site's counts. The page's key is its url_key's: captures of one URL count as one
    page, whatever their texts. A line of fewer than --boilerplate_short_words words needs
    SHORT_LINE_MIN_PAGES pages (at most --boilerplate_min_pages), a longer one --boilerplate_min_pages.
    `keys`: the page's line_keys, when the caller has them already."""
    short_needed = min(SHORT_LINE_MIN_PAGES, config.boilerplate_min_pages)
    keys = page_line_keys(page) if keys is None else keys
    needed = {}
    lines = (line for line in page.text.split("\n") if line.strip())
    for line, key in zip(lines, keys):
        short = len(line.split()) < config.boilerplate_short_words
        needed[key] = min(needed.get(key, config.boilerplate_min_pages),
                          short_needed if short else config.boilerplate_min_pages)
    return text_key(page.url_key), tuple(sorted(needed.items()))


def page_line_keys(page: WebPage) -> List[str]:
    """line_key of each non-empty line of the page's text, in order: computed once, read by
    page_lines (counting) and without_boilerplate (removing)."""
    return [line_key(line) for line in page.text.split("\n") if line.strip()]


class RepeatedLines:
    """Counts, per line key, the distinct pages (URL keys) of one site that hold it, each count
    capped at `min_pages` (memory: distinct lines x min_pages); the output is the sorted keys of the
    lines on at least as many pages as they need (page_lines: `min_pages`, fewer for a short line).
    Plain methods, wrapped as a Beam CombineFn by the pipeline."""

    def __init__(self, min_pages: int):
        self.min_pages = min_pages

    def create(self) -> dict:
        return {}

    def add(self, counts: dict, page: Tuple[str, Tuple[Tuple[str, int], ...]]) -> dict:
        doc, keys = page
        for key, needed in keys:
            entry = counts.get(key)
            if entry is None:
                counts[key] = entry = [needed, set()]
            entry[0] = min(entry[0], needed)
            if len(entry[1]) < self.min_pages:
                entry[1].add(doc)
        return counts

    def merge(self, accumulators) -> dict:
        out: dict = {}
        for counts in accumulators:
            for key, (needed, holders) in counts.items():
                entry = out.get(key)
                if entry is None:
                    out[key] = entry = [needed, set()]
                entry[0] = min(entry[0], needed)
                for doc in sorted(holders):
                    if len(entry[1]) >= self.min_pages:
                        break
                    entry[1].add(doc)
        return out

    def extract(self, counts: dict) -> Tuple[str, ...]:
        return tuple(sorted(key for key, (needed, holders) in counts.items() if len(holders) >= needed))


def without_boilerplate(page: WebPage, boilerplate, config: CommonCrawlConfig,
                        keys: Optional[List[str]] = None) -> Tuple[WebPage, int, int]:
    """(the page without its site's boilerplate lines, lines removed, characters removed); a page
    that loses lines gets its prose and passage cut again. `keys`: page_line_keys(page), if known."""
    text, lines, chars = without_lines(page.text, boilerplate, keys)
    if not lines:
        return page, 0, 0
    page = dataclasses.replace(page, text=text)
    return with_passage(page, config, ((BOILERPLATE_LINES_REMOVED, lines),)), lines, chars


# ---- rules ----

@dataclass(frozen=True)
class CrawlerLanguage:
    """The crawler's own language guess, when it made one (free: no text needs reading)."""

    def __call__(self, page: WebPage) -> Optional[str]:
        return reasons.DROP_NON_ENGLISH if page.lang_hint and page.lang_hint != "en" else None


@dataclass(frozen=True)
class TitleRules:
    min_chars: int
    max_chars: int

    def __call__(self, page: WebPage) -> Optional[str]:
        if not page.title:
            return reasons.DROP_NO_TITLE
        if is_generic_title(page.title, page.site, url_path(page.url)):
            return reasons.DROP_GENERIC_TITLE
        if len(page.title) < self.min_chars:
            return reasons.DROP_TITLE_TOO_SHORT
        if len(page.title) > self.max_chars:
            return reasons.DROP_TITLE_TOO_LONG
        return None


@dataclass(frozen=True)
class HasPassage:
    def __call__(self, page: WebPage) -> Optional[str]:
        return None if page.passage else reasons.DROP_EMPTY_TEXT


@dataclass(frozen=True)
class UnlessCrawlerSaid:
    """Language ID on the passage, for pages whose crawler gave no language."""

    rule: English

    def __call__(self, page: WebPage) -> Optional[str]:
        return None if page.lang_hint else self.rule(page)


@dataclass(frozen=True)
class MaxPerplexity:
    model_path: str
    max_perplexity: float

    def __call__(self, page: WebPage) -> Optional[str]:
        from sources.text.perplexity import load_scorer

        return (
            reasons.DROP_HIGH_PERPLEXITY
            if load_scorer(self.model_path).perplexity(page.passage) > self.max_perplexity
            else None
        )


@functools.lru_cache(maxsize=16)
def rules(config: CommonCrawlConfig, is_english=None) -> Tuple:
    """The page rules, cheapest first: the crawler's language, title, passage size, Gopher's line
    statistics, C4's page checks, then language ID and perplexity (the costly ones) last."""
    out = ((CrawlerLanguage(),) if config.english_only else ()) + (
        TitleRules(config.min_title_chars, config.max_title_chars), HasPassage(),
        web_quality.MinWords(config.min_words, "passage"), web_quality.MinSentences(config.min_sentences),
        web_quality.SymbolRatio(config.max_symbol_ratio), web_quality.BulletLines(config.max_bullet_lines),
        web_quality.EllipsisLines(config.max_ellipsis_lines), web_quality.LoremIpsum(), web_quality.CurlyBrace())
    if config.drop_bad_words:
        out += (web_quality.BadWords(),)
    if config.english_only:
        # NotCertainlyForeign: a Chinese keyword title over English boilerplate is spam, no pair
        out += (UnlessCrawlerSaid(English("passage_head", detector=is_english)), NotCertainlyForeign("title"))
    if config.lm_model:
        out += (MaxPerplexity(config.lm_model, config.max_perplexity),)
    return out


def drop_reason(item: Union[Skipped, WebPage], config: CommonCrawlConfig, is_english=None) -> Optional[str]:
    if isinstance(item, Skipped):
        return item.reason
    return first_drop(item, rules(config, is_english))


def perplexity_rule(config: CommonCrawlConfig) -> str:
    """What the manifest says about the perplexity rule."""
    if not config.lm_model:
        return "off: no --lm_model"
    return f"on: {os.path.basename(config.lm_model)}, drops passages above {config.max_perplexity:g}"


# ---- pairs ----

def kept_page(page: WebPage, config: CommonCrawlConfig) -> KeptPage:
    """A page that passed the rules, without the texts only the rules read."""
    if page.lang_hint:
        lang = page.lang_hint
    elif config.english_only:
        lang = "en"
    else:
        from sources.text.langid import detect_language

        lang = detect_language(page.passage_head)[0]
    return KeptPage(page.url, page.url_key, page.record_id, page.crawl, page.fetched, page.title, page.passage, lang)


def capture_rank(page: KeptPage):
    """Captures of one URL: the latest wins (then the record id, the URL: a total order)."""
    return (page.fetched, page.record_id, page.url)


PASSAGE_SUFFIX = "#passage"


def make_web_pair(page: KeptPage) -> dict:
    """The pair of a kept page. Its ids: the URL without its fragment, and that + "#passage" (a URL
    ending in "#passage" cannot pass for another page's passage)."""
    query_id = page_url(page.url)
    return make_pair(source=SOURCE, subsource=page.crawl, query=page.title, passage=page.passage,
                     query_id=query_id, passage_id=query_id + PASSAGE_SUFFIX, lang=page.lang,
                     created_at=_dt.datetime.fromtimestamp(page.fetched, tz=_dt.timezone.utc))
