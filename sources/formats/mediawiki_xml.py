"""MediaWiki XML exports cut into ``<page>`` records, each parsed on its own, safely.

An export (schema 0.3 … 0.11, ``pages-articles*.xml``) is ``<mediawiki>``, an optional
``<siteinfo>``, then ``<page>`` elements, each with ``<title>``, ``<ns>``, ``<id>``, an optional
``<redirect title=…/>`` and its ``<revision>`` (``<id>``, ``<timestamp>``, ``<text>``, …).
Wikitext sits XML-escaped inside ``<text>``, so the bytes ``<page>`` and ``</page>`` only ever
occur as the page element's own tags: ``PageSplitter`` cuts the decompressed bytes there,
without parsing the whole file as one tree, so memory stays at one page whatever the file, and
a page over ``max_page_bytes`` is let go as it streams by (OversizedPage: its head and size).

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

from schemas import reasons
from sources.errors import RejectRecord
from sources.formats.stackexchange_xml import parse_safely, safe_parser

PAGE_OPEN = b"<page>"
PAGE_CLOSE = b"</page>"
PROLOG_MAX_BYTES = 1 << 20  # a siteinfo is a few KB; a "prolog" longer than this is not one
# Four times Wikimedia's limit on a page's wikitext (2 MiB, $wgMaxArticleSize): room for XML
# escaping and the page's other elements. A page over the cap is skipped, never held whole: a
# 942-byte bz2 can hold a 256 MB page, which held whole took 4.4 GB.
MAX_PAGE_BYTES = 8 << 20
HEAD_BYTES = 4096  # what is kept of an oversized page: its title and ids, for the rejects shard

_UNSAFE_IN_PAGE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.I)
_DBNAME = re.compile(rb"<(?:\w+:)?dbname>\s*([^<\s]+)\s*</(?:\w+:)?dbname>")
# The root's xml:lang (the wiki's content language, in every export Special:Export and the dumps
# write) and siteinfo's <base> URL. The attribute scan stops at the tag's ">": one tag, read once.
_ROOT_LANG = re.compile(rb"<(?:\w+:)?mediawiki\b[^<>]*?\sxml:lang\s*=\s*[\"']([A-Za-z]{2,3})(?:[-_][^\"'<>]*)?[\"']")
_BASE_HOST = re.compile(rb"<(?:\w+:)?base>\s*https?://([a-z][a-z-]{1,11})\.wikipedia\.org/")
_OVERLAP = len(PAGE_CLOSE) - 1  # a tag cut between two feeds is found when the rest comes


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
    data: bytes  # the page so far (of an oversized one, its head)


@dataclass(frozen=True)
class OversizedPage:
    """A page over the splitter's max_page_bytes: its first HEAD_BYTES and its size; the rest was let go."""

    number: int
    origin: int
    head: bytes
    size: int


class PageSplitter:
    """Decompressed bytes in, pieces out: one Prolog first, then PageBytes (or OversizedPage) in order.

    ``feed(origin, data)`` returns the pieces completed so far; ``drop_partial()`` abandons a
    page cut by a broken stream (returns it as CutPage, or None); ``close()`` ends the input.
    Each byte is searched once (a search resumes where the last one stopped), and memory is one
    page up to max_page_bytes plus one feed: a longer page is let go as it streams by.
    """

    def __init__(self, max_page_bytes: int = MAX_PAGE_BYTES):
        if max_page_bytes < 1:
            raise ValueError(f"max_page_bytes must be at least 1, not {max_page_bytes}")
        self.max_page_bytes = max_page_bytes
        self._buffer = bytearray()  # the page so far; outside pages, the last bytes that may start a tag
        self._origin = 0
        self._in_page = False
        self._scan_from = 0  # where to look for </page> and <page> next (the part before was searched)
        self._head: Optional[bytes] = None  # set once the page is over max_page_bytes
        self._let_go = 0  # bytes of an oversized page no longer held
        self._prolog: Optional[List[bytes]] = []
        self._prolog_size = 0
        self._number = 0

    def feed(self, origin: int, data: bytes) -> List[Union[Prolog, PageBytes, OversizedPage]]:
        self._buffer += data
        out: List[Union[Prolog, PageBytes, OversizedPage]] = []
        while self._step(origin, out):
            pass
        return out

    def drop_partial(self) -> Optional[CutPage]:
        """Forget the page in progress (its stream broke); the bytes outside pages go too."""
        cut = self._cut() if self._in_page else None
        self._reset()
        return cut

    def close(self) -> List[Union[Prolog, PageBytes, OversizedPage, CutPage]]:
        out: List[Union[Prolog, PageBytes, OversizedPage, CutPage]] = []
        if self._in_page:
            out.append(self._cut())
        else:
            self._outside(self._buffer, len(self._buffer), out)
        self._end_prolog(out)
        self._reset()
        return out

    def _step(self, origin: int, out: list) -> bool:
        """Complete one piece from the buffer: True when one was, and more may follow."""
        if not self._in_page and not self._open_page(origin, out):
            return False
        buffer = self._buffer
        close = buffer.find(PAGE_CLOSE, self._scan_from)
        reopen = buffer.find(PAGE_OPEN, self._scan_from, close if close >= 0 else len(buffer))
        if reopen >= 0:  # a page that never closed: it ends where the next one starts
            out.append(self._page(reopen))
            self._in_page, self._scan_from, self._origin = True, len(PAGE_OPEN), origin
            return True
        if close >= 0:
            out.append(self._page(close + len(PAGE_CLOSE)))
            self._in_page = False
            return True
        if self._head is not None or len(buffer) > self.max_page_bytes:
            self._let_go_of_page()
        else:
            self._scan_from = max(len(PAGE_OPEN), len(buffer) - _OVERLAP)
        return False

    def _open_page(self, origin: int, out: list) -> bool:
        """Outside pages: move to the next <page> (True), or keep only what may begin one (False)."""
        start = self._buffer.find(PAGE_OPEN)
        if start < 0:
            keep = len(PAGE_OPEN) - 1
            if len(self._buffer) > keep:
                self._outside(self._buffer, len(self._buffer) - keep, out)
                del self._buffer[:-keep]
            return False
        self._outside(self._buffer, start, out)
        self._end_prolog(out)
        del self._buffer[:start]
        self._in_page, self._scan_from, self._origin = True, len(PAGE_OPEN), origin
        return True

    def _let_go_of_page(self) -> None:
        """An oversized page: keep its head once, and of the rest only what may begin a tag."""
        if self._head is None:
            self._head = bytes(self._buffer[:HEAD_BYTES])
        drop = len(self._buffer) - _OVERLAP
        self._let_go += drop
        del self._buffer[:drop]
        self._scan_from = 0

    def _page(self, end: int) -> Union[PageBytes, OversizedPage]:
        """The page that ends at `end` of the buffer, taken out of it."""
        self._number += 1
        size = self._let_go + end
        if size > self.max_page_bytes:
            head = self._head if self._head is not None else bytes(self._buffer[:HEAD_BYTES])
            piece: Union[PageBytes, OversizedPage] = OversizedPage(self._number, self._origin, head, size)
        else:
            piece = PageBytes(self._number, self._origin, bytes(self._buffer[:end]))
        del self._buffer[:end]
        self._head, self._let_go = None, 0
        return piece

    def _cut(self) -> CutPage:
        self._number += 1
        return CutPage(self._number, self._origin, self._head if self._head is not None else bytes(self._buffer))

    def _reset(self) -> None:
        self._buffer, self._in_page, self._head, self._let_go = bytearray(), False, None, 0

    def _outside(self, buffer: bytearray, end: int, out: list) -> None:
        """The buffer's first `end` bytes, between pages: the prolog before the first one, ignored after it."""
        if self._prolog is None or not end:
            return
        data = bytes(buffer[:min(end, PROLOG_MAX_BYTES - self._prolog_size)])
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


def root_language_of(head: bytes) -> Optional[str]:
    """The language code of the ``<mediawiki xml:lang="de">`` root (its primary subtag, lower case), if any."""
    found = _ROOT_LANG.search(head)
    return found.group(1).decode("ascii").lower() if found else None


def base_language_of(head: bytes) -> Optional[str]:
    """``<base>https://de.wikipedia.org/wiki/…`` -> ``de``."""
    found = _BASE_HOST.search(head)
    return found.group(1).decode("ascii") if found else None


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
    parse_safely(parser, data)
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
