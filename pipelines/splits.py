"""Read units planned at launch: a whole file, or a byte range of a big uncompressed line file.

A compressed file (zstd, gzip, 7z) is one stream and goes to one worker. An uncompressed file
whose records are lines (Stack Exchange's Posts.xml: stackoverflow.com's is ~100 GB) is cut
into ranges of about ``split_bytes``; sources.formats.line_ranges reads each range so that every line
is read exactly once. File sizes come from the glob expansion (pipelines.inputs.expand_inputs),
so planning costs no extra I/O. pipelines.read spreads the units over workers.
"""

from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence

from sources.formats.line_ranges import plan_ranges

DEFAULT_SPLIT_BYTES = 64 << 20
COMPRESSED_EXTENSIONS = (".7z", ".zst", ".zstd", ".gz", ".bz2", ".xz", ".zip")


@dataclass(frozen=True)
class ReadUnit:
    """What one worker reads: [start, end) of `path`, or the whole file as a stream when end is None."""

    path: str
    start: int = 0
    end: Optional[int] = None
    index: int = 0  # range number inside the file (0 for a whole file): range 0 speaks for the file
    count: int = 1  # ranges the file was cut into
    size: Optional[int] = None  # the file's size when planned: what reading a whole file must consume

    @property
    def is_range(self) -> bool:
        return self.end is not None


def is_uncompressed(path: str) -> bool:
    return not path.lower().endswith(COMPRESSED_EXTENSIONS)


def plan_read_units(inputs: Sequence[Mapping[str, object]], split_bytes: int = DEFAULT_SPLIT_BYTES,
                    splittable: Callable[[str], bool] = is_uncompressed) -> List[ReadUnit]:
    """One unit per file, or one per range for a splittable file larger than split_bytes."""
    units: List[ReadUnit] = []
    for item in inputs:
        path, size = str(item["path"]), int(item["bytes"])
        if split_bytes <= 0 or size <= split_bytes or not splittable(path):
            units.append(ReadUnit(path, size=size))
            continue
        ranges = plan_ranges(size, split_bytes)
        units.extend(ReadUnit(path, start, end, i, len(ranges), size) for i, (start, end) in enumerate(ranges))
    return units
