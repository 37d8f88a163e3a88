"""Streaming line readers for compressed dumps, with truncation reported instead of swallowed.

`zstandard`'s stream_reader returns a short read, silently, when a file is cut off. Pushshift
dumps are often truncated by interrupted downloads, so we drive the decompressor ourselves and
know whether the last frame ended. Pushshift files need a 2 GiB window (`--long=31`).
"""

import bz2
import gzip
import json
import lzma
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional, Union

import zstandard

from schemas import reasons
from sources.errors import RejectRecord

ZSTD_MAX_WINDOW = 2**31
CHUNK_BYTES = 1 << 20
MAX_JSON_DOCUMENT_BYTES = 64 << 20  # a pretty-printed JSON file read as one record: S2ORC's example paper is 91 KB
_DOCUMENT_OPENERS = (b"{", b"[")


class TruncatedInput(Exception):
    """The compressed stream ended before its last frame did, or its data is corrupt: data, counted."""


class InputReadError(RuntimeError):
    """Reading the file itself failed (disk, network): not data. It propagates, so the runner
    retries the work unit or fails the job, instead of counting the unread rest as a truncated record."""


class _RawReads:
    """A file object whose read errors become InputReadError, told apart from codec errors (which
    are OSError too: BZ2File raises OSError("Invalid data stream"))."""

    def __init__(self, fileobj: BinaryIO):
        self._fileobj = fileobj

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fileobj.read(size)
        except OSError as exc:
            raise InputReadError(f"reading failed: {type(exc).__name__}: {exc}") from exc

    def readable(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self._fileobj, name)


@dataclass(frozen=True)
class RawLine:
    position: int  # 1-based line number
    data: bytes  # without the trailing newline


@dataclass(frozen=True)
class TruncatedTail:
    position: int  # line number the partial tail would have had
    data: bytes  # whatever was decoded of it (may be empty)
    detail: str


def iter_zstd_chunks(fileobj: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Decompressed chunks of a (multi-frame) zstd stream; TruncatedInput if the last frame is cut."""
    decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    frame = decompressor.decompressobj()
    frame_open = False
    while True:
        compressed = fileobj.read(chunk_bytes)
        if not compressed:
            break
        while compressed:
            try:
                out = frame.decompress(compressed)
            except zstandard.ZstdError as exc:
                raise TruncatedInput(f"corrupt zstd data: {exc}") from exc
            frame_open = True
            if out:
                yield out
            if frame.eof:
                compressed = frame.unused_data
                frame = decompressor.decompressobj()
                frame_open = False
            else:
                compressed = b""
    if frame_open:
        raise TruncatedInput("zstd stream ends inside a frame (file truncated?)")


def _iter_stdlib_chunks(stream, chunk_bytes: int) -> Iterator[bytes]:
    try:
        while True:
            out = stream.read(chunk_bytes)
            if not out:
                return
            yield out
    except InputReadError:
        raise
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:  # the codec: cut short or corrupt
        raise TruncatedInput(f"{type(exc).__name__}: {exc}") from exc


def iter_decompressed_chunks(fileobj: BinaryIO, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Pick the codec from the file name: .zst, .gz, .bz2, .xz, anything else is read as is."""
    fileobj = _RawReads(fileobj)
    lower = name.lower()
    if lower.endswith((".zst", ".zstd")):
        return iter_zstd_chunks(fileobj, chunk_bytes)
    if lower.endswith(".gz"):
        return _iter_stdlib_chunks(gzip.GzipFile(fileobj=fileobj), chunk_bytes)
    if lower.endswith(".bz2"):
        return _iter_stdlib_chunks(bz2.BZ2File(fileobj), chunk_bytes)
    if lower.endswith(".xz"):
        return _iter_stdlib_chunks(lzma.LZMAFile(fileobj), chunk_bytes)
    return _iter_stdlib_chunks(fileobj, chunk_bytes)


def iter_lines(fileobj: BinaryIO, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Union[RawLine, TruncatedTail]]:
    """Every line of a (compressed) text file as bytes; a truncated stream ends with a TruncatedTail.

    Blank lines are skipped (they are not records). CRLF endings lose their CR.
    """
    pending = b""
    position = 0
    try:
        for chunk in iter_decompressed_chunks(fileobj, name, chunk_bytes):
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                position += 1
                line = line.rstrip(b"\r")
                if line.strip():
                    yield RawLine(position, line)
    except TruncatedInput as exc:
        yield TruncatedTail(position + 1, pending, str(exc))
        return
    if pending.strip():
        yield RawLine(position + 1, pending.rstrip(b"\r"))


def starts_json_document(first: Optional[Union[RawLine, TruncatedTail]]) -> bool:
    """A first line that is a lone "{" or "[" opens a pretty-printed JSON document: no JSON line is."""
    return isinstance(first, RawLine) and first.data.strip() in _DOCUMENT_OPENERS


def read_json_document(first: RawLine, rest: Iterator[Union[RawLine, TruncatedTail]],
                       max_bytes: int = MAX_JSON_DOCUMENT_BYTES) -> bytes:
    """A whole-file JSON document (S2ORC's example_paper.json) as the bytes of one record.

    An object is one record; anything else (an array, invalid JSON, a cut stream, more than
    max_bytes) is refused as one `not_json_lines` record, instead of one reject per line.
    """
    parts, size = [first.data], len(first.data)
    for item in rest:
        if isinstance(item, TruncatedTail):
            raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"a JSON document cut short: {item.detail}")
        size += len(item.data) + 1
        if size > max_bytes:
            raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"a JSON document over {max_bytes} bytes")
        parts.append(item.data)
    document = b"\n".join(parts)
    try:
        value = json.loads(document)
    except ValueError as exc:
        raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"neither JSON lines nor one JSON document: {exc}",
                           document[:200]) from None
    if not isinstance(value, dict):
        raise RejectRecord(reasons.REJECT_NOT_JSON_LINES, f"one JSON {type(value).__name__}, not JSON lines",
                           document[:200])
    return document
