"""Byte ranges of an uncompressed line file, so several workers can read one big file.

A line belongs to the range that holds its first byte. A reader of [start, end) therefore
skips to just past the first newline at or after ``start - 1`` (unless start is 0) and reads
through the line that crosses ``end``; consecutive ranges see every line exactly once.
"""

from typing import BinaryIO, Iterator, List, Tuple

CHUNK_BYTES = 1 << 20


def plan_ranges(size: int, target_bytes: int) -> List[Tuple[int, int]]:
    """[start, end) ranges of about target_bytes covering [0, size); one range for a small file."""
    if target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    count = max(1, -(-size // target_bytes))
    bounds = [size * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


def iter_range_lines(fileobj: BinaryIO, start: int, end: int,
                     chunk_bytes: int = CHUNK_BYTES) -> Iterator[Tuple[int, bytes]]:
    """(byte offset, line) for every line whose first byte is in [start, end); CR/LF removed."""
    if start > 0:
        fileobj.seek(start - 1)
        offset = start - 1
    else:
        fileobj.seek(0)
        offset = 0
    pending = b""
    skipping = start > 0  # the byte before `start` is read: if it is "\n", a line starts at `start`
    while True:
        chunk = fileobj.read(chunk_bytes)
        if not chunk:
            break
        buffer = pending + chunk if pending else chunk
        position = 0
        if skipping:
            cut = buffer.find(b"\n")
            if cut < 0:
                offset += len(buffer)
                pending = b""
                continue
            offset += cut + 1
            position = cut + 1
            skipping = False
        while True:
            if offset >= end:
                return
            cut = buffer.find(b"\n", position)
            if cut < 0:
                break
            yield offset, buffer[position:cut].rstrip(b"\r")
            offset += cut + 1 - position
            position = cut + 1
        pending = buffer[position:]
    if pending and not skipping and offset < end:
        yield offset, pending.rstrip(b"\r")
