"""Markdown (Reddit and Stack Exchange flavoured) to plain text.

Code blocks are the exception to every cleanup: their line breaks and indentation carry meaning
(Python, aligned tables), so Markdown code blocks (fenced, or indented after a blank line) and
HTML ``<pre>`` blocks keep their text verbatim; only line ends are trimmed (``normalize_code``).
"""

import re
from typing import List, Tuple

from sources.text.normalize import normalize_code, normalize_whitespace, unescape_entities

# Paired markers match at most SPAN characters apart: unbounded lazy spans made these patterns
# quadratic on unclosed markers ("**a " x 250,000 took minutes); bounded, each start costs O(SPAN).
SPAN = 500
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
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_QUOTE_LINE = re.compile(r" {0,3}>(?!!)")
_CODE_INDENT = re.compile(r"(?: {4}|\t)")


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


# Hard wraps: a paragraph typed with a line break every ~70 characters (mail and 2005-era comments).
# Markdown renders such a break as a space; kept, it reads as a line of its own. Lists, quotes,
# headings, tables, indented lines, hard breaks (two spaces or a backslash at the end) and
# paragraphs that look like code keep their breaks.
_LIST_ITEM = re.compile(r" {0,3}(?:[-*+\u2022]|\d{1,9}[.)])(?:\s|$)")
_BLOCK_START = (">", "#", "|", "    ", "\t")
_CODE_ENDS = (";", "{", "}")
_TERMINAL = (".", "!", "?", ":")
_CLOSERS = "\"')]}\u201d\u2019*_"
MIN_WRAPPED_LINE_CHARS = 25  # a shorter line ended where its writer wanted ("Cheers,", "Ingredients:")


def _prose_line(line: str) -> bool:
    return bool(line.strip()) and not line.startswith(_BLOCK_START) and not line.lstrip().startswith((">", "#", "|")) \
        and _LIST_ITEM.match(line) is None and not _MD_HRULE.match(line)


def _wraps(line: str, following: str) -> bool:
    """Whether the break between two prose lines is a wrap: the line is long enough to have been
    cut, ends without a hard break, and either ends mid-sentence or the next line goes on in lowercase."""
    if line.endswith(("  ", "\\")) or len(line.strip()) < MIN_WRAPPED_LINE_CHARS:
        return False
    first = following.lstrip()[:1]
    return first.islower() or not line.rstrip().rstrip(_CLOSERS).endswith(_TERMINAL)


def _wrapped_paragraph(lines: List[str]) -> Tuple[List[str], int]:
    """(lines with wrapped breaks joined, breaks joined). A paragraph where at least half the breaks
    (and two or more) are wraps was typed hard-wrapped: every break between prose lines is joined."""
    if len(lines) < 2 or any(line.rstrip().endswith(_CODE_ENDS) or line.lstrip().startswith(("{", "}"))
                             for line in lines):
        return lines, 0
    prose = [_prose_line(line) for line in lines]
    breaks = [prose[i] and prose[i + 1] for i in range(len(lines) - 1)]
    wraps = [breaks[i] and _wraps(lines[i], lines[i + 1]) for i in range(len(lines) - 1)]
    n_wraps = sum(wraps)
    if not n_wraps:
        return lines, 0
    if n_wraps >= 2 and 2 * n_wraps >= len(breaks):
        wraps = breaks
    out, joined = [lines[0]], 0
    for i, wrap in enumerate(wraps):
        if wrap:
            out[-1] = out[-1].rstrip() + " " + lines[i + 1].lstrip()
            joined += 1
        else:
            out.append(lines[i + 1])
    return out, joined


def join_hard_wraps(text: str) -> Tuple[str, int]:
    """(Markdown prose with the line breaks that wrap a paragraph of prose joined by a space, breaks
    joined). Paragraphs are cut at blank lines; one pass over the lines (linear)."""
    if "\n" not in text:
        return text, 0
    out: List[str] = []
    paragraph: List[str] = []
    total = 0
    for line in text.split("\n") + [""]:
        if line.strip():
            paragraph.append(line)
            continue
        if paragraph:
            joined_lines, joined = _wrapped_paragraph(paragraph)
            out.extend(joined_lines)
            total += joined
            paragraph = []
        out.append(line)
    return ("\n".join(out[:-1]), total) if total else (text, 0)


def _has_code_block(text: str) -> bool:
    return "```" in text or "~~~" in text or "    " in text or "\t" in text


def _clean_prose(text: str, drop_quotes: bool, join_wraps: bool = False) -> Tuple[str, int, int]:
    removed = joined = 0
    if drop_quotes and ">" in text:
        text, removed = drop_quoted_lines(text)
    if join_wraps:
        text, joined = join_hard_wraps(text)
    return normalize_whitespace(markdown_to_text(text)), removed, joined


def clean_markdown_tally(text: str, drop_quotes: bool = False, join_wraps: bool = False) -> Tuple[str, int, int]:
    """(clean_markdown's text, quoted lines dropped, wrapped line breaks joined). Entities go first
    (``&gt;`` is a quote marker); code blocks are kept verbatim, the prose between them becomes plain
    text; with `join_wraps`, hard-wrapped paragraphs of prose are joined (join_hard_wraps)."""
    text = unescape_entities(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not _has_code_block(text):
        return _clean_prose(text, drop_quotes, join_wraps)
    pieces, removed, joined = [], 0, 0
    for is_code, block in markdown_blocks(text):
        if is_code:
            cleaned = normalize_code(block)
        else:
            cleaned, dropped, wraps = _clean_prose(block, drop_quotes, join_wraps)
            removed += dropped
            joined += wraps
        if cleaned.strip():
            pieces.append(cleaned)
    return "\n\n".join(pieces).strip(), removed, joined


def clean_markdown_counted(text: str, drop_quotes: bool = False) -> Tuple[str, int]:
    """(clean_markdown's text, quoted lines dropped)."""
    cleaned, removed, _ = clean_markdown_tally(text, drop_quotes)
    return cleaned, removed


def clean_markdown(text: str, drop_quotes: bool = False) -> str:
    """The full cleanup for Markdown sources; `drop_quotes` also removes ``>`` quoted lines."""
    return clean_markdown_counted(text, drop_quotes)[0]
