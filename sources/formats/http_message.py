"""The HTTP response stored in a WARC record: status, headers, and the payload with its codings undone.

Crawlers differ in what they store. Common Crawl stores payloads decoded and renames the original
transfer headers (`X-Crawler-Content-Encoding`, `X-Crawler-Transfer-Encoding`), so its bodies are
read as they are. wget and Heritrix store the bytes as sent: a chunked body, a gzip, deflate or
brotli body. Those codings are undone here in steps of bounded output, keeping the first
`max_bytes`: a bomb costs at most `limit` bytes of decoding, and a payload that decodes past
`limit` is reported as too large.

Everything here is lenient where browsers are (header lines without a colon are ignored, a bare
LF ends lines) and strict where nothing can be read: a status line that is no HTTP status, or no
end of the header block, is an `invalid_http` reject.
"""

import re
import zlib
from dataclasses import dataclass
from typing import Optional, Tuple

from schemas import reasons
from sources.errors import RejectRecord

MAX_HEAD_BYTES = 64 << 10  # an HTTP header block longer than this is taken for garbage
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)?[ \t]+(\d{3})(?:[ \t]|$)")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:\-]+)""", re.I)
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")
_DECODE_STEP = 64 << 10


class PayloadTooLarge(Exception):
    """The decoded payload is longer than the limit (a gzip bomb, or a page nobody needs whole)."""


@dataclass(frozen=True)
class HttpHead:
    status: int
    headers: Tuple[Tuple[str, str], ...]  # (lowercased name, value) in order

    def get(self, name: str) -> Optional[str]:
        """The first value of a header (name in lowercase), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def media_type(self) -> str:
        """`text/html` of `Content-Type: text/html; charset=utf-8`, lowercased; "" when absent."""
        value = self.get("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> Optional[str]:
        match = _CHARSET.search(self.get("content-type") or "")
        return match.group(1) if match else None


def split_head(block: bytes) -> Tuple[bytes, bytes]:
    """(header block, body) of an HTTP message; RejectRecord when the header block never ends."""
    match = _HEAD_END.search(block, 0, MAX_HEAD_BYTES + 4)
    if match is None:
        raise RejectRecord(reasons.REJECT_INVALID_HTTP, f"no end of the HTTP header block in its first "
                                                  f"{min(len(block), MAX_HEAD_BYTES)} bytes")
    return block[:match.start()], block[match.end():]


def parse_head(head: bytes) -> HttpHead:
    """Status and headers of an HTTP response header block; RejectRecord for a broken status line."""
    lines = head.split(b"\n")
    status = _STATUS_LINE.match(lines[0].rstrip(b"\r"))
    if status is None:
        raise RejectRecord(reasons.REJECT_INVALID_HTTP, f"not an HTTP status line: {lines[0][:80]!r}")
    headers = []  # (name, [value, folded continuations…]): joined once, so 20,000 folded lines stay linear
    for raw in lines[1:]:
        line = raw.rstrip(b"\r").decode("latin-1")
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding: continues the previous value
            headers[-1][1].append(line.strip())
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.append((name.strip().lower(), [value.strip()]))
    return HttpHead(int(status.group(1)), tuple((name, " ".join(parts)) for name, parts in headers))


def read_head(block: bytes) -> Tuple[HttpHead, bytes]:
    """(parsed head, body) of the HTTP message in a WARC response block."""
    head, body = split_head(block)
    return parse_head(head), body


def _codings(value: Optional[str]) -> Tuple[str, ...]:
    return tuple(c.strip().lower() for c in (value or "").split(",") if c.strip() and c.strip().lower() != "identity")


def dechunk(body: bytes) -> bytes:
    """A chunked body as its data; a body cut inside a chunk keeps what arrived (as a browser shows it)."""
    out, pos = [], 0
    while pos < len(body):
        match = _CHUNK_SIZE.match(body, pos)
        if match is None:
            if not out:
                raise RejectRecord(
                    reasons.REJECT_BAD_CONTENT_ENCODING, f"no chunk size at byte {pos} of a chunked body"
                )
            break
        size = int(match.group(1), 16)
        if size == 0:
            break
        start = match.end()
        out.append(body[start:start + size])
        pos = start + size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
    return b"".join(out)


class _Output:
    """Decoded output: the first max_bytes kept, PayloadTooLarge once more than limit came out."""

    def __init__(self, coding: str, max_bytes: int, limit: int):
        self.coding, self._max, self._limit = coding, max_bytes, limit
        self.total, self._kept = 0, []

    def add(self, out: bytes) -> None:
        if self.total < self._max:
            self._kept.append(out[: self._max - self.total])
        self.total += len(out)
        if self.total > self._limit:
            raise PayloadTooLarge(f"{self.coding} payload decodes to more than {self._limit} bytes")

    def bytes(self) -> bytes:
        return b"".join(self._kept)

    def corrupt(self, exc: Exception) -> bytes:
        """A coding broken from its first byte is a reject; broken later, what decoded is kept."""
        if not self.total:
            raise RejectRecord(reasons.REJECT_BAD_CONTENT_ENCODING, f"{self.coding} payload: {exc}") from None
        return self.bytes()


def _inflate(body: bytes, out: _Output) -> bytes:
    """gzip/deflate in steps of _DECODE_STEP output bytes: a bomb stops just past the limit."""
    wbits = 16 + zlib.MAX_WBITS if out.coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    if out.coding == "deflate" and body[:1] and (body[0] & 0x0F) != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate, as some servers send it
    decoder, data = zlib.decompressobj(wbits), body
    try:
        while True:
            chunk = decoder.decompress(data, _DECODE_STEP)
            out.add(chunk)
            data = decoder.unconsumed_tail
            if decoder.eof or not (data or chunk):
                return out.bytes()
    except zlib.error as exc:
        return out.corrupt(exc)


def _unbrotli(body: bytes, out: _Output) -> bytes:
    """Brotli, bounded the same way (brotli >= 1.2 caps each step's output)."""
    import brotli

    decoder, data = brotli.Decompressor(), body
    try:
        while True:
            chunk = decoder.process(data, output_buffer_limit=_DECODE_STEP)
            data = b""  # all input went in with the first call; later calls drain the output
            out.add(chunk)
            if decoder.is_finished() or not chunk and decoder.can_accept_more_data():
                return out.bytes()
    except brotli.error as exc:
        return out.corrupt(exc)


_DECODERS = {"gzip": _inflate, "x-gzip": _inflate, "deflate": _inflate, "br": _unbrotli}


def decoded_body(head: HttpHead, body: bytes, max_bytes: int, limit: int) -> bytes:
    """The payload with its transfer and content codings undone: at most max_bytes of it.

    PayloadTooLarge when it decodes to more than `limit` bytes; RejectRecord (bad_content_encoding)
    when a coding is corrupt from its first byte or unknown (compress, zstd).
    """
    if "chunked" in _codings(head.get("transfer-encoding")):
        body = dechunk(body)
    for coding in reversed(_codings(head.get("content-encoding"))):
        if coding not in _DECODERS:
            raise RejectRecord(reasons.REJECT_BAD_CONTENT_ENCODING, f"unsupported Content-Encoding {coding!r}")
        body = _DECODERS[coding](body, _Output(coding, max_bytes, limit))
    if len(body) > limit:
        raise PayloadTooLarge(f"payload of {len(body)} bytes is over {limit}")
    return body[:max_bytes]
