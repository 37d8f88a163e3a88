"""Byte ranges of an uncompressed line file, so several workers can read one big file.

A line belongs to the range that holds its first byte. A reader of [start, end) therefore
skips to just past the first newline at or after ``start - 1`` (unless start is 0) and reads
through the line that crosses ``end``; consecutive ranges see every line exactly once.
"""

from typing import BinaryIO, Iterator, List, Tuple, Union

from sources.formats.readers import MAX_LINE_BYTES, LineSplitter, OversizedLine

CHUNK_BYTES = 1 << 20


def plan_ranges(size: int, target_bytes: int) -> List[Tuple[int, int]]:
    """[start, end) ranges of about target_bytes covering [0, size); one range for a small file."""
    if target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    count = max(1, -(-size // target_bytes))
    bounds = [size * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


def iter_range_lines(fileobj: BinaryIO, start: int, end: int, chunk_bytes: int = CHUNK_BYTES,
                     max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Union[Tuple[int, bytes], OversizedLine]]:
    """(byte offset, line) for every non-empty line whose first byte is in [start, end); CR/LF
    removed. A line over max_line_bytes is one OversizedLine, skipped unread (LineSplitter)."""
    begin = start - 1 if start > 0 else 0  # byte start-1 is read: if it is "\n", a line starts at `start`
    fileobj.seek(begin)
    splitter = LineSplitter(max_line_bytes, offset=begin)

    def owned(found):
        """The lines of this range; True once a line starts at or after `end`."""
        for _, offset, line, head in found:
            if offset < start:  # it holds byte start-1: the range before reads it
                continue
            if offset >= end:
                return True
            if line is None:
                yield OversizedLine(None, head, f"the line at byte {offset} is over {max_line_bytes} bytes: skipped")
            else:
                yield offset, line.rstrip(b"\r")
        return False

    while True:
        chunk = fileobj.read(chunk_bytes)
        if not chunk:
            break
        if (yield from owned(splitter.feed(chunk))):
            return
    yield from owned(splitter.finish())
