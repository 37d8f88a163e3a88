"""Text cleanup shared by every source: entities, Markdown to plain text, whitespace, URL checks.

Code blocks are the exception to every cleanup: their line breaks and indentation carry meaning
(Python, aligned tables), so Markdown code blocks (fenced, or indented after a blank line) and
HTML ``<pre>`` blocks keep their text verbatim; only line ends are trimmed (``normalize_code``).
"""

import html
import re
import unicodedata
from typing import List, Tuple

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
# HTML formatting tags typed into Markdown (2005-era Reddit comments hold "<i>not</i>" and
# "<a href=...>thread</a>" as literal text): the tag goes, its text stays. Known tag names only, so
# "<web>", "</joking>" and "a <b and c>" wording is kept (attributes need "="); bounded (linear).
_HTML_FORMAT_TAG = re.compile(r"</?(a|abbr|b|big|blockquote|br|cite|code|del|em|font|h[1-6]|i|ins|kbd|li|ol|p|"
                              r"pre|q|s|small|span|strike|strong|sub|sup|tt|u|ul)(?:\s+[\w:-]+\s*=[^<>]{0,%d})?\s*/?>"
                              % (4 * SPAN), re.I)
_HTML_BREAKING_TAGS = frozenset({"blockquote", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ol", "p", "pre", "ul"})


def _drop_html_tag(match: "re.Match[str]") -> str:
    return "\n" if match.group(1).lower() in _HTML_BREAKING_TAGS else ""


_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|^])")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# UTF-8 read as Latin-1/cp1252: a lead byte (Â..ô) followed by a continuation byte shown as a C1
# control, a Latin-1 symbol or a cp1252 punctuation mark ("â\x80\x99", "Ã©", "â€™"). One pair per
# match, so the check is linear; ftfy decides whether it really is mojibake.
_MOJIBAKE_HINT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                            "\u02c6\u02dc\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020-\u2022\u2026"
                            "\u2030\u2039\u203a\u20ac\u2122]")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_QUOTE_LINE = re.compile(r" {0,3}>(?!!)")
_CODE_INDENT = re.compile(r"(?: {4}|\t)")


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
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        text = _ZERO_WIDTH.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _fence_of(line: str):
    """The fence ("```", "~~~~", ...) a line opens, or None. A backtick fence's info string has no
    backtick: "```x```" on one line is inline code, not a fence."""
    match = _FENCE_OPEN.match(line)
    if match is None:
        return None
    fence = match.group(1)
    return None if fence[0] == "`" and "`" in line[match.end():] else fence


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]} and len(line) - len(line.lstrip(" ")) < 4


def _dedent_code_line(line: str) -> str:
    return line[1:] if line.startswith("\t") else line[4:] if line.startswith("    ") else line.lstrip(" \t")


def markdown_blocks(text: str) -> List[Tuple[bool, str]]:
    """[(is_code, text)]: Markdown cut into prose and code blocks, in order, line by line (linear).

    Code: a fenced block (``` or ~~~, to its closing fence or the end; the fence lines go) or
    an indented block (4 spaces or a tab, after a blank line; the 4-space marker goes).
    """
    blocks: List[Tuple[bool, str]] = []
    prose: List[str] = []
    lines = text.split("\n")
    i, previous_blank = 0, True
    while i < len(lines):
        line = lines[i]
        fence = _fence_of(line)
        indented = previous_blank and line.strip() and _CODE_INDENT.match(line)
        if fence is None and not indented:
            prose.append(line)
            previous_blank = not line.strip()
            i += 1
            continue
        if prose:
            blocks.append((False, "\n".join(prose)))
            prose = []
        code: List[str] = []
        if fence is not None:
            i += 1
            while i < len(lines) and not _closes(lines[i], fence):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence
        else:
            while i < len(lines) and (not lines[i].strip() or _CODE_INDENT.match(lines[i])):
                code.append(_dedent_code_line(lines[i]))
                i += 1
        blocks.append((True, "\n".join(code)))
        previous_blank = True
    if prose:
        blocks.append((False, "\n".join(prose)))
    return blocks


def drop_quoted_lines(text: str) -> Tuple[str, int]:
    """(text without its quotes, quoted lines removed). A quote is a line starting with ``>``
    (not a ``>!`` spoiler) and the lines that follow it up to a blank line, as Reddit renders it
    (lazy continuation): in a reply, that is mostly the parent's own words."""
    kept: List[str] = []
    removed, in_quote = 0, False
    for line in text.split("\n"):
        if not line.strip():
            in_quote = False
            kept.append(line)
        elif in_quote or _QUOTE_LINE.match(line):
            in_quote = True
            removed += 1
        else:
            kept.append(line)
    return ("\n".join(kept), removed) if removed else (text, 0)


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
    ("<", _HTML_FORMAT_TAG, _drop_html_tag),
]


def markdown_to_text(text: str) -> str:
    """Reddit-flavoured Markdown to plain text: link text kept, URLs of links dropped, emphasis and
    typed-in HTML formatting tags removed."""
    for marker, pattern, replacement in _MARKDOWN_RULES:
        if marker in text:
            text = pattern.sub(replacement, text)
    return text


def _has_code_block(text: str) -> bool:
    return "```" in text or "~~~" in text or "    " in text or "\t" in text


def _clean_prose(text: str, drop_quotes: bool) -> Tuple[str, int]:
    removed = 0
    if drop_quotes and ">" in text:
        text, removed = drop_quoted_lines(text)
    return normalize_whitespace(markdown_to_text(text)), removed


def clean_markdown_counted(text: str, drop_quotes: bool = False) -> Tuple[str, int]:
    """(clean_markdown's text, quoted lines dropped). Entities go first (``&gt;`` is a quote
    marker); code blocks are kept verbatim, the prose between them becomes plain text."""
    text = unescape_entities(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not _has_code_block(text):
        return _clean_prose(text, drop_quotes)
    pieces, removed = [], 0
    for is_code, block in markdown_blocks(text):
        if is_code:
            cleaned = normalize_code(block)
        else:
            cleaned, dropped = _clean_prose(block, drop_quotes)
            removed += dropped
        if cleaned.strip():
            pieces.append(cleaned)
    return "\n\n".join(pieces).strip(), removed


def clean_markdown(text: str, drop_quotes: bool = False) -> str:
    """The full cleanup for Markdown sources; `drop_quotes` also removes ``>`` quoted lines."""
    return clean_markdown_counted(text, drop_quotes)[0]


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
