"""Streaming line readers for compressed dumps: bounded memory, linear time, truncation reported.

Every codec is driven through a decompressor object with a cap on its output per call
(`max_length`), so a compression bomb (a 32 KB zstd file holding 1 GB of newlines) never sits in
memory whole, and what was decoded before a stream breaks is kept: a cut file gives its records
up to the cut, then one TruncatedTail. Members follow each other (gzip members, bz2 and xz
streams, zstd frames); a file that ends inside one is truncated. Pushshift files need a 2 GiB
zstd window (`--long=31`).

Lines are cut incrementally (LineSplitter): each byte is scanned once, whatever the line lengths,
and a line over `max_line_bytes` is one OversizedLine (its first bytes, for the rejects shard),
skipped without ever being held whole.
"""

import bz2
import io
import itertools
import json
import lzma
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, List, Optional, Union

from schemas import reasons
from sources.errors import RejectRecord

try:  # Python 3.14's compression.zstd: a zstd decompressor with max_length, as bz2's and lzma's
    from compression import zstd
except ImportError:  # earlier Pythons: its backport (setup.py)
    from backports import zstd

ZSTD_WINDOW_LOG_MAX = 31  # Pushshift's 2 GiB window
CHUNK_BYTES = 1 << 20  # decompressed bytes per piece: the most any decoder hands over at once
READ_BYTES = 1 << 16  # compressed bytes read at a time
MAX_LINE_BYTES = 64 << 20  # the default cap of one line (one record), and of a whole-file JSON document
HEAD_BYTES = 200  # what a rejects shard shows of an oversized record
_DOCUMENT_OPENERS = (b"{", b"[")


class TruncatedInput(Exception):
    """The compressed stream ended before its last member did, or its data is corrupt: data, counted."""


class InputReadError(RuntimeError):
    """Reading the file itself failed (disk, network): not data. It propagates, so the runner
    retries the work unit or fails the job, instead of counting the unread rest as a truncated record."""


class _RawReads(io.RawIOBase):
    """A file object whose read errors become InputReadError, told apart from codec errors (which
    are OSError too: BZ2Decompressor raises OSError("Invalid data stream")). An io.RawIOBase, so
    libraries that check the type (py7zr) take it; seeks go to the file as they are."""

    def __init__(self, fileobj: BinaryIO):
        super().__init__()
        self._fileobj = fileobj

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fileobj.read(size)
        except OSError as exc:
            raise InputReadError(f"reading failed: {type(exc).__name__}: {exc}") from exc

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._fileobj.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fileobj.seek(offset, whence)

    def tell(self) -> int:
        return self._fileobj.tell()


@dataclass(frozen=True)
class RawLine:
    position: int  # 1-based line number
    data: bytes  # without the trailing newline


@dataclass(frozen=True)
class TruncatedTail:
    """What a reader could not give as a record: a rejected record, `reason` says why."""

    position: int  # line number the partial tail would have had
    data: bytes  # whatever was decoded of it (may be empty)
    detail: str
    reason = reasons.REJECT_TRUNCATED_INPUT


@dataclass(frozen=True)
class OversizedLine(TruncatedTail):
    """A line over the reader's cap: its first HEAD_BYTES only; the rest was skipped unread."""

    reason = reasons.REJECT_RECORD_TOO_LARGE


class _GzipMember:
    """zlib's decompressobj for one gzip member, with the interface of bz2's, lzma's and zstd's
    decompressors: decompress(data, max_length), needs_input, eof, unused_data."""

    def __init__(self):
        self._zlib = zlib.decompressobj(wbits=31)
        self._tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._zlib.decompress(self._tail + data if self._tail else data, max_length)
        self._tail = self._zlib.unconsumed_tail
        return out

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def eof(self) -> bool:
        return self._zlib.eof

    @property
    def unused_data(self) -> bytes:
        return self._zlib.unused_data


def guard_reads(fileobj: BinaryIO) -> BinaryIO:
    """fileobj whose read failures raise InputReadError, for a decoder that takes every OSError for bad data."""
    return _RawReads(fileobj)


def _zstd_frame():
    return zstd.ZstdDecompressor(options={zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG_MAX})


_CODEC_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error, zstd.ZstdError)


def iter_members(fileobj: BinaryIO, new_member: Callable, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Decompressed pieces of at most chunk_bytes of a stream of members; TruncatedInput when the
    data is corrupt or the stream ends inside a member, after everything decoded before."""
    member, started, data = new_member(), False, b""
    while True:
        if member.eof:
            data, member, started = member.unused_data + data, new_member(), False
        if member.needs_input and not data:
            data = fileobj.read(READ_BYTES)
            if not data:
                break
        try:
            out = member.decompress(data, chunk_bytes)
        except _CODEC_ERRORS as exc:
            raise TruncatedInput(f"corrupt {name} data: {type(exc).__name__}: {exc}") from exc
        data, started = b"", True
        if out:
            yield out
    if started:
        raise TruncatedInput(f"the {name} stream ends inside a member (file truncated?)")


def _plain(fileobj: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    while True:
        out = fileobj.read(chunk_bytes)
        if not out:
            return
        yield out


_CODECS = {".zst": ("zstd", _zstd_frame), ".zstd": ("zstd", _zstd_frame), ".gz": ("gzip", _GzipMember),
           ".bz2": ("bz2", bz2.BZ2Decompressor), ".xz": ("xz", lzma.LZMADecompressor)}


def iter_decompressed_chunks(fileobj: BinaryIO, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Pick the codec from the file name: .zst, .gz, .bz2, .xz, anything else is read as is."""
    fileobj = guard_reads(fileobj)
    lower = name.lower()
    for extension, (codec, new_member) in _CODECS.items():
        if lower.endswith(extension):
            return iter_members(fileobj, new_member, codec, chunk_bytes)
    return _plain(fileobj, chunk_bytes)


class LineSplitter:
    """Cuts byte chunks into lines incrementally: a chunk is split once, a line that spans chunks
    is joined once, a line over max_line_bytes keeps only its head while the rest streams by, and
    empty lines are counted in bulk (1 GB of newlines is a billion lines, not a billion steps).

    feed() and finish() yield (line number, offset of its first byte, line or None, head) for
    every non-empty line; None with the first HEAD_BYTES for an oversized one. Line numbers and
    offsets count the empty lines too. Bytes stay as they are (no CR removed)."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, offset: int = 0):
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, not {max_line_bytes}")
        self.max_line_bytes = max_line_bytes
        self.lines = 0  # lines completed so far
        self.offset = offset  # where the next byte fed sits in the stream
        self._start = offset  # where the line being held starts
        self._parts: List[bytes] = []
        self._held = 0  # bytes of the unfinished line so far (held, or seen when oversized)
        self._head: Optional[bytes] = None  # set once the unfinished line is oversized

    def feed(self, chunk: bytes):
        pieces = chunk.split(b"\n")
        tail = pieces.pop()
        if pieces:
            first = pieces[0]
            if self._held or first:
                self._hold(first)
                yield self._take(self.lines + 1, self._start)
            # pieces[k] starts at its offset; every empty piece between two lines is one byte
            k, offset, length = 0, self.offset, len(first)
            for i in itertools.compress(range(1, len(pieces)), itertools.islice(pieces, 1, None)):
                offset += length + 1 + (i - k - 1)
                piece, k, length = pieces[i], i, len(pieces[i])
                if length > self.max_line_bytes:
                    yield self.lines + 1 + i, offset, None, piece[:HEAD_BYTES]
                else:
                    yield self.lines + 1 + i, offset, piece, None
            self._start = offset + length + 1 + (len(pieces) - 1 - k)
            self.lines += len(pieces)
            self.offset = self._start
        self._hold(tail)
        self.offset += len(tail)

    def finish(self):
        """The last line, when the stream does not end in a newline."""
        if self._held:
            self.lines += 1
            yield self._take(self.lines, self._start)

    @property
    def pending(self) -> bytes:
        """The start of the unfinished line (its head only, when oversized)."""
        return self._head if self._head is not None else b"".join(self._parts)

    def _hold(self, data: bytes) -> None:
        if not data:
            return
        self._held += len(data)
        if self._head is not None:
            return
        if self._held > self.max_line_bytes:
            self._head = (b"".join(self._parts) + data[:HEAD_BYTES])[:HEAD_BYTES]
            self._parts = []
        else:
            self._parts.append(data)

    def _take(self, number: int, start: int):
        """The held line, completed, and a fresh one."""
        head = self._head
        line = None if head is not None else (self._parts[0] if len(self._parts) == 1 else b"".join(self._parts))
        self._parts, self._held, self._head = [], 0, None
        return number, start, line, head


def iter_lines(fileobj: BinaryIO, name: str, chunk_bytes: int = CHUNK_BYTES,
               max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Union[RawLine, TruncatedTail]]:
    """Every line of a (compressed) text file as bytes; a line over max_line_bytes is one
    OversizedLine; a truncated stream ends with a TruncatedTail after every line decoded before it.

    Blank lines are skipped (they are not records) but counted in positions. CRLF endings lose their CR.
    """
    splitter = LineSplitter(max_line_bytes)

    def items(found):
        for number, _, line, head in found:
            if line is None:
                yield OversizedLine(number, head, f"line {number} is over {max_line_bytes} bytes: skipped unread")
            elif not line.isspace():
                yield RawLine(number, line.rstrip(b"\r"))

    try:
        for chunk in iter_decompressed_chunks(fileobj, name, chunk_bytes):
            yield from items(splitter.feed(chunk))
    except TruncatedInput as exc:
        yield TruncatedTail(splitter.lines + 1, splitter.pending, str(exc))
        return
    yield from items(splitter.finish())


def starts_json_document(first: Optional[Union[RawLine, TruncatedTail]]) -> bool:
    """A first line that is a lone "{" or "[" opens a pretty-printed JSON document: no JSON line is."""
    return isinstance(first, RawLine) and first.data.strip() in _DOCUMENT_OPENERS


def read_json_document(first: RawLine, rest: Iterator[Union[RawLine, TruncatedTail]],
                       max_bytes: int = MAX_LINE_BYTES) -> bytes:
    """A whole-file JSON document (S2ORC's example_paper.json) as the bytes of one record.

    An object is one record; anything else (an array, invalid JSON, a cut stream) is refused as
    one `not_json_lines` record, instead of one reject per line; more than max_bytes is one
    `record_too_large` record.
    """
    parts, size = [first.data], len(first.data)
    for item in rest:
        if isinstance(item, TruncatedTail):
            too_large = isinstance(item, OversizedLine)
            raise RejectRecord(reasons.REJECT_RECORD_TOO_LARGE if too_large else reasons.REJECT_NOT_JSON_LINES,
                               f"a JSON document not read whole: {item.detail}", parts[0][:HEAD_BYTES])
        size += len(item.data) + 1
        if size > max_bytes:
            raise RejectRecord(reasons.REJECT_RECORD_TOO_LARGE, f"a whole-file JSON document over {max_bytes} bytes",
                               parts[0][:HEAD_BYTES])
        parts.append(item.data)
    document = b"\n".join(parts)
    try:
        value = json.loads(document)
    except ValueError as exc:
        raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"neither JSON lines nor one JSON document: {exc}",
                           document[:HEAD_BYTES]) from None
    if not isinstance(value, dict):
        raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"one JSON {type(value).__name__}, not JSON lines",
                           document[:HEAD_BYTES])
    return document
