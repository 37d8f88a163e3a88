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

`clean_s2_abstract` returns the text and the names of what it changed, so the pipeline can count.
"""

import re
from typing import List, Tuple

BREAKS_JOINED = "abstract_breaks_joined"
CUT_TO_LAST_SENTENCE = "abstract_cut_to_last_sentence"
LATEX_UNESCAPED = "abstract_latex_unescaped"
NUMBER_REMOVED = "abstract_number_removed"

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


def clean_s2_abstract(text: str) -> Tuple[str, Tuple[str, ...]]:
    """(the abstract as a passage, names of what was changed); `text` is already entity-unescaped
    and whitespace-normalised."""
    changed: List[str] = []
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
