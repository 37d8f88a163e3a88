"""Plain-text normalisation shared by every source: entities, whitespace, mojibake, code blocks, URLs."""

import html
import re
import unicodedata
from typing import Tuple

_URL = re.compile(r"""(?:https?://|ftp://|www\.)[^\s<>()\[\]"']+(?:\([^\s()]*\)[^\s<>()\[\]"']*)*""", re.I)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# UTF-8 read as Latin-1/cp1252: a lead byte (Â..ô) followed by a continuation byte shown as a C1
# control, a Latin-1 symbol or a cp1252 punctuation mark ("â\x80\x99", "Ã©", "â€™"). One pair per
# match, so the check is linear; ftfy decides whether it really is mojibake.
_MOJIBAKE_HINT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                            "\u02c6\u02dc\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020-\u2022\u2026"
                            "\u2030\u2039\u203a\u20ac\u2122]")


def unescape_entities(text: str) -> str:
    """HTML entities, twice: dumps carry double-escaped text such as ``&amp;gt;``."""
    once = html.unescape(text)
    return html.unescape(once) if "&" in once else once


def _nfc_visible_lf(text: str) -> str:
    """Unicode NFC, no zero-width characters, "\n" line ends: what both normalisations share."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _ZERO_WIDTH.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def normalize_whitespace(text: str) -> str:
    """Unicode NFC, no zero-width characters, single spaces, at most one blank line between paragraphs."""
    text = _SPACES.sub(" ", _nfc_visible_lf(text))
    if "\n" in text:
        text = "\n".join(line.strip() for line in text.split("\n"))
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def may_be_mojibake(text: str) -> bool:
    """A cheap test that lets the common case (ASCII, or clean Unicode) skip the repair."""
    return not text.isascii() and _MOJIBAKE_HINT.search(text) is not None


def repair_mojibake(text: str) -> Tuple[str, bool]:
    """(text, repaired?): UTF-8 that was decoded as Latin-1/cp1252 somewhere upstream, decoded back.

    ftfy.fix_encoding only undoes encoding mix-ups (it leaves quotes, widths and entities alone)
    and is paid only by texts that `may_be_mojibake`.
    """
    if not may_be_mojibake(text):
        return text, False
    import ftfy

    fixed = ftfy.fix_encoding(text)
    return fixed, fixed != text


def normalize_code(text: str) -> str:
    """A code block kept verbatim: indentation, alignment and blank lines inside it stay; only
    line ends are trimmed, invisible zero-width characters dropped and Unicode put in NFC."""
    return "\n".join(line.rstrip() for line in _nfc_visible_lf(text).split("\n")).strip("\n")


def might_have_url(text: str) -> bool:
    lowered = text.lower()
    return "http" in lowered or "www." in lowered or "ftp://" in lowered


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text) if might_have_url(text) else text


def is_link_only(text: str, min_other_chars: int = 3) -> bool:
    """True when the text has a URL and, apart from URLs and punctuation, next to nothing else."""
    if not might_have_url(text) or not _URL.search(text):
        return False
    rest = re.sub(r"[\W_]+", "", strip_urls(text))
    return len(rest) < min_other_chars
