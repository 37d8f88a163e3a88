"""Semantic Scholar records: S2AG papers / abstracts / citations / s2orc and legacy S2ORC 2020 metadata.

A JSON line is told apart by its fields, never by the file name:
  citingcorpusid                 S2AG citations row      -> a Citation
  content.annotations            S2AG s2orc full text    -> a PaperPart (title, abstract spans)
  paper_id (+ outbound_citations) legacy S2ORC metadata  -> a PaperPart and its citations
  corpusid + abstract             S2AG abstracts         -> a PaperPart (abstract)
  corpusid + title                S2AG papers            -> a PaperPart (title, year, citation count)

Ids are integers in some datasets and strings in others: inside ccpairs every paper id is the
decimal string. A paper's parts, from any files in any order, merge into one Paper (merge_parts
is commutative, so a combiner can do it), which gives the (title, abstract) pair; citations
give citing -> cited pairs in the form `citation_pairs` names.
"""

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Optional, Tuple

from schemas import reasons
from schemas.pairs import make_pair
from sources import values
from sources.errors import RejectRecord
from sources.settings import setting
from sources.text.abstract_text import clean_s2_abstract, not_an_abstract
from sources.text.normalize import normalize_whitespace, repair_mojibake, unescape_entities
from sources.text.rules import English, MaxChars, MinChars, NotCertainlyForeign, first_drop

SOURCE = "semanticscholar"
TITLE_ABSTRACT = "title-abstract"
CITATION = "citation"
CITATION_FORMS = ("title-title", "title-abstract", "abstract-abstract")
KINDS = ("papers", "abstracts", "s2orc", "legacy")  # the record kinds that describe a paper


@dataclass(frozen=True)
class SemanticScholarConfig:
    """Every filter is a named drop reason."""

    title_abstract_pairs: bool = setting(True, "make (title, abstract) pairs; --no_title_abstract: only citations",
                                         flag="no_title_abstract")
    citation_pairs: str = setting("title-title", "citing -> cited pair form: title-title, title-abstract or "
                                                 "abstract-abstract ('none': no citation pairs)")
    max_citations_per_paper: int = setting(50, "citation pairs kept per cited paper (chosen by hash of the citing id)")
    min_abstract_chars: int = setting(50, "shorter abstracts are dropped")
    max_abstract_chars: int = setting(4096, "longer abstracts are dropped (E5's passage cap)")
    min_title_chars: int = setting(10, "shorter titles are dropped")
    english_only: bool = setting(True, "keep non-English papers (the pair's lang column says which)",
                                 flag="any_language")
    abstract_check: bool = setting(True, "keep texts that are no abstract (funding notes, text starting mid-sentence, "
                                         "no full sentence, a sentence said twice): --no_abstract_check",
                                   flag="no_abstract_check")
    latex_to_text: bool = setting(True, "keep inline LaTeX ($\\alpha$, \\textit{x}) as written: --keep_latex",
                                  flag="keep_latex")
    keep_keywords: bool = setting(False, "keep an abstract's closing 'Keywords:' (Index Terms, CCS CONCEPTS, JEL) list")
    max_line_bytes: int = setting(64 << 20, "a JSON line (or whole-file JSON document) longer than this (bytes, "
                                            "decompressed) is one record_too_large reject, skipped unread")

    def __post_init__(self):
        if self.citation_pairs not in CITATION_FORMS + ("none",):
            raise ValueError(f"--citation_pairs must be one of {', '.join(CITATION_FORMS)} or none, "
                             f"not {self.citation_pairs!r}")
        if self.max_citations_per_paper < 1:
            raise ValueError(f"--max_citations_per_paper must be at least 1, not {self.max_citations_per_paper}")
        if self.max_line_bytes < 1:
            raise ValueError(f"--max_line_bytes must be at least 1, not {self.max_line_bytes}")
        if min(self.min_abstract_chars, self.min_title_chars) < 0 or self.max_abstract_chars < 1:
            raise ValueError("--min_abstract_chars/--min_title_chars must be >= 0 and --max_abstract_chars >= 1")


DEFAULT_CONFIG = SemanticScholarConfig()


@dataclass(frozen=True)
class PaperPart:
    """What one record says about a paper; `kind` is the record's dataset (KINDS)."""

    kind: str
    paper_id: str
    title: str = ""
    abstract: str = ""
    year: Optional[int] = None
    citation_count: Optional[int] = None
    cites: Tuple[str, ...] = ()  # legacy metadata carries its outbound citations
    cleanup: Tuple[Tuple[str, int], ...] = ()  # (what cleaning its abstract changed, 1): counted, as Reddit's


@dataclass(frozen=True)
class Citation:
    """One S2AG citations row; cited is None for an unresolved reference."""

    citing: str
    cited: Optional[str]

    @property
    def key(self) -> str:
        return f"citation:{self.citing}>{self.cited}"


@dataclass(frozen=True)
class Paper:
    """A paper's parts merged: the longest title and abstract seen (ties: the smaller text), and how
    many records of each kind described it (extras of one kind are duplicate records)."""

    paper_id: str
    title: str = ""
    abstract: str = ""
    year: Optional[int] = None
    citation_count: Optional[int] = None
    records: Tuple[Tuple[str, int], ...] = ()  # (kind, count), sorted


def _better(a: str, b: str) -> str:
    return a if (len(a), b) >= (len(b), a) else b  # longer wins; equal length: the smaller text, any order


# A paper's fields as the job merges them, a plain tuple (what Beam encodes natively):
# (title, abstract, year, citation_count, records)
PaperFields = Tuple[str, str, Optional[int], Optional[int], Tuple[Tuple[str, int], ...]]


def merge_fields(a: PaperFields, b: PaperFields) -> PaperFields:
    """Commutative and associative: parts may merge in any order on any worker."""
    counts = dict(a[4])
    for kind, n in b[4]:
        counts[kind] = counts.get(kind, 0) + n
    return (_better(a[0], b[0]), _better(a[1], b[1]),
            min((y for y in (a[2], b[2]) if y is not None), default=None),
            max((c for c in (a[3], b[3]) if c is not None), default=None),
            tuple(sorted(counts.items())))


def fields_of(paper: Paper) -> PaperFields:
    return (paper.title, paper.abstract, paper.year, paper.citation_count, paper.records)


def part_fields(part: PaperPart) -> PaperFields:
    return (part.title, part.abstract, part.year, part.citation_count, ((part.kind, 1),))


def merge_parts(a: Paper, b: Paper) -> Paper:
    """merge_fields on two Papers."""
    return Paper(a.paper_id or b.paper_id, *merge_fields(fields_of(a), fields_of(b)))


def paper_of(part: PaperPart) -> Paper:
    return Paper(part.paper_id, *part_fields(part))


# ---- parsing ----

def _paper_id(value: Any, name: str) -> str:
    """Integer or decimal-string id -> the decimal string; anything else is a reject."""
    if isinstance(value, bool) or value is None:
        raise RejectRecord(
            reasons.REJECT_MISSING_FIELDS if value is None else reasons.REJECT_BAD_FIELD_TYPE, f"{name} is {value!r}"
        )
    if isinstance(value, int):
        return str(values.int64(value, name))
    if isinstance(value, str):
        return str(values.integer_text(value, name))
    raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"{name} is {type(value).__name__}, not an id")


def _citation_ids(cites: list) -> Tuple[Tuple[str, ...], int]:
    """(the valid outbound citation ids, sorted and distinct; how many were not ids). One bad id in a
    paper's reference list costs that citation, never the paper: it is counted, not rejected whole."""
    valid, invalid = set(), 0
    for cited in cites:
        try:
            valid.add(_paper_id(cited, "outbound_citations[]"))
        except RejectRecord:
            invalid += 1
    return tuple(sorted(valid)), invalid


def _text(obj: Mapping[str, Any], key: str) -> str:
    """The field as checked text, not yet cleaned ("" when absent)."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"field {key!r} is {type(value).__name__}, not str")
    return values.utf8_text(value, key)


MOJIBAKE_REPAIRED = "mojibake_repaired"  # counted as abstract_/title_mojibake_repaired


def clean_text_counted(text: str) -> Tuple[str, bool]:
    """(title or abstract with entities unescaped, mojibake repaired (as Reddit and Common Crawl do:
    "Koreansâ€™" -> "Koreans’") and whitespace normalised, whether mojibake was repaired)."""
    if not text:
        return "", False
    text, repaired = repair_mojibake(unescape_entities(text))
    return normalize_whitespace(text), repaired


def clean_text(text: str) -> str:
    """Titles and abstracts: entities unescaped, mojibake repaired, whitespace normalised (they
    carry no other markup)."""
    return clean_text_counted(text)[0]


# "ABSTRACT", "Abstract:", "Summary -", or "Abstract" before a capitalised word ("Abstract The area
# of..."); not "Abstract algebra studies...", where the word is the text's own.
_ABSTRACT_LABEL = re.compile(
    r"^(?:(?:ABSTRACT|SUMMARY)(?=[A-Z\s:.\-\u2013\u2014])[\s:.\-\u2013\u2014]*"
    r"|(?:Abstract|Summary)\s*[:.\-\u2013\u2014]\s*|(?:Abstract|Summary)\s+(?=[A-Z]))(?=\S)")
_TRANSLATED_TITLE = re.compile(r"^\[(?P<title>[^\[\]]+)\]\.?$")
_FOOTNOTE_MARKS = "*\u2217\u2020\u2021"  # "Solidarity to achieve stability *"


def clean_abstract_counted(text: str, config: Optional["SemanticScholarConfig"] = None
                           ) -> Tuple[str, Tuple[Tuple[str, int], ...]]:
    """(the abstract as a passage, what cleaning changed): mojibake repaired, S2's own encoding
    undone and publisher heads and tails cut (sources.text.abstract_text), then without the
    "Abstract"/"Summary" label that many abstracts start with (no query says it)."""
    config = config or DEFAULT_CONFIG
    text, repaired = clean_text_counted(text)
    text, changed = clean_s2_abstract(text, latex=config.latex_to_text, keep_keywords=config.keep_keywords)
    text = _ABSTRACT_LABEL.sub("", text, count=1)
    return text, ((("abstract_" + MOJIBAKE_REPAIRED, 1),) if repaired else ()) + tuple((n, 1) for n in changed)


def clean_abstract(text: str) -> str:
    return clean_abstract_counted(text)[0]


def clean_title_counted(text: str) -> Tuple[str, Tuple[Tuple[str, int], ...]]:
    """MEDLINE writes titles translated into English as "[Title]."; the brackets are not the title's,
    nor is a trailing footnote mark. Mojibake is repaired (counted)."""
    text, repaired = clean_text_counted(text)
    if text.endswith(tuple(_FOOTNOTE_MARKS)):  # rstrip, not a regex: "**"*n + "x" + "**"*n stays linear
        text = text.rstrip(_FOOTNOTE_MARKS).rstrip()
    match = _TRANSLATED_TITLE.match(text)
    text = match.group("title").strip() if match else text
    return text, ((("title_" + MOJIBAKE_REPAIRED, 1),) if repaired else ())


def clean_title(text: str) -> str:
    return clean_title_counted(text)[0]


def _year(obj: Mapping[str, Any]) -> Optional[int]:
    year = values.number(obj.get("year"), "year")
    if year is not None and not 1000 <= year <= 9999:
        raise RejectRecord(reasons.REJECT_VALUE_OUT_OF_RANGE, f"year={year} is out of range")
    return year


def _spans(annotations: Mapping[str, Any], name: str):
    """S2AG s2orc annotations are JSON strings of [{start, end}] (or null): parsed a second time."""
    raw = annotations.get(name)
    if raw is None:
        return []
    try:
        spans = json.loads(raw) if isinstance(raw, str) else raw
        return [(int(s["start"]), int(s["end"])) for s in spans]
    except (ValueError, TypeError, KeyError) as exc:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"annotation {name!r} is not a span list: {exc}") from None


def _s2orc_part(obj: Mapping[str, Any], config: "SemanticScholarConfig") -> PaperPart:
    content = obj.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), dict):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, "s2orc content.annotations is not an object")
    text = content.get("text") or ""
    if not isinstance(text, str):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, "s2orc content.text is not a string")

    def first(name: str) -> str:
        spans = _spans(content["annotations"], name)
        return values.utf8_text(text[spans[0][0]:spans[0][1]], name) if spans else ""

    abstract, cleanup = clean_abstract_counted(first("abstract"), config)
    title, title_cleanup = clean_title_counted(first("title"))
    return PaperPart("s2orc", _paper_id(obj.get("corpusid"), "corpusid"), title=title,
                     abstract=abstract, cleanup=cleanup + title_cleanup)


def parse_record(obj: Any, config: Optional["SemanticScholarConfig"] = None):
    """A typed record (PaperPart or Citation) from one decoded JSON value, or RejectRecord."""
    config = config or DEFAULT_CONFIG
    if not isinstance(obj, dict):
        raise RejectRecord(reasons.REJECT_NOT_AN_OBJECT, f"JSON value is {type(obj).__name__}, not an object")
    if "citingcorpusid" in obj:
        cited = obj.get("citedcorpusid")
        return Citation(_paper_id(obj["citingcorpusid"], "citingcorpusid"),
                        None if cited is None else _paper_id(cited, "citedcorpusid"))
    if "content" in obj and "corpusid" in obj:
        return _s2orc_part(obj, config)
    if "paper_id" in obj:
        cites = obj.get("outbound_citations") or []
        if not isinstance(cites, list):
            raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, "outbound_citations is not a list")
        # S2ORC 2020's full-paper JSON (example_paper.json) nests title, abstract and year in "metadata".
        fields = obj["metadata"] if isinstance(obj.get("metadata"), dict) else obj
        abstract, cleanup = clean_abstract_counted(_text(fields, "abstract"), config)
        title, title_cleanup = clean_title_counted(_text(fields, "title"))
        cited, invalid = _citation_ids(cites)
        return PaperPart("legacy", _paper_id(obj["paper_id"], "paper_id"), title, abstract, _year(fields), cites=cited,
                         cleanup=cleanup + title_cleanup
                         + ((("outbound_citation_invalid", invalid),) if invalid else ()))
    if "corpusid" in obj and "abstract" in obj:
        abstract, cleanup = clean_abstract_counted(_text(obj, "abstract"), config)
        return PaperPart("abstracts", _paper_id(obj["corpusid"], "corpusid"), abstract=abstract, cleanup=cleanup)
    if "corpusid" in obj and "title" in obj:
        title, title_cleanup = clean_title_counted(_text(obj, "title"))
        return PaperPart("papers", _paper_id(obj["corpusid"], "corpusid"), title=title, year=_year(obj),
                         citation_count=values.number(obj.get("citationcount"), "citationcount"), cleanup=title_cleanup)
    raise RejectRecord(
        reasons.REJECT_UNKNOWN_RECORD_TYPE, "not a paper, abstract, citation, s2orc or S2ORC metadata record"
    )


def decode_line(raw: bytes, config: Optional["SemanticScholarConfig"] = None):
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RejectRecord(reasons.REJECT_INVALID_UTF8, str(exc)) from None
    except ValueError as exc:
        raise RejectRecord(reasons.REJECT_INVALID_JSON, str(exc)) from None
    return parse_record(obj, config)


# ---- rules and pairs ----

@dataclass(frozen=True)
class _AbstractIsTitle:
    """An 'abstract' that only repeats the title says nothing the query does not."""

    def __call__(self, paper: Paper) -> Optional[str]:
        same = paper.abstract.casefold().strip(" .") == paper.title.casefold().strip(" .")
        return reasons.DROP_ABSTRACT_IS_TITLE if same else None


@dataclass(frozen=True)
class _IsAbstract:
    """A text that is no abstract (sources.text.abstract_text.not_an_abstract): a funding note, text
    cut from another one (starting mid-sentence), a teaser with no full sentence, a sentence twice."""

    field: str = "abstract"

    def __call__(self, paper: Paper) -> Optional[str]:
        return reasons.DROP_NOT_AN_ABSTRACT if not_an_abstract(getattr(paper, self.field)) else None


FOREIGN_SCRIPT_SHARE = 0.25  # of a text's letters in a script English is not written in (Greek aside)


def foreign_script(text: str) -> bool:
    """A quarter or more of the letters are in a script other than Latin or Greek (Han, kana,
    Hangul, Cyrillic, Arabic, ...): "종설 : 류코트리엔과 알레르기 염증", "トリプルセル方式高温DSCによる..."
    (language ID gives that one 'zh' at 0.625, under any certainty). Greek is science's
    ("β-deformed", "Ωccc"); a Han word inside an English title ("Effect of 人参 on rats") stays."""
    if text.isascii():
        return False
    from sources.text.langid import script_counts

    counts = script_counts(text[:1000])
    letters = sum(counts.values())
    foreign = letters - counts.get("latin", 0) - counts.get("greek", 0)
    return letters > 0 and foreign >= FOREIGN_SCRIPT_SHARE * letters


@dataclass(frozen=True)
class _LatinOrGreekScript:
    field: str

    def __call__(self, paper: Paper) -> Optional[str]:
        return reasons.DROP_NON_ENGLISH if foreign_script(getattr(paper, self.field)) else None


def language_id_rule(field: str, is_english=None):
    """English by language ID (after the script): an abstract must read as English; a title (short,
    technical) must not be certainly another language."""
    return English(field, detector=is_english) if field == "abstract" else NotCertainlyForeign(field)


@dataclass(frozen=True)
class _Has:
    field: str
    reason: str

    def __call__(self, paper: Paper) -> Optional[str]:
        return None if getattr(paper, self.field) else self.reason


@functools.lru_cache(maxsize=32)
def title_abstract_rules(config: SemanticScholarConfig, is_english=None) -> Tuple:
    rules = (_Has("title", reasons.DROP_NO_TITLE), _Has("abstract", reasons.DROP_NO_ABSTRACT), _AbstractIsTitle(),
             MinChars(config.min_title_chars, "title"), MinChars(config.min_abstract_chars, "abstract"),
             MaxChars(config.max_abstract_chars, "abstract"))
    # the pair's language from both sides: scripts first (certain and cheap: a Hangul title over an
    # English abstract is no English pair), then the abstract by language ID, the title only when certain
    if config.english_only:
        rules += (_LatinOrGreekScript("title"), _LatinOrGreekScript("abstract"))
    if config.abstract_check:
        rules += (_IsAbstract(),)
    if config.english_only:
        rules += (language_id_rule("abstract", is_english), language_id_rule("title"))
    return rules


def title_abstract_drop(paper: Paper, config: SemanticScholarConfig, is_english=None) -> Optional[str]:
    return first_drop(paper, title_abstract_rules(config, is_english))


@functools.lru_cache(maxsize=32)
def endpoint_rules(field: str, config: SemanticScholarConfig, is_english=None) -> Tuple:
    rules: Tuple = (_LatinOrGreekScript(field),) if config.english_only else ()
    if field == "abstract" and config.abstract_check:
        rules += (_IsAbstract(),)
    if config.english_only:
        rules += (language_id_rule(field, is_english),)
    return rules


def endpoint_drop(paper: Optional[Paper], field: str, config: SemanticScholarConfig,
                  is_english=None, seen: Optional[dict] = None) -> Optional[str]:
    """Why a paper cannot be one end of a citation pair in the form that needs its `field`: it is
    missing (no_title, no_abstract), the field is not English by the title-abstract pairs' own rules
    (script, then language ID as for that field), or its abstract is no abstract. `seen`: as in
    first_drop_once."""
    if paper is None or not paper.title:
        return reasons.DROP_NO_TITLE
    if field == "abstract" and not paper.abstract:
        return reasons.DROP_NO_ABSTRACT
    rules = endpoint_rules(field, config, is_english)
    return first_drop(paper, rules) if seen is None else first_drop_once(paper, rules, seen)


def first_drop_once(paper: Paper, rules: Tuple, seen: dict) -> Optional[str]:
    """first_drop, taking a rule's verdict from `seen` (rule -> reason) when another rule list already
    asked it of this paper: its title's language ID serves its own pair and both ends of a citation."""
    for rule in rules:
        reason = seen[rule] if rule in seen else seen.setdefault(rule, rule(paper))
        if reason is not None:
            return reason
    return None


class Verdicts(NamedTuple):
    """What one paper can be: its (title, abstract) pair's drop reason (None: the pair is made;
    no_pair when --no_title_abstract), why it cannot be the citing or the cited end of a citation
    pair (None: it can; None too with --citation_pairs none), and the language of its pairs."""

    title_abstract: Optional[str]
    citing: Optional[str]
    cited: Optional[str]
    title_abstract_lang: str
    cited_lang: str


def paper_verdicts(paper: Paper, config: SemanticScholarConfig) -> Verdicts:
    """Every rule once per paper and text (language ID is the costly one): the job decides all three
    where the paper's parts have merged, and the plain loop of the benchmark does the same work."""
    seen: dict = {}
    if config.title_abstract_pairs:
        title_abstract = first_drop_once(paper, title_abstract_rules(config), seen)
    else:
        title_abstract = reasons.DROP_NO_PAIR
    citing = cited = None
    if config.citation_pairs != "none":
        citing_field, cited_field = citation_fields(config)
        citing = endpoint_drop(paper, citing_field, config, seen=seen)
        cited = citing if cited_field == citing_field else endpoint_drop(paper, cited_field, config, seen=seen)
    ta_lang = cited_lang = "en"
    if not config.english_only:
        from sources.text.langid import detect_language

        languages: dict = {}

        def lang(text: str) -> str:
            if text not in languages:
                languages[text] = detect_language(text)[0]
            return languages[text]

        if title_abstract is None:
            ta_lang = lang(paper.abstract)
        if config.citation_pairs != "none" and cited is None:
            cited_lang = lang(paper.abstract or paper.title)
    return Verdicts(title_abstract, citing, cited, ta_lang, cited_lang)


MISSING_ENDPOINT = frozenset({reasons.DROP_NO_TITLE, reasons.DROP_NO_ABSTRACT})


def citation_fields(config: SemanticScholarConfig) -> Tuple[str, str]:
    """(field of the citing paper, field of the cited paper) of the configured form."""
    query, passage = config.citation_pairs.split("-")
    return query, passage


def cap_rank(citing: str, cited: str) -> int:
    """The cap keeps, per cited paper, the citing papers with the smallest hash: deterministic, and
    a fair sample rather than the oldest ids."""
    return int.from_bytes(hashlib.blake2b(f"{cited}>{citing}".encode(), digest_size=8).digest(), "big")


def _created(paper: Paper) -> Optional[_dt.datetime]:
    return _dt.datetime(paper.year, 1, 1, tzinfo=_dt.timezone.utc) if paper.year else None


def make_title_abstract_pair(paper: Paper, lang: str = "en") -> dict:
    return make_pair(source=SOURCE, subsource=TITLE_ABSTRACT, query=paper.title, passage=paper.abstract,
                     query_id=f"{paper.paper_id}/title", passage_id=f"{paper.paper_id}/abstract", lang=lang,
                     score=paper.citation_count, created_at=_created(paper))


def make_citation_pair(citing: Paper, cited: Paper, config: SemanticScholarConfig, lang: str = "en") -> dict:
    query_field, passage_field = citation_fields(config)
    return citation_pair(citing.paper_id, getattr(citing, query_field), citing.year, cited.paper_id,
                         getattr(cited, passage_field), cited.citation_count, config, lang)


def citation_pair(citing_id: str, query: str, citing_year: Optional[int], cited_id: str, passage: str,
                  cited_citation_count: Optional[int], config: SemanticScholarConfig, lang: str = "en") -> dict:
    """make_citation_pair from the fields it reads (what the job's citation join carries)."""
    query_field, passage_field = citation_fields(config)
    created = _dt.datetime(citing_year, 1, 1, tzinfo=_dt.timezone.utc) if citing_year else None
    return make_pair(source=SOURCE, subsource=CITATION, query=query, passage=passage,
                     query_id=f"{citing_id}/{query_field}", passage_id=f"{cited_id}/{passage_field}", lang=lang,
                     score=cited_citation_count, created_at=created)


def with_records(paper: Paper, **counts: int) -> Paper:
    """A Paper with its record counts set (tests)."""
    return dataclasses.replace(paper, records=tuple(sorted(counts.items())))
