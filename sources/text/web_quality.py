"""Quality rules for web pages, in the C4 and Gopher tradition: each returns None or its drop reason.

A page record has `text` (the main text as extracted: lines, bullets and all), `prose` (its
prose lines, sources.text.web_text.prose_lines) and `passage` (the start of the prose). Which rule
reads which, and where the threshold comes from:

  MinWords(50)           passage   Gopher keeps documents of 50+ words
  MinSentences(3)        passage   C4 keeps pages of 5+ sentences; a 256-word passage needs fewer
  SymbolRatio(0.1)       text      Gopher: "#" and ellipses per word at most 0.1
  BulletLines(0.9)       text      Gopher: at most 90% of lines start with a bullet
  EllipsisLines(0.3)     text      Gopher: at most 30% of lines end in an ellipsis
  LoremIpsum()           prose     C4: placeholder text anywhere in the prose
  CurlyBrace()           prose     C4: a "{" in a prose line (code, templates, JSON)
  BadWords()             title, passage  C4: any word or phrase of the LDNOOBW English list
                         (sources/text/web_badwords.py has the list and its licence). C4 checks the whole
                         page; the pair's own text is checked here, so what ships holds no listed
                         word while a page that uses one once, deep down, is kept (on the shared
                         samples the page-wide check lost 2 of 43 English pages to "suck" and "porn"
                         in passing: a post on Mastodon, one on online harassment)

Rules are frozen dataclasses (hashable, picklable; thresholds show in their repr), as in
sources/text/rules.py; every count reads at most MAX_CHARS characters, so no page costs more than that.
"""

import re
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from schemas import reasons
from sources.text.rules import MAX_RULE_CHARS as MAX_CHARS
from sources.text.rules import MinWords  # noqa: F401  (the table above lists it with the page rules)
from sources.text.web_text import BULLETS, sentences

_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_WORD = re.compile(r"\w+(?:[&'\-]\w+)*", re.UNICODE)


def _words(text: str) -> int:
    return len(text[:MAX_CHARS].split())


def _lines(text: str):
    return [line for line in text[:MAX_CHARS].split("\n") if line.strip()]


@dataclass(frozen=True)
class MinSentences:
    min_sentences: int
    field: str = "passage"

    def __call__(self, page: Any) -> Optional[str]:
        found = len(sentences(getattr(page, self.field)[:MAX_CHARS]))
        return reasons.DROP_TOO_FEW_SENTENCES if found < self.min_sentences else None


@dataclass(frozen=True)
class SymbolRatio:
    """Hash signs and ellipses per word: tag clouds ("#deal #sale") and teaser lists."""

    max_ratio: float = 0.1
    field: str = "text"

    def __call__(self, page: Any) -> Optional[str]:
        text = getattr(page, self.field)[:MAX_CHARS]
        words = _words(text)
        symbols = text.count("#") + len(_ELLIPSIS.findall(text))
        return reasons.DROP_SYMBOL_RATIO if words and symbols / words > self.max_ratio else None


@dataclass(frozen=True)
class BulletLines:
    """Pages that are lists: link lists, product grids, menus the extractor kept."""

    max_fraction: float = 0.9
    field: str = "text"

    def __call__(self, page: Any) -> Optional[str]:
        lines = _lines(getattr(page, self.field))
        bulleted = sum(1 for line in lines if line.lstrip().startswith(BULLETS))
        return reasons.DROP_BULLET_LINES if lines and bulleted / len(lines) > self.max_fraction else None


@dataclass(frozen=True)
class EllipsisLines:
    """Teaser pages: "Read more…" snippets of other pages."""

    max_fraction: float = 0.3
    field: str = "text"

    def __call__(self, page: Any) -> Optional[str]:
        lines = _lines(getattr(page, self.field))
        cut = sum(1 for line in lines if line.rstrip().endswith(("...", "\u2026")))
        return reasons.DROP_ELLIPSIS_LINES if lines and cut / len(lines) > self.max_fraction else None


@dataclass(frozen=True)
class LoremIpsum:
    field: str = "prose"

    def __call__(self, page: Any) -> Optional[str]:
        return reasons.DROP_LOREM_IPSUM if "lorem ipsum" in getattr(page, self.field)[:MAX_CHARS].lower() else None


@dataclass(frozen=True)
class CurlyBrace:
    field: str = "prose"

    def __call__(self, page: Any) -> Optional[str]:
        return reasons.DROP_CURLY_BRACE if "{" in getattr(page, self.field)[:MAX_CHARS] else None


def bad_word_in(text: str, words: frozenset, longest: int) -> Optional[str]:
    """The first word or phrase (up to `longest` words) of `words` in the text, matched on whole
    lowercased tokens ("class" does not match "ass"); None when there is none. One pass over the
    tokens with a set lookup each: phrases are built only from a token that starts one of the list's
    phrases ("ball" of "ball gag"), which few tokens do."""
    tokens = _WORD.findall(text[:MAX_CHARS].lower())
    starts = _phrase_starts(words)
    for i, token in enumerate(tokens):
        if token in words:
            return token
        if token not in starts:
            continue
        for n in range(2, longest + 1):
            if i + n > len(tokens):
                break
            phrase = " ".join(tokens[i:i + n])
            if phrase in words:
                return phrase
    return None


_STARTS: dict = {}


def _phrase_starts(words: frozenset) -> frozenset:
    """The first tokens of the list's phrases of 2+ words (each phrase's words as _WORD reads them)."""
    starts = _STARTS.get(id(words))
    if starts is None or starts[0] is not words:
        starts = _STARTS[id(words)] = (words, frozenset(p.split(" ")[0] for p in words if " " in p))
    return starts[1]


@dataclass(frozen=True)
class BadWords:
    fields: Tuple[str, ...] = ("title", "passage")

    def __call__(self, page: Any) -> Optional[str]:
        from sources.text.web_badwords import LONGEST_PHRASE, WORDS

        for name in self.fields:
            text = getattr(page, name)
            if "\U0001f595" in text or bad_word_in(text, WORDS, LONGEST_PHRASE):
                return reasons.DROP_BAD_WORDS
        return None
