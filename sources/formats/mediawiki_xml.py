"""MediaWiki XML exports cut into ``<page>`` records, each parsed on its own, safely.

An export (schema 0.3 … 0.11, ``pages-articles*.xml``) is ``<mediawiki>``, an optional
``<siteinfo>``, then ``<page>`` elements, each with ``<title>``, ``<ns>``, ``<id>``, an optional
``<redirect title=…/>`` and its ``<revision>`` (``<id>``, ``<timestamp>``, ``<text>``, …).
Wikitext sits XML-escaped inside ``<text>``, so the bytes ``<page>`` and ``</page>`` only ever
occur as the page element's own tags: ``PageSplitter`` cuts the decompressed bytes there,
without parsing the whole file as one tree, so memory stays at one page whatever the file.

Safety, as for Stack Exchange (sources.formats.stackexchange_xml): the prolog (everything before the
first page) is handed to ``check_prolog`` by the reader, which refuses a file that declares a
DTD or entities; each page is then parsed by expat as a one-element document with handlers
that raise on any DTD or entity declaration, so an entity other than XML's five is an
"undefined entity" error (the page is rejected), never expanded.

Element names are matched on their local part, so the default namespace of any schema version
(``http://www.mediawiki.org/xml/export-0.10/`` …) or a prefix makes no difference.
"""

import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Union
from xml.parsers import expat

from schemas import reasons
from sources.errors import RejectRecord
from sources.formats.stackexchange_xml import UnsafeMarkup, safe_parser

PAGE_OPEN = b"<page>"
PAGE_CLOSE = b"</page>"
PROLOG_MAX_BYTES = 1 << 20  # a siteinfo is a few KB; a "prolog" longer than this is not one

_UNDEFINED_ENTITY = expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]
_UNSAFE_IN_PAGE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.I)
_DBNAME = re.compile(rb"<(?:\w+:)?dbname>\s*([^<\s]+)\s*</(?:\w+:)?dbname>")


@dataclass(frozen=True)
class Prolog:
    """The bytes before the first page (or the first PROLOG_MAX_BYTES when no page comes)."""

    data: bytes


@dataclass(frozen=True)
class PageBytes:
    """One ``<page>…</page>`` (or, if broken, what lies between a ``<page>`` and the next one)."""

    number: int  # 1-based, in the order met by this splitter
    origin: int  # the caller's label for where it started (a bz2 stream's offset)
    data: bytes


@dataclass(frozen=True)
class CutPage:
    """A page started but the input ended (or its bz2 stream broke) before ``</page>``."""

    number: int
    origin: int
    data: bytes


class PageSplitter:
    """Decompressed bytes in, pieces out: one Prolog first, then PageBytes in order.

    ``feed(origin, data)`` returns the pieces completed so far; ``drop_partial()`` abandons a
    page cut by a broken stream (returns it as CutPage, or None); ``close()`` ends the input.
    """

    def __init__(self):
        self._buffer = b""
        self._origin = 0
        self._in_page = False
        self._scan_from = 0  # where to look for </page> next (the part before was searched)
        self._prolog: Optional[List[bytes]] = []
        self._prolog_size = 0
        self._number = 0

    def feed(self, origin: int, data: bytes) -> List[Union[Prolog, PageBytes]]:
        if not self._in_page and not self._buffer:
            self._origin = origin
        self._buffer += data
        out: List[Union[Prolog, PageBytes]] = []
        while True:
            if not self._in_page:
                start = self._buffer.find(PAGE_OPEN)
                if start < 0:
                    keep = len(PAGE_OPEN) - 1
                    self._outside(self._buffer[:-keep], out)
                    self._buffer = self._buffer[-keep:]
                    self._origin = origin
                    return out
                self._outside(self._buffer[:start], out)
                self._end_prolog(out)
                self._buffer, self._in_page, self._scan_from = self._buffer[start:], True, len(PAGE_OPEN)
                self._origin = origin
            close = self._buffer.find(PAGE_CLOSE, self._scan_from)
            reopen = self._buffer.find(PAGE_OPEN, len(PAGE_OPEN), close if close >= 0 else len(self._buffer))
            if reopen >= 0:  # a page that never closed: it ends where the next one starts
                out.append(self._page(self._buffer[:reopen]))
                self._buffer, self._scan_from = self._buffer[reopen:], len(PAGE_OPEN)
                continue
            if close < 0:
                self._scan_from = max(len(PAGE_OPEN), len(self._buffer) - len(PAGE_CLOSE) + 1)
                return out
            end = close + len(PAGE_CLOSE)
            out.append(self._page(self._buffer[:end]))
            self._buffer, self._in_page = self._buffer[end:], False
            self._origin = origin

    def drop_partial(self) -> Optional[CutPage]:
        """Forget the page in progress (its stream broke); the bytes outside pages go too."""
        cut = CutPage(self._number + 1, self._origin, self._buffer) if self._in_page else None
        if cut:
            self._number += 1
        self._buffer, self._in_page = b"", False
        return cut

    def close(self) -> List[Union[Prolog, PageBytes, CutPage]]:
        out: List[Union[Prolog, PageBytes, CutPage]] = []
        if self._in_page:
            self._number += 1
            out.append(CutPage(self._number, self._origin, self._buffer))
        else:
            self._outside(self._buffer, out)
        self._end_prolog(out)
        self._buffer, self._in_page = b"", False
        return out

    def _page(self, data: bytes) -> PageBytes:
        self._number += 1
        return PageBytes(self._number, self._origin, data)

    def _outside(self, data: bytes, out: list) -> None:
        """Bytes between pages: the prolog before the first one, ignored after it."""
        if self._prolog is None or not data:
            return
        self._prolog.append(data)
        self._prolog_size += len(data)
        if self._prolog_size >= PROLOG_MAX_BYTES:
            self._end_prolog(out)

    def _end_prolog(self, out: list) -> None:
        if self._prolog is not None:
            out.append(Prolog(b"".join(self._prolog)[:PROLOG_MAX_BYTES]))
            self._prolog = None


def dbname_of(head: bytes) -> Optional[str]:
    """The wiki's database name (``enwiki``) from an export's ``<siteinfo>``, if it has one."""
    found = _DBNAME.search(head)
    return found.group(1).decode("utf-8", "replace") if found else None


# One page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageFields:
    """What ccpairs reads of a page; the last revision wins when a page carries several."""

    title: str
    namespace: Optional[int]
    page_id: int
    redirect: bool
    revision_id: Optional[int]
    timestamp: str
    model: str
    text: str


_WANTED = {
    ("page", "title"), ("page", "ns"), ("page", "id"),
    ("revision", "id"), ("revision", "timestamp"), ("revision", "text"), ("revision", "model"),
}


class _PageHandler:
    def __init__(self):
        self.stack: List[str] = []
        self.values = {}
        self.revision = {}
        self.redirect = False
        self.collect: Optional[List[str]] = None

    def start(self, name, attributes):
        local = name.rpartition(":")[2]
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(local)
        if local == "revision" and parent == "page":
            self.revision = {}
        elif local == "redirect" and parent == "page":
            self.redirect = True
        if (parent, local) in _WANTED and len(self.stack) <= 3:
            self.collect = []

    def end(self, name):
        local = self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if self.collect is not None and (parent, local) in _WANTED:
            value = "".join(self.collect)
            if parent == "page":
                self.values.setdefault(local, value)
            else:
                self.revision[local] = value
            self.collect = None
        if local == "revision" and parent == "page":
            self.values["revision"] = self.revision

    def text(self, data):
        if self.collect is not None:
            self.collect.append(data)


def _integer(value: Optional[str], name: str, required: bool) -> Optional[int]:
    if value is None or not value.strip():
        if required:
            raise RejectRecord(reasons.REJECT_MISSING_FIELDS, f"page has no <{name}>")
        return None
    try:
        return int(value)
    except ValueError:
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"<{name}>{value[:40]!r} is not an integer") from None


def parse_page(data: bytes) -> PageFields:
    """One ``<page>…</page>`` -> its fields; broken or unsafe XML, missing fields: RejectRecord."""
    if _UNSAFE_IN_PAGE.search(data):
        raise RejectRecord(reasons.REJECT_UNSAFE_XML, "DTD or entity declaration inside a page: never processed")
    handler = _PageHandler()
    parser = safe_parser()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    try:
        parser.Parse(data, True)
    except UnsafeMarkup as exc:
        raise RejectRecord(reasons.REJECT_UNSAFE_XML, str(exc)) from None
    except expat.ExpatError as exc:
        if exc.code == _UNDEFINED_ENTITY:
            raise RejectRecord(reasons.REJECT_UNSAFE_XML,
                               f"{exc} (entities other than the 5 predefined ones are never expanded)") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise RejectRecord(reasons.REJECT_INVALID_UTF8, str(bad)) from None
        raise RejectRecord(reasons.REJECT_INVALID_XML, str(exc)) from None
    values, revision = handler.values, handler.values.get("revision")
    if "title" not in values:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, "page has no <title>")
    if revision is None or "text" not in revision:
        raise RejectRecord(reasons.REJECT_MISSING_FIELDS, "page has no <revision> with a <text>")
    return PageFields(
        title=values["title"].strip(),
        namespace=_integer(values.get("ns"), "ns", required=False),
        page_id=_integer(values.get("id"), "id", required=True),
        redirect=handler.redirect,
        revision_id=_integer(revision.get("id"), "revision id", required=False),
        timestamp=revision.get("timestamp", "").strip(),
        model=revision.get("model", "wikitext").strip() or "wikitext",
        text=revision["text"],
    )


def iter_pieces(chunks: Iterator, splitter: Optional[PageSplitter] = None) -> Iterator:
    """(origin, bytes) chunks -> Prolog, PageBytes, CutPage (a helper for plain, unbroken inputs)."""
    splitter = splitter or PageSplitter()
    for origin, data in chunks:
        yield from splitter.feed(origin, data)
    yield from splitter.close()
