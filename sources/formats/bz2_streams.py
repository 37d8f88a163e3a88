"""bzip2 multistream files read stream by stream, by byte range, with bad streams reported and skipped.

Wikimedia's ``…-pages-articles-multistream.xml.bz2`` is many bzip2 streams laid end to end: the
first holds the ``<mediawiki>``/``<siteinfo>`` header, then one stream per 100 pages, the last
``</mediawiki>``. Its ``…-multistream-index.txt.bz2`` has a line ``offset:pageid:title`` per page
(titles may hold ``:``), where offset is the byte at which the page's stream starts. So a dump
can be cut at stream starts and every piece decompressed on its own: that is how one 23 GB file
is read by many workers.

A stream belongs to the byte range that holds its first byte: a range reader decompresses every
stream that starts in [start, end), reading past ``end`` to finish the last one, so consecutive
ranges see every stream once. A plain (single-stream) ``.bz2`` is the same thing with one stream.

A stream that is corrupt, or cut short by the end of the file, is data: it is reported
(``BadStream``, with its offset) and skipped: the reader looks for the next stream header and goes on, so one bad
stream costs its own pages only. A stream's output is held back until the stream has ended
(up to ``hold_bytes``; multistream streams are ~1-3 MB), so the pages of a corrupt stream are not
emitted half-decoded before the error shows. A failing read of the file itself (disk, network)
is no data: sources.formats.readers.InputReadError propagates, so the runner retries the unit.
"""

import bz2
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from sources.formats.readers import InputReadError

CHUNK_BYTES = 1 << 20
HOLD_BYTES = 16 << 20
FIRST_FEED_BYTES = 256  # a stream is fed from this much on, doubling: see _Stream
# A stream header ("BZh" + block size digit) followed by the first block's magic (BCD pi) or,
# for an empty stream, the end-of-stream magic (BCD sqrt(pi)): 10 fixed bytes, so a false match
# inside compressed data is practically impossible.
STREAM_HEADER = re.compile(rb"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")
_HEADER_LENGTH = 10

_INDEX_OFFSET = re.compile(rb"^(\d+):\d+:", re.M)
_NOT_INDEX_LINE = re.compile(rb"^(?!\d+:\d+:)[^\n]*\S", re.M)
_MULTISTREAM_DUMP = re.compile(r"^(?P<stem>.*-multistream)(?P<part>\d*)\.xml(?P<pages>-p\d+p\d+)?\.bz2$")
_MULTISTREAM_INDEX = re.compile(r"^.*-multistream-index\d*\.txt(?:-p\d+p\d+)?\.bz2$")


@dataclass(frozen=True)
class Chunk:
    """Decompressed bytes of the stream that starts at byte `offset` of the file."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class BadStream:
    """The stream at byte `offset` is corrupt or ends early; `held` is what it decoded before."""

    offset: int
    detail: str
    held: bytes = b""


@dataclass(frozen=True)
class NotAStream:
    """No stream starts at `offset`, where the caller's plan (an index entry) said one does; reading
    went on at `resumed`, the next stream header (None: none before the range's end)."""

    offset: int
    resumed: Optional[int]


StreamItem = Union[Chunk, BadStream, NotAStream]


class _File:
    """Compressed bytes of a file from some offset on: the last read, a position in it, and the
    absolute offset of that position. Bytes are handed out by position, never by copying the rest."""

    def __init__(self, fileobj: BinaryIO, offset: int, chunk_bytes: int):
        self._file, self._chunk_bytes = fileobj, chunk_bytes
        self._data, self._position, self.offset = b"", 0, offset
        fileobj.seek(offset)

    @property
    def available(self) -> int:
        return len(self._data) - self._position

    def fill(self) -> bool:
        """Read more (what is left of the last read stays in front); False at the end of the file.
        A failing read is no data: InputReadError."""
        try:
            more = self._file.read(self._chunk_bytes)
        except OSError as exc:
            raise InputReadError(f"reading failed: {type(exc).__name__}: {exc}") from exc
        if more:
            self._data, self._position = self._data[self._position:] + more, 0
        return bool(more)

    def take(self, limit: int) -> bytes:
        """Up to `limit` bytes of the last read, consumed."""
        piece = self._data[self._position:self._position + limit]
        self._position += len(piece)
        self.offset += len(piece)
        return piece

    def give_back(self, n: int) -> None:
        """Un-consume the last `n` bytes taken (a stream ended before them)."""
        self._position -= n
        self.offset -= n

    def starts_stream(self) -> bool:
        """Does a stream header start at the current position (False at the end of the file)?"""
        while self.available < _HEADER_LENGTH and self.fill():
            pass
        return bool(STREAM_HEADER.match(self._data, self._position))

    def seek(self, offset: int) -> None:
        self._file.seek(offset)
        self._data, self._position, self.offset = b"", 0, offset

    def next_stream_after(self, offset: int, end: Optional[int]) -> Optional[int]:
        """Offset of the first stream header after `offset` (before `end`), or None."""
        self.seek(offset + 1)
        while True:
            found = STREAM_HEADER.search(self._data, self._position)
            if found:
                self.take(found.start() - self._position)
                return self.offset
            if end is not None and self.offset + self.available >= end + _HEADER_LENGTH:
                return None
            self.take(max(0, self.available - (_HEADER_LENGTH - 1)))
            if not self.fill():
                return None


class _Stream:
    """One bz2 stream decoded in pieces of at most chunk_bytes, so that memory never holds more
    than one piece whatever the stream expands to (a 942-byte stream can decode to 256 MB).

    The decoder is fed 256 bytes, then twice as much each time it asks for more: where the stream
    ends, it copies what it was fed beyond that (unused_data), and feeding it a whole read each
    time copied up to 1 MB per stream: quadratic over a file of many tiny streams."""

    def __init__(self, source: _File, chunk_bytes: int):
        self._source, self._chunk_bytes = source, chunk_bytes
        self._decoder, self._feed = bz2.BZ2Decompressor(), FIRST_FEED_BYTES

    def pieces(self) -> Iterator[bytes]:
        """Decoded pieces until the stream's end; ValueError (corrupt data) or EOFError (cut short)."""
        decoder, source = self._decoder, self._source
        stalled = False
        while not decoder.eof:
            data = b""
            if decoder.needs_input or stalled:
                if not source.available and not source.fill():
                    raise EOFError("the file ends inside this stream (truncated?)")
                data = source.take(self._feed)
                self._feed = min(2 * self._feed, self._chunk_bytes)
            try:
                out = decoder.decompress(data, self._chunk_bytes)
            except (OSError, ValueError, EOFError) as exc:  # the codec: corrupt data
                raise ValueError(str(exc) or type(exc).__name__) from None
            stalled = not out and not data  # nothing came without input: it needs some
            if out:
                yield out
        source.give_back(len(decoder.unused_data))


def iter_streams(fileobj: BinaryIO, start: int = 0, end: Optional[int] = None,
                 chunk_bytes: int = CHUNK_BYTES, hold_bytes: int = HOLD_BYTES,
                 align: bool = False) -> Iterator[StreamItem]:
    """Chunks of every stream starting in [start, end) (end None: to the end of the file), in order.

    A corrupt or cut stream gives a BadStream after the chunks already released for it (none,
    unless it decoded more than `hold_bytes`); reading resumes at the next stream header.
    align: `start` is an index's word that a stream starts there, which may be wrong; if none
    does, a NotAStream says so and reading begins at the next stream header (the bytes before
    belong to a stream that the range before reads whole), never a BadStream for a stream that
    is not one.
    """
    source = _File(fileobj, start, chunk_bytes)
    if align and not source.starts_stream() and source.available:
        resumed = source.next_stream_after(start, end)
        yield NotAStream(start, resumed if resumed is None or end is None or resumed < end else None)
        if resumed is None:
            return
    while True:
        if not source.available and not source.fill():
            return
        stream_at = source.offset
        if end is not None and stream_at >= end:
            return
        held, held_size, released, error = [], 0, False, None
        try:
            for out in _Stream(source, chunk_bytes).pieces():
                held.append(out)
                held_size += len(out)
                if held_size > hold_bytes:
                    yield Chunk(stream_at, b"".join(held))
                    held, held_size, released = [], 0, True
        except (ValueError, EOFError) as exc:
            error = str(exc)
        if error is not None:
            yield BadStream(stream_at, _describe(error, released), b"".join(held))
            resume = source.next_stream_after(stream_at, end)
            if resume is None:
                return
            continue
        if held:
            yield Chunk(stream_at, b"".join(held))


def _describe(error: str, released: bool) -> str:
    return error + (" (part of its output was already read)" if released else "")


def read_head(fileobj: BinaryIO, max_bytes: int, stop: bytes = b"") -> bytes:
    """The first decompressed bytes of a bzip2 file, up to `max_bytes` or through `stop` (each
    piece searched once: a head made of thousands of tiny streams costs no rescans)."""
    out = bytearray()
    for item in iter_streams(fileobj, hold_bytes=0):
        if isinstance(item, BadStream):
            out += item.held
            break
        searched_to = max(0, len(out) - len(stop) + 1)
        out += item.data
        if len(out) >= max_bytes or (stop and out.find(stop, searched_to) >= 0):
            break
    return bytes(out[:max_bytes])


# Multistream index files --------------------------------------------------------------------


class BadIndex(ValueError):
    """An index file that does not hold `offset:pageid:title` lines."""


def stream_offsets(chunks: Iterable[bytes]) -> List[int]:
    """Sorted distinct stream offsets from an index's decompressed text (given in chunks).

    Regexes over whole chunks, not a loop over lines: enwiki's index has ~23M lines.
    """
    offsets, pending = set(), b""
    for chunk in chunks:
        text = pending + chunk
        cut = text.rfind(b"\n") + 1
        lines, pending = text[:cut], text[cut:]
        _check_index_lines(lines)
        offsets.update(_INDEX_OFFSET.findall(lines))
    _check_index_lines(pending)
    offsets.update(_INDEX_OFFSET.findall(pending))
    return sorted({int(value) for value in offsets})


def _check_index_lines(lines: bytes) -> None:
    bad = _NOT_INDEX_LINE.search(lines)
    if bad:
        raise BadIndex(f"not an offset:pageid:title line: {bad.group(0)[:80]!r}")


def group_streams(offsets: Sequence[int], file_size: int, target_bytes: int) -> List[Tuple[int, int]]:
    """[start, end) ranges covering the file, cut at stream offsets, each about target_bytes.

    The first range starts at 0 (the header stream, which the index does not list).
    """
    if target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    ranges, start = [], 0
    for offset in offsets:
        if offset <= start or offset >= file_size:
            continue
        if offset - start >= target_bytes:
            ranges.append((start, offset))
            start = offset
    ranges.append((start, file_size))
    return ranges


def index_name_for(dump_name: str) -> Optional[str]:
    """The index's file name Wikimedia gives a multistream dump, or None for other names.

    ``enwiki-20240601-pages-articles-multistream.xml.bz2`` -> ``…-multistream-index.txt.bz2``;
    ``…-multistream1.xml-p1p41242.bz2`` -> ``…-multistream-index1.txt-p1p41242.bz2``.
    """
    match = _MULTISTREAM_DUMP.match(dump_name)
    if not match:
        return None
    return f"{match['stem']}-index{match['part']}.txt{match['pages'] or ''}.bz2"


def is_index_name(name: str) -> bool:
    return bool(_MULTISTREAM_INDEX.match(name))
