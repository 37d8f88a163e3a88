"""Text cleanup shared by every source: entities, Markdown to plain text, whitespace, URL checks."""

import html
import re
import unicodedata

# Paired markers match at most SPAN characters apart: unbounded lazy spans made these patterns
# quadratic on unclosed markers ("**a " x 250,000 took minutes); bounded, each start costs O(SPAN).
SPAN = 500
_URL = re.compile(r"""(?:https?://|ftp://|www\.)[^\s<>()\[\]"']+(?:\([^\s()]*\)[^\s<>()\[\]"']*)*""", re.I)
_MD_IMAGE = re.compile(r"!\[([^\]]{0,%d})\]\([^)]{0,%d}\)" % (SPAN, 4 * SPAN))
_MD_LINK = re.compile(r"\[([^\]]{1,%d})\]\(\s*<?(?:[^()\s]|\([^()\s]{0,%d}\)){0,%d}>?(?:\s+\"[^\"]{0,%d}\")?\s*\)"
                      % (SPAN, SPAN, 4 * SPAN, SPAN))
_MD_REF_LINK = re.compile(r"\[([^\]]{1,%d})\]\[[^\]]{0,%d}\]" % (SPAN, SPAN))
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.{1,%d}?)(?<=\S)\1" % SPAN, re.S)
_MD_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_MD_STRIKE = re.compile(r"~~(?=\S)(.{1,%d}?)(?<=\S)~~" % SPAN, re.S)
_MD_SUPERSCRIPT = re.compile(r"\^\(([^)]{0,%d})\)|\^(?=\S)" % SPAN)
_MD_SPOILER = re.compile(r">!(.{1,%d}?)!<" % SPAN, re.S)
_MD_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_MD_FENCE = re.compile(r"^\s*(```|~~~).*$", re.M)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_MD_QUOTE = re.compile(r"^\s*(?:>\s?)+", re.M)
_MD_HRULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.M)
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|^])")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def unescape_entities(text: str) -> str:
    """HTML entities, twice: dumps carry double-escaped text such as ``&amp;gt;``."""
    once = html.unescape(text)
    return html.unescape(once) if "&" in once else once


def normalize_whitespace(text: str) -> str:
    """Unicode NFC, no zero-width characters, single spaces, at most one blank line between paragraphs."""
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _ZERO_WIDTH.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = "\n".join(line.strip() for line in text.split("\n"))
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


# (marker that must be present, pattern, replacement): the substring test skips most regexes on
# most texts, which keeps cleanup cheap on billions of short comments.
_MARKDOWN_RULES = [
    ("](", _MD_IMAGE, r"\1"),
    ("](", _MD_LINK, r"\1"),
    ("][", _MD_REF_LINK, r"\1"),
    ("``", _MD_FENCE, ""),
    ("~~~", _MD_FENCE, ""),
    ("`", _MD_INLINE_CODE, r"\1"),
    (">!", _MD_SPOILER, r"\1"),
    ("**", _MD_BOLD, r"\2"),
    ("__", _MD_BOLD, r"\2"),
    ("~~", _MD_STRIKE, r"\1"),
    ("*", _MD_ITALIC_STAR, r"\1"),
    ("_", _MD_ITALIC_UNDERSCORE, r"\1"),
    ("^", _MD_SUPERSCRIPT, lambda m: m.group(1) or ""),
    ("#", _MD_HEADING, ""),
    ("-", _MD_HRULE, ""),
    ("*", _MD_HRULE, ""),
    ("_", _MD_HRULE, ""),
    ("---", _MD_TABLE_SEP, ""),
    (">", _MD_QUOTE, ""),
    ("\\", _MD_ESCAPE, r"\1"),
]


def markdown_to_text(text: str) -> str:
    """Reddit-flavoured Markdown to plain text: link text kept, URLs of links dropped, emphasis removed."""
    for marker, pattern, replacement in _MARKDOWN_RULES:
        if marker in text:
            text = pattern.sub(replacement, text)
    return text


def clean_markdown(text: str) -> str:
    """The full cleanup for Markdown sources: entities first (``&gt;`` is a quote marker), then Markdown."""
    return normalize_whitespace(markdown_to_text(unescape_entities(text)))


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
