"""Progress a person can follow: what a long stage has done, its rate and, where known, its ETA.

Stages log `progress: ...` lines (Beam jobs, through `ProgressLog`) or draw tqdm bars (training,
embedding); both go to the stage's stderr. The main job runs each stage as its own process with
stderr in a log file, and `latest_progress` reads the newest of either kind from the log's tail, so
the console gets one line per stage at least every PROGRESS_SECONDS however the stage reports.
"""

import logging
import re
import time
from typing import Callable, Optional

PROGRESS_SECONDS = 20.0
PREFIX = "progress:"
log = logging.getLogger("ccpairs.progress")

# A tqdm bar as it lands in a file: "embed passage:  44%|████▎     | 2176/5000 [01:21<01:13, 38.20text/s]".
_TQDM = re.compile(r"(?P<head>[^|\r\n]*?)\|[^|\r\n]*\|\s*(?P<tail>\d+(?:\.\d+)?[kMG]?/\S+ \[[^\]\r\n]*\])")


def duration(seconds: float) -> str:
    """1h02m, 3m05s, 42s: short enough for a progress line."""
    seconds = int(max(seconds, 0))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressLog:
    """Logs `progress: <what>: <done> <unit> (<rate>/s[, <pct> of <total>, ETA <t>])` at most every
    `every` seconds. `position` and `total` measure how far along, in the same unit (bytes of a
    compressed file, or `done` itself when the total count is known); without both there is no ETA,
    only the count and the rate."""

    def __init__(self, what: str, unit: str, total: Optional[float] = None, every: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic, emit: Optional[Callable[[str], None]] = None):
        self.what, self.unit, self.total, self.clock = what, unit, total, clock
        self.every = PROGRESS_SECONDS if every is None else every
        self.emit = emit or (lambda line: log.info("%s", line))
        self.started = self.last = clock()

    def update(self, done: int, position: Optional[float] = None) -> Optional[str]:
        """The line logged now, or None when the last one is less than `every` seconds old."""
        now = self.clock()
        if now - self.last < self.every:
            return None
        self.last = now
        line = self.line(done, position, now - self.started)
        self.emit(line)
        return line

    def line(self, done: int, position: Optional[float], elapsed: float) -> str:
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{PREFIX} {self.what}: {done:,} {self.unit} ({rate:,.0f}/s"
        if self.total and position:
            share = min(position / self.total, 1.0)
            text += f", {share:.0%} of {self.total:,.0f}, ETA {duration(elapsed * (1 - share) / share)}"
        return text + f", {duration(elapsed)} so far)"


def latest_progress(tail: str) -> Optional[str]:
    """The newest progress report in a log's tail: a `progress:` line or a tqdm bar (its bar drawn
    out, its counts, times and rate kept); None when the tail holds neither."""
    for segment in reversed(re.split(r"[\r\n]+", tail)):
        at = segment.find(PREFIX)
        if at >= 0:
            return segment[at + len(PREFIX):].strip()
        match = _TQDM.search(segment)
        if match:
            return f"{match.group('head').strip()} {match.group('tail')}".strip()
    return None


def read_tail(path: str, size: int = 16384) -> str:
    """The last `size` bytes of a log, decoded leniently ('' when it does not exist yet)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(handle.tell() - size, 0))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
