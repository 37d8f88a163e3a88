"""Text cleanup shared by every source: entities, Markdown to plain text, whitespace, URL checks."""

import html
import re
import unicodedata

_URL = re.compile(r"""(?:https?://|ftp://|www\.)[^\s<>()\[\]"']+(?:\([^\s()]*\)[^\s<>()\[\]"']*)*""", re.I)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?(?:[^()\s]|\([^()\s]*\))*>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_MD_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_MD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.S)
_MD_SUPERSCRIPT = re.compile(r"\^\(([^)]*)\)|\^(?=\S)")
_MD_SPOILER = re.compile(r">!(.+?)!<", re.S)
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
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def markdown_to_text(text: str) -> str:
    """Reddit-flavoured Markdown to plain text: link text kept, URLs of links dropped, emphasis removed."""
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_LINK.sub(r"\1", text)
    text = _MD_FENCE.sub("", text)
    text = _MD_INLINE_CODE.sub(r"\1", text)
    text = _MD_SPOILER.sub(r"\1", text)
    text = _MD_BOLD.sub(r"\2", text)
    text = _MD_STRIKE.sub(r"\1", text)
    text = _MD_ITALIC_STAR.sub(r"\1", text)
    text = _MD_ITALIC_UNDERSCORE.sub(r"\1", text)
    text = _MD_SUPERSCRIPT.sub(lambda m: m.group(1) or "", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_HRULE.sub("", text)
    text = _MD_TABLE_SEP.sub("", text)
    text = _MD_QUOTE.sub("", text)
    return _MD_ESCAPE.sub(r"\1", text)


def clean_markdown(text: str) -> str:
    """The full cleanup for Markdown sources: entities first (``&gt;`` is a quote marker), then Markdown."""
    return normalize_whitespace(markdown_to_text(unescape_entities(text)))


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text)


def is_link_only(text: str, min_other_chars: int = 3) -> bool:
    """True when the text has a URL and, apart from URLs and punctuation, next to nothing else."""
    if not _URL.search(text):
        return False
    rest = re.sub(r"[\W_]+", "", strip_urls(text))
    return len(rest) < min_other_chars
