"""Semantic Scholar abstracts as plain passages: what S2's own text encoding leaves in them.

Read on the shared samples (339 abstracts): 25 carry ":::", S2ORC's line break ("human :::
developments", "BACKGROUND ::: Since ... ::: ::: ::: METHODS ::: Isolates"); 45 stop mid-sentence,
cut by a publisher's excerpt ("... by the wea...", "significantly higher (p", MEDLINE's
"(ABSTRACT TRUNCATED AT 250 WORDS)") or ending in a stray keyword or "Language: en" line; arXiv
abstracts keep LaTeX escapes ("3\\% more likely"); a conference abstract starts with its number
("149Background:").

- A run of ":::" after a sentence end is a paragraph break, inside a sentence a wrapped line (a
  space); a structured abstract's heading between breaks becomes "BACKGROUND: Since ...", and
  MEDLINE's "UNLABELLED" heading goes.
- A cut abstract (ending in "...", MEDLINE's truncation note, or mid-sentence) ends at its last full
  sentence, when it has one.
- LaTeX's escaped \\% \\& \\_ \\# \\$ are unescaped; an abstract number glued to a heading goes.

Round 3 (issue 24), read on every pair of the samples: publisher tails ("© 2010 Wiley-Liss, Inc.",
"Copyright © 2007 John Wiley & Sons, Ltd.", "© Science and Technology Letters. All rights
reserved.", "Keywords: reading comprehension, ...", "JEL numbers: C71, C72, D63.", "(Blood.
2004;103: 3287-3295)", "(Author)"), publisher heads ("Summary form only given.", eScholarship's
"Author(s): ... | Advisor(s): ... | Abstract:"), a whole abstract twice ("...systems.In an
Orthogonal ..."), inline LaTeX ("$g_k$-convex", sources.text.latex), and texts that are no abstract:
a funding note ("Major State Basic Research Development Program of China [2009CB220102]"), another
work's text that starts mid-sentence ('lines". Certainly ...', "tile of fitness ..."), teasers
with no full sentence ("... has put pressure ...", "... reports Debora MacKenzie"), a table of
contents.

- A tail is cut from its marker to the end: "©"/"Copyright" (in the last 400 characters),
  "All rights reserved" and "This article is protected by copyright" (from their sentence),
  "Keywords:"/"Key words:"/"Index Terms"/"CCS CONCEPTS"/"JEL ...:" lists after a sentence end,
  a journal citation or "(Author)" closing the text.
- A text that is one text twice (nothing or a space between) is kept once.
- `not_an_abstract` names why a cleaned text is no abstract (the source drops it): a funding or
  acknowledgement note, a start mid-sentence (lower case, unless the first word is a gene-style
  token such as "mRNA", "p53", "n-butanol", or "in vitro"/"de novo"; or a closing mark or "..."),
  no full sentence at all, or a sentence of 40+ characters said twice.

`clean_s2_abstract` returns the text and the names of what it changed, so the pipeline can count.
"""

import re
from typing import List, Optional, Tuple

from sources.text.latex import latex_to_text

BREAKS_JOINED = "abstract_breaks_joined"
CUT_TO_LAST_SENTENCE = "abstract_cut_to_last_sentence"
LATEX_UNESCAPED = "abstract_latex_unescaped"
NUMBER_REMOVED = "abstract_number_removed"
LATEX_CONVERTED = "abstract_latex_converted"
PUBLISHER_TAIL_REMOVED = "abstract_publisher_tail_removed"
KEYWORDS_REMOVED = "abstract_keywords_removed"
PUBLISHER_HEAD_REMOVED = "abstract_publisher_head_removed"
HEADINGS_UNGLUED = "abstract_headings_unglued"
REPEAT_REMOVED = "abstract_repeat_removed"
# why a text is no abstract (not_an_abstract drops, counted per kind as abstract_refused_<kind>)
FUNDING_NOTE = "funding_note"
STARTS_MID_SENTENCE = "starts_mid_sentence"
NO_FULL_SENTENCE = "no_full_sentence"
REPEATS_ITSELF = "repeats_itself"

_BREAKS = re.compile(r"\s*:::(?:\s*:::)*\s*")
_HEADINGS = frozenset({
    "background", "introduction", "purpose", "purposes", "objective", "objectives", "aim", "aims", "goal",
    "method", "methods", "methodology", "materials and methods", "patients and methods", "design", "setting",
    "settings", "participants", "patients", "interventions", "measurements", "main outcome measures", "results",
    "findings", "principal findings", "methodology/principal findings", "conclusion", "conclusions",
    "conclusions/significance", "discussion", "context", "significance", "interpretation", "importance",
    "rationale", "limitations", "summary", "abstract", "unlabelled"})
_DROPPED_HEADINGS = frozenset({"unlabelled", "abstract", "summary"})
_MAX_HEADING_WORDS = 6
_SENTENCE_END = re.compile(r"(?<!\.)[.!?](?!\.)[)\"'\u201d\u2019\]]*(?=\s|$)")
_ENDS_CUT = re.compile(r"(?:\.\.\.|\u2026|[\w,;(\-])$")
_LATEX_ESCAPE = re.compile(r"\\([%&_#$])")
_GLUED_NUMBER = re.compile(r"^\d{1,4}(?=[A-Z][a-z]+\s*:)")
_TRUNCATION_NOTE = re.compile(r"\s*\(ABSTRACT TRUNCATED(?: AT \d+ WORDS)?\)\s*$", re.I)

# ---- round 3: heads, tails, repeats, and what is no abstract
_HEAD = re.compile(r"^(?:Summary form only given\.\s*|Author\(s\):[^\n]{0,600}?\|\s*Abstract:\s*"
                   r"|\((?:Received|Accepted)\b[^()\n]{0,80}\)\s*)")
# BMC's headings glued to their text ("BackgroundThe yeast", "attention.ResultsWe")
_GLUED_HEADING = re.compile(r"(?:^|(?<=[.!?]))\s?(Background|Introduction|Objectives?|Purpose|Aims?|Methods|"
                            r"Methodology|"
                            r"Results|Findings|Discussion|Conclusions?)(?=[A-Z][a-z])")
_COPYRIGHT = re.compile(r"(?:Copyright\s*)?(?:\u00a9|\([cC]\)\s*(?:19|20)\d\d)|Copyright\s+(?:19|20)\d\d")
_RIGHTS = re.compile(r"All rights reserved|This article is protected by copyright|Published by Elsevier", re.I)
_KEYWORDS = re.compile(r"(?:\b(?:Key ?words?|KEY ?WORDS?|Index Terms|Subject terms|"
                       r"JEL(?: [Cc]lassifications?| [Cc]odes?| "
                       r"[Nn]umbers?)?)\s*[:\u2014\u2013-]|\bCCS CONCEPTS\b)")
_CITATION_TAIL = re.compile(r"\s*\((?:[A-Z][A-Za-z&.]{1,30}[ .]){1,4}\s?(?:19|20)\d\d;[^()]{0,40}\)\.?$"
                            r"|\s*\((?:Author|Authors|author abstract)\)\.?$")
_MAX_COPYRIGHT_TAIL = 400
_MAX_KEYWORDS_TAIL = 1500
_FUNDING_START = re.compile(
    r"^(?:(?:this|the) (?:work|research|study|project|paper)(?: was| is| has been)? (?:partly |partially )?"
    r"(?:supported|funded|financed|sponsored)|(?:supported|funded|financed|sponsored) by\b|funding\b|"
    r"financial support\b|acknowledge?ments?\b|we (?:thank|acknowledge)\b|grant (?:no|number|support)\b)", re.I)
_GRANT_CODE = re.compile(r"\b(?:Program(?:me)?|Foundation|Funds?|Council|Grants?|Project)\b[^.\[\]]{0,60}"
                         r"\[[A-Z0-9][\w/-]{3,30}(?:[,;] ?[\w/-]{3,30}){0,20}\]")
_LOWER_START_OK = ("in vitro", "in vivo", "in situ", "in silico", "ex vivo", "de novo", "et al")
_FIRST_TOKEN = re.compile(r"\S{1,40}")
_MIN_REPEATED_SENTENCE = 40


def clean_s2_abstract(text: str, latex: bool = True, keep_keywords: bool = False) -> Tuple[str, Tuple[str, ...]]:
    """(the abstract as a passage, names of what was changed); `text` is already entity-unescaped
    and whitespace-normalised. latex: inline LaTeX as text; keep_keywords: keep a "Keywords:" tail."""
    changed: List[str] = []
    text = _strip_head(text, changed)
    text = strip_tails(text, changed, keep_keywords)
    once = repeated_once(text)
    if once is not None:
        text = once
        changed.append(REPEAT_REMOVED)
    if latex:
        text, converted = latex_to_text(text)
        if converted:
            changed.append(LATEX_CONVERTED)
    unglued, n = _GLUED_HEADING.subn(_unglue, text)
    if n:
        text = unglued.lstrip()
        changed.append(HEADINGS_UNGLUED)
    if ":::" in text:
        text = _join_breaks(text)
        changed.append(BREAKS_JOINED)
    if "\\" in text:
        text, n = _LATEX_ESCAPE.subn(r"\1", text)
        if n:
            changed.append(LATEX_UNESCAPED)
    if text[:1].isdigit():
        text, n = _GLUED_NUMBER.subn("", text)
        if n:
            changed.append(NUMBER_REMOVED)
    cut = cut_to_last_sentence(text)
    if cut != text:
        text = cut
        changed.append(CUT_TO_LAST_SENTENCE)
    return text, tuple(changed)


def _is_heading(part: str) -> bool:
    label = part.rstrip(":").strip()
    if not label or len(label.split()) > _MAX_HEADING_WORDS or _SENTENCE_END.search(label):
        return False
    return label.lower() in _HEADINGS or (label.isupper() and label.replace(" ", "").replace("/", "").isalpha())


def _join_breaks(text: str) -> str:
    out = ""
    parts = [p for p in _BREAKS.split(text) if p]
    for i, part in enumerate(parts):
        if _is_heading(part) and i + 1 < len(parts):
            label = part.rstrip(":").strip()
            if label.lower() not in _DROPPED_HEADINGS:
                out += ("\n" if out else "") + label + ": "
            elif out and not out.endswith((": ", "\n")):
                out += "\n"
        elif not out or out.endswith((": ", "\n")):
            out += part
        else:
            out += ("\n" if _SENTENCE_END.search(out[-3:]) else " ") + part
    return out.strip()


def cut_to_last_sentence(text: str) -> str:
    """An excerpt that stops mid-sentence ("... by the wea...", "higher (p") ends at its last full
    sentence; the text itself when it ends a sentence or has no full sentence to end at."""
    stripped = _TRUNCATION_NOTE.sub("", text.rstrip()) if text.endswith(")") else text.rstrip()
    if not _ENDS_CUT.search(stripped):
        return stripped if len(stripped) < len(text.rstrip()) else text
    body = stripped[:-3] if stripped.endswith("...") else stripped.rstrip("\u2026")
    ends = list(_SENTENCE_END.finditer(body))
    if not ends:
        return text
    return body[:ends[-1].end()]


def _strip_head(text: str, changed: List[str]) -> str:
    if text.startswith(("Summary", "Author", "(")):
        head = _HEAD.match(text)
        if head and head.end() < len(text):
            changed.append(PUBLISHER_HEAD_REMOVED)
            return text[head.end():]
    return text


def _unglue(match: re.Match) -> str:
    return f"\n{match.group(1)}: "


def _sentence_start(text: str, at: int) -> int:
    """Where the sentence holding position `at` starts (0 when no sentence ends before it)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, max(0, at - 2000), at)]
    return ends[-1] if ends else 0


def strip_tails(text: str, changed: List[str], keep_keywords: bool = False) -> str:
    """The text without its publisher tails (copyright, rights, keyword lists, a closing journal
    citation); each cut is named in `changed`. A cut that would leave nothing is not made."""
    cut = len(text)
    reason = None
    tail = _COPYRIGHT.search(text, max(0, len(text) - _MAX_COPYRIGHT_TAIL))
    if tail and tail.start() > 0:
        cut, reason = tail.start(), PUBLISHER_TAIL_REMOVED
    rights = _RIGHTS.search(text, max(0, len(text) - _MAX_COPYRIGHT_TAIL))
    if rights and rights.start() > 0:
        start = _sentence_start(text, rights.start())
        if 0 < start < cut:
            cut, reason = start, PUBLISHER_TAIL_REMOVED
    if not keep_keywords:
        for keywords in _KEYWORDS.finditer(text, max(0, len(text) - _MAX_KEYWORDS_TAIL)):
            before = text[:keywords.start()].rstrip()
            if before and keywords.start() < cut and (_SENTENCE_END.search(before[-3:]) or before.endswith(")")):
                cut, reason = keywords.start(), KEYWORDS_REMOVED
                break
    if reason is not None and text[:cut].strip():
        text = text[:cut].rstrip()
        changed.append(reason)
    if text.endswith((")", ").")):
        citation = _CITATION_TAIL.search(text, max(0, len(text) - 200))
        if citation and citation.start() > 0:
            text = text[:citation.start()].rstrip()
            changed.append(PUBLISHER_TAIL_REMOVED)
    return text


def repeated_once(text: str) -> Optional[str]:
    """The text once when it is one text twice ("A A" or "AA"), else None."""
    n = len(text)
    if n < 40:
        return None
    for half in (n // 2, (n - 1) // 2):
        first, second = text[:half].strip(), text[half:].strip()
        if first == second:
            return first
    return None


def not_an_abstract(text: str) -> Optional[str]:
    """Why a cleaned abstract is no abstract (FUNDING_NOTE, STARTS_MID_SENTENCE, NO_FULL_SENTENCE,
    REPEATS_ITSELF), or None when it reads as one."""
    head = text[:300]
    if _FUNDING_START.match(head) or _GRANT_CODE.search(head):
        return FUNDING_NOTE
    if starts_mid_sentence(text):
        return STARTS_MID_SENTENCE
    if not _SENTENCE_END.search(text):
        return NO_FULL_SENTENCE
    if repeats_itself(text):
        return REPEATS_ITSELF
    return None


def starts_mid_sentence(text: str) -> bool:
    """Lower case first (not a gene-style token such as mRNA, p53, n-butanol, nor "in vitro"), a
    closing mark or an ellipsis first: the text is cut from a longer one."""
    first = text[:1]
    if not first or first in ",;:)]}\u2026" or text.startswith(".."):
        return True
    if not ("a" <= first <= "z"):
        return False
    token = _FIRST_TOKEN.match(text).group()
    if any(ch.isupper() or ch.isdigit() or ch == "-" for ch in token):
        return False
    return not text[:12].lower().startswith(_LOWER_START_OK)


def repeats_itself(text: str) -> bool:
    """A sentence of _MIN_REPEATED_SENTENCE+ characters said twice."""
    seen = set()
    start = 0
    for end in _SENTENCE_END.finditer(text):
        sentence = " ".join(text[start:end.end()].split()).casefold()
        start = end.end()
        if len(sentence) >= _MIN_REPEATED_SENTENCE:
            if sentence in seen:
                return True
            seen.add(sentence)
    return False
