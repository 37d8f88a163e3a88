"""WARC files -> one raw record per WARC record, holding what the Common Crawl parser needs.

Reading is fastwarc's (compiled; over 3x warcio's records/s on the shared samples, see
benchmarks/results/commoncrawl_pipeline.md): `.warc.gz` with a gzip member per record as Common
Crawl publishes, one gzip stream, or plain `.warc`; WARC/1.0, 1.1 and Heritrix's 0.17.

A raw record is the record's WARC header block as it was (`WARC/1.0\\r\\nName: value\\r\\n…`), the
fields ccpairs adds (names starting `ccpairs-`), a blank line, then as much of the block as the
parser can use, so memory per record is bounded and nothing is shipped that would be thrown away:
  - a block over `max_record_bytes`: nothing (`ccpairs-omitted: record_too_large`), skipped on
    the stream, never read whole;
  - a request, metadata, warcinfo, revisit, … record: nothing (its headers say what it is);
  - a response: its HTTP header block, and for a 2xx HTML page the body's first
    `max_html_bytes` (`ccpairs-body-cut: yes` when there was more).
Added fields: `ccpairs-crawl` (the crawl: `CC-MAIN-2020-34` from the warcinfo's isPartOf or the
path, else the stable part of the file name, the same for every piece of a file: `crawl_name`) and `ccpairs-languages-cld2` (Common Crawl's language guess, from
the metadata record that follows a response and names it in WARC-Concurrent-To).

A file whose first bytes are no WARC record is one not_a_warc reject; a stream that breaks later
(cut gzip member, garbage) ends the file with one truncated_input reject for the unread rest.
"""

import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

from fastwarc.warc import ArchiveIterator, WarcRecordType

from schemas import reasons
from sources.errors import RejectRecord
from sources.formats import http_message
from sources.formats.readers import InputReadError, TruncatedTail

FIELD_PREFIX = "ccpairs-"
CRAWL, OMITTED, BODY_CUT, CLD2 = "ccpairs-crawl", "ccpairs-omitted", "ccpairs-body-cut", "ccpairs-languages-cld2"
METADATA_MAX_BYTES = 64 << 10
_CC_CRAWL = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_EXTENSIONS = re.compile(r"(?:\.warc)?(?:\.gz|\.zst|\.lz4)?$", re.I)
_PIECE = re.compile(r"[.-]part\d+(?:-of-\d+)?$", re.I)  # a file cut into pieces: "name.part2-of-2.warc.gz"
_HERITRIX_NAME = re.compile(r"^(.+?)-\d{14,17}-\d{3,}(?:-.+)?$")  # PREFIX-TIMESTAMP-SERIAL-HOST
_SERIAL = re.compile(r"[-_]\d{3,}$")  # NAME-00001: wget's --warc-max-size pieces
_CLD2_LINE = re.compile(rb"^languages-cld2:[ \t]*(.+?)\r?$", re.M)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class _Guarded:
    """A file handle as fastwarc should see it: its read failures (disk, network) raised as
    InputReadError, which fastwarc lets through, so a failing read propagates (the runner retries
    the unit) and is never taken for the OSError fastwarc raises for a broken WARC; and a tell()
    that works on any stream (fastwarc 2.0 asks once, and panics on a stream that cannot answer)."""

    def __init__(self, handle):
        self._handle, self._read = handle, 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._handle.read(size)
        except OSError as exc:
            raise InputReadError(f"reading failed: {type(exc).__name__}: {exc}") from exc
        self._read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        try:
            return self._handle.tell()
        except (OSError, AttributeError, ValueError):
            return self._read

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def close(self) -> None:  # the handle belongs to whoever opened it
        pass


def guarded(handle) -> _Guarded:
    return _Guarded(handle)


class RawWarcRecord(NamedTuple):
    position: int  # 1-based number of the record in its file
    offset: int  # where it starts in the (compressed) file: Common Crawl's index gives the same offsets
    data: bytes


def crawl_of(path: str, warcinfo: Dict[str, str]) -> str:
    """The crawl a file belongs to: a Common Crawl id (isPartOf, or the path), else crawl_name(path).

    Another crawler's crawl comes from the path, never from the warcinfo's WARC-Filename: only a
    file's first piece has a warcinfo record, and every piece of one file must get the same crawl."""
    match = _CC_CRAWL.search(warcinfo.get("ispartof", "")) or _CC_CRAWL.search(path)
    return match.group(0) if match else crawl_name(os.path.basename(path.rstrip("/")))


def crawl_name(file_name: str) -> str:
    """The stable part of a WARC file's name, the same for every file and piece of one crawl:
    `IAH-20080430204825-00000-blackbook.part2-of-2.warc.gz` -> `IAH` (Heritrix: prefix-timestamp-
    serial-host), `sample-00001.warc.gz` -> `sample` (wget --warc-max-size), else the name's stem."""
    stem = _EXTENSIONS.sub("", file_name) or file_name
    stem = _PIECE.sub("", stem) or stem
    heritrix = _HERITRIX_NAME.match(stem)
    if heritrix:
        return heritrix.group(1)
    return _SERIAL.sub("", stem) or stem


def is_html_type(media_type: str) -> bool:
    return media_type in _HTML_TYPES


def body_wanted(block_head: bytes) -> bool:
    """Whether a response's body is worth shipping to the parser: a 2xx HTML page (or an untyped
    one, which the parser sniffs). A head that does not parse ships without body; the parser rejects it."""
    try:
        head, _ = http_message.read_head(block_head)
    except RejectRecord:
        return False
    return 200 <= head.status < 300 and (is_html_type(head.media_type) or not head.media_type)


def _cld2_line(block: bytes) -> Optional["re.Match"]:
    """_CLD2_LINE.search(block), tried only where the field's name occurs: a Heritrix metadata block
    is ~10 KB of outlinks, which the multi-line pattern read position by position."""
    start = block.find(b"languages-cld2:")
    while start >= 0:
        match = _CLD2_LINE.match(block, start)  # its ^ still needs a line start there
        if match:
            return match
        start = block.find(b"languages-cld2:", start + 1)
    return None


def _fields(block: bytes) -> Dict[str, str]:
    """`name: value` lines of a warcinfo or metadata block (application/warc-fields)."""
    out = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            out.setdefault(name.strip().lower(), value.strip())
    return out


def encode(status_line: bytes, headers: List[Tuple[bytes, bytes]], added: Dict[str, str], block: bytes) -> bytes:
    """The raw record's bytes; a file's own header named like ours (ccpairs-…) is left out, so a
    WARC cannot pass itself off as cut or as another crawl."""
    prefix = FIELD_PREFIX.encode()
    lines = [status_line] + [name + b": " + value for name, value in headers if not name.lower().startswith(prefix)]
    lines += [f"{name}: {value}".encode("utf-8", "surrogateescape") for name, value in added.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + block


def with_field(data: bytes, name: str, value: str) -> bytes:
    """A raw record with one more ccpairs field in its header block."""
    end = data.index(b"\r\n\r\n")
    return data[:end] + f"\r\n{name}: {value}".encode("utf-8", "replace") + data[end:]


@dataclass(frozen=True)
class RawRecord:
    """A raw record taken apart again (the parser's side of `encode`)."""

    version: str  # WARC/1.0, WARC/1.1, WARC/0.17
    fields: Dict[str, str]  # lowercased names -> first value (the ccpairs- fields included)
    block: bytes  # what the reader shipped of the block (see the module docstring)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


_BYTES_SPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips (str.strip() strips more: \x1c-\x1f, \x85)


def decode(data: bytes) -> RawRecord:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise RejectRecord(reasons.REJECT_PARSE_ERROR, "raw record without the blank line after its headers")
    head = data[:end]
    if head.isascii():  # the usual header block: decoded once, read as text (the same fields as below)
        text_lines = head.decode("ascii").split("\r\n")
        fields: Dict[str, str] = {}
        for line in text_lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                fields.setdefault(name.strip(_BYTES_SPACE).lower(), value.strip(_BYTES_SPACE))
        return RawRecord(text_lines[0].strip(), fields, data[end + 4:])
    lines = head.split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            try:
                text = value.strip().decode("utf-8")
            except UnicodeDecodeError:  # Latin-1 URIs in old crawls
                text = value.strip().decode("latin-1")
            fields.setdefault(name.strip().lower().decode("latin-1"), text)
    return RawRecord(lines[0].decode("latin-1").strip(), fields, data[end + 4:])


class WarcFileReader:
    """Iterates one WARC file's records as RawWarcRecord (and a TruncatedTail when the stream breaks).

    The constructor reads the first record, so a file that is not a WARC raises
    RejectRecord(not_a_warc) before any record is counted.
    """

    def __init__(self, handle, path: str, max_record_bytes: int, max_html_bytes: int):
        self._path, self._max_record, self._max_html = path, max_record_bytes, max_html_bytes
        self._records = iter(ArchiveIterator(handle, parse_http=False, record_types=WarcRecordType.any_type))
        self._crawl = crawl_of(path, {})
        try:
            self._first = next(self._records)
        except StopIteration:
            raise RejectRecord(reasons.REJECT_NOT_A_WARC, "no WARC record in the file") from None
        except OSError as exc:
            raise RejectRecord(reasons.REJECT_NOT_A_WARC, f"not a WARC file: {exc}") from None

    def __iter__(self) -> Iterator[Union[RawWarcRecord, TruncatedTail]]:
        # A response waits for the next record: Common Crawl writes its metadata record (with the
        # language guess) right after it.
        pending: Optional[Tuple[RawWarcRecord, str]] = None
        record, number = self._first, 0
        while record is not None:
            number += 1
            try:
                raw, cld2 = self._raw(record, number)
            except _Truncated as exc:
                yield from (pending[0],) if pending else ()
                yield TruncatedTail(number, b"", exc.detail)
                return
            if pending is not None:
                about_pending = cld2 is not None and cld2[0] == pending[1]
                yield pending[0]._replace(data=with_field(pending[0].data, CLD2, cld2[1])) if about_pending \
                    else pending[0]
                pending = None
            if record.record_type == WarcRecordType.response and not self._too_large(record):
                pending = (raw, record.headers.get("WARC-Record-ID") or "")
            else:
                yield raw
            try:
                record = next(self._records, None)
            except OSError as exc:  # a cut or corrupt gzip member, garbage between records
                yield from (pending[0],) if pending else ()
                yield TruncatedTail(number + 1, b"", f"the WARC stream breaks after record {number} ({exc}); "
                                                     "the rest of the file is unread")
                return
        yield from (pending[0],) if pending else ()

    def _too_large(self, record) -> bool:
        return record.content_length > self._max_record

    def _raw(self, record, number: int) -> Tuple[RawWarcRecord, Optional[Tuple[str, str]]]:
        """The raw record, and for a metadata record (the record it is about, its languages-cld2)."""
        headers, kind, block = record.headers, record.record_type, _Block(record, number)
        added = {CRAWL: self._crawl}
        shipped, cld2 = b"", None
        if self._too_large(record):
            added[OMITTED] = reasons.DROP_RECORD_TOO_LARGE
        elif kind == WarcRecordType.warcinfo:
            warcinfo = _fields(block.read(min(record.content_length, METADATA_MAX_BYTES)))
            self._crawl = added[CRAWL] = crawl_of(self._path, warcinfo)
        elif kind == WarcRecordType.metadata:
            match = _cld2_line(block.read(min(record.content_length, METADATA_MAX_BYTES)))
            if match:
                cld2 = (headers.get("WARC-Concurrent-To") or "", match.group(1).decode("utf-8", "replace"))
        elif kind == WarcRecordType.response:
            shipped = self._response_block(block, record.content_length)
            if len(shipped) < record.content_length and body_wanted(shipped):
                added[BODY_CUT] = "yes"
        block.skip_rest()
        data = encode(headers.status_line_bytes or b"WARC/1.0", list(headers.items_bytes()), added, shipped)
        return RawWarcRecord(number, record.stream_pos, data), cld2

    def _response_block(self, block: "_Block", length: int) -> bytes:
        """The HTTP head, plus the body's first max_html_bytes when the parser will want it."""
        first = block.read(min(length, http_message.MAX_HEAD_BYTES + 4))
        try:
            head, _ = http_message.split_head(first)
        except RejectRecord:
            return first  # the parser rejects it (invalid_http) from these bytes
        if not body_wanted(first):
            return first[:len(head) + 4]
        wanted = min(len(head) + 4 + self._max_html, length)
        if len(first) < wanted:
            first += block.read(wanted - len(first))
        return first[:wanted]


class _Truncated(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class _Block:
    """A record's block on the stream: reads that must get what the header promised, then the rest
    skipped (fastwarc consumes it in buffer-sized steps: a huge record is never held whole). A
    stream that breaks inside the block (cut or corrupt gzip, OSError from fastwarc) is _Truncated;
    a failing read of the file (InputReadError) propagates."""

    def __init__(self, record, number: int):
        self._record, self._number, self._read = record, number, 0

    def _broken(self, what: str) -> "_Truncated":
        return _Truncated(f"record {self._number} ends after {self._read} of {self._record.content_length} "
                          f"bytes ({what})")

    def read(self, size: int) -> bytes:
        try:
            data = self._record.reader.read(size)
        except OSError as exc:
            raise self._broken(str(exc)) from None
        self._read += len(data)
        if len(data) < size:
            raise self._broken("file cut short?")
        return data

    def skip_rest(self) -> None:
        try:
            self._read += self._record.reader.consume()
        except OSError as exc:
            raise self._broken(str(exc)) from None
        if self._read < self._record.content_length:
            raise self._broken("file cut short?")
