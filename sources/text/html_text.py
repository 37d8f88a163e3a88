"""HTML post bodies (Stack Exchange and the like) -> plain text for pairs.

Tags are dropped, entities unescaped once, after the tags are gone (so a code sample that shows
``&lt;b&gt;`` keeps ``<b>`` as text and is not taken for a tag), link and code text kept. Block
elements (paragraphs, list items, code blocks, headings, quotes, table rows, <br>) become one
line break each (several in a row: still one); inside ``<pre>`` the author's own line breaks survive, elsewhere a run of whitespace is
one space, as a browser shows it. Whitespace is then normalised by the shared
``normalize_whitespace``, except in ``<pre>`` blocks: code keeps its lines, indentation and
alignment verbatim (``normalize_code`` only trims line ends), and is set apart by blank lines.

Regular expressions rather than html.parser: post bodies are sanitised, well-formed HTML, and
this is ~10x faster (html.parser cost 0.7 ms per answer, more than everything else together).
"""

import html
import re
from typing import List, Optional, Tuple

from sources.text.normalize import normalize_code, normalize_whitespace

BLOCK_TAGS = ("p", "div", "pre", "blockquote", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5",
              "h6", "table", "thead", "tbody", "tfoot", "tr", "hr", "br", "section", "article", "figure",
              "figcaption", "details", "summary")
# A tag is at most TAG_SPAN characters long: an unbounded [^>]* made "<a <a <a ..." (no ">")
# quadratic. Paired elements (<pre>...</pre>, comments, <script>) are found by str.find, never by
# a lazy .*? that rescans to the end from every unclosed opening (quadratic: 14 s on 240 kB).
TAG_SPAN = 4000
_SKIPPED_OPEN = re.compile(r"<(script|style|template)\b[^>]{0,%d}>" % TAG_SPAN, re.I)
_PRE_OPEN = re.compile(r"<pre\b[^>]{0,%d}>" % TAG_SPAN, re.I)
_BLOCK_TAG = re.compile(r"</?(?:%s)\b[^>]{0,%d}>" % ("|".join(BLOCK_TAGS), TAG_SPAN), re.I)
_CELL_TAG = re.compile(r"</?t[dh]\b[^>]{0,%d}>" % TAG_SPAN, re.I)
_ANY_TAG = re.compile(r"</?[A-Za-z][^>]{0,%d}>" % TAG_SPAN)
_WHITESPACE = re.compile(r"\s+")
_BREAKS = re.compile(r" *\n[\n ]*")


def _flow_text(fragment: str) -> str:
    """HTML outside <pre>: whitespace runs are one space, block boundaries one line break, other tags go."""
    fragment = _WHITESPACE.sub(" ", fragment)
    fragment = _BLOCK_TAG.sub("\n", fragment)
    fragment = _CELL_TAG.sub(" ", fragment)
    return _BREAKS.sub("\n", _ANY_TAG.sub("", fragment)).strip()


def _preformatted_text(block: str) -> str:
    """A <pre> block verbatim: its line breaks and indentation kept, its tags (<code>, <b>, ...) dropped."""
    return normalize_code(_unescape(_ANY_TAG.sub("", block)))


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _closing(lowered: str, name: str, start: int):
    """(start, end) of the first ``</name ...>`` at or after `start`, or None."""
    at = lowered.find("</" + name, start)
    if at == -1:
        return None
    end = lowered.find(">", at)
    return None if end == -1 else (at, end + 1)


def _without_comments(body: str) -> str:
    """<!-- ... --> removed; an unclosed comment stays as text (one left-to-right pass)."""
    out, pos = [], 0
    while True:
        start = body.find("<!--", pos)
        end = body.find("-->", start + 4) if start != -1 else -1
        if end == -1:
            out.append(body[pos:])
            return "".join(out)
        out.append(body[pos:start])
        pos = end + 3


def _elements(body: str, opening: "re.Pattern"):
    """Yield (text before, element's inner text, element name) for each closed element `opening`
    starts, then (rest, None, None): one left-to-right pass, whatever is left unclosed."""
    lowered, pos = body.lower(), 0
    while True:
        match = opening.search(body, pos)
        name = match.group(0)[1:].split(None, 1)[0].rstrip(">").lower() if match else ""
        close = _closing(lowered, name, match.end()) if match else None
        if close is None:
            yield body[pos:], None, None
            return
        yield body[pos:match.start()], body[match.end():close[0]], name
        pos = close[1]


def _without_skipped(body: str) -> str:
    """<script>, <style> and <template> elements removed with their content."""
    return "".join(before for before, _, _ in _elements(body, _SKIPPED_OPEN))


def _split_pre(body: str):
    """[flow, pre, flow, pre, ..., flow]: the text split around closed <pre> elements."""
    pieces = []
    for before, inner, _ in _elements(body, _PRE_OPEN):
        pieces.append(before)
        if inner is not None:
            pieces.append(inner)
    return pieces


# Footnote marks whose links are gone ("gracefully [1].", "Surgeons.[15] The", "(ref. [26])"): a run
# of [n] right after punctuation, or after a space that follows a word, and before a space,
# punctuation or the end. "arr[1]" (a word right before it) and a "[1] ..." line start stay. Each
# alternative is a fixed shape (no nested quantifier): linear.
_FOOTNOTE_MARKS = re.compile(r"(?:(?<=[.,;:!?)\"'\u201d\u2019])|(?<=\S) )(?:\[\d{1,3}\]){1,10}(?=[\s.,;:!?)]|$)"
                             r"| ?\((?:ref|refs|reference|source|see|cf)\.? ?\[\d{1,3}\]\)", re.I)


def drop_footnote_marks(text: str) -> Tuple[str, int]:
    """(text without footnote marks left by removed links, marks removed): see _FOOTNOTE_MARKS."""
    if "[" not in text:
        return text, 0
    out, n = _FOOTNOTE_MARKS.subn("", text)
    return (out, n) if n else (text, 0)


def _flow(fragment: str, footnotes: Optional[List[int]]) -> str:
    text = normalize_whitespace(_unescape(_flow_text(fragment)))
    if footnotes is not None:
        text, n = drop_footnote_marks(text)
        footnotes[0] += n
    return text


def html_to_text(body: str, footnotes: Optional[List[int]] = None) -> str:
    """Plain text of an HTML fragment; "" for an empty or tags-only body. With `footnotes` (a list),
    footnote marks left by removed links are dropped from the text outside <pre> (drop_footnote_marks)
    and counted in footnotes[0]."""
    if not body:
        return ""
    if "<" not in body:
        return _flow(body, footnotes) if footnotes is not None else normalize_whitespace(_unescape(body))
    body = _without_skipped(_without_comments(body)) if "<!--" in body or _SKIPPED_OPEN.search(body) else body
    pieces = _split_pre(body) if "<pre" in body.lower() else [body]
    if len(pieces) == 1:
        return _flow(body, footnotes)
    texts = (_preformatted_text(p) if i % 2 else _flow(p, footnotes) for i, p in enumerate(pieces))
    return "\n\n".join(t for t in texts if t.strip()).strip()


_IMAGE = re.compile(r"<img\b", re.I)


def count_images(body: str) -> int:
    """<img> elements in an HTML fragment (their pictures are no text)."""
    return len(_IMAGE.findall(body)) if "<" in body else 0
