"""Read one member of a .7z archive as a stream, never whole in memory nor on disk.

py7zr only pushes: ``extract(targets=..., factory=...)`` writes each decompressed block into a
``Py7zIO`` made by the factory. A thread runs the extraction and hands blocks, cut into slices,
to a bounded queue; ``SevenZipMemberReader`` is a file object that pulls them. Memory stays near
``max_queued_slices * slice_bytes`` plus what py7zr decodes from one 1 MiB block of packed input
(and its copies), whatever the member's size (benchmarks/stackexchange_pipeline.py measures it:
~115 MiB peak for 45 MiB and for 300 MiB of Posts.xml).

In a solid archive the members stored before the wanted one are decompressed (into nothing, for
their CRC) on the way; members after it are not touched. A read error or a CRC mismatch reaches
the reader as ``TruncatedInput``, so the line reader reports a truncated tail, as for zstd.
"""

import io
import posixpath
import queue
import threading
from typing import BinaryIO, List, Optional

import py7zr
from py7zr.io import Py7zIO, WriterFactory

from sources.formats.readers import InputReadError, TruncatedInput, guard_reads

SLICE_BYTES = 1 << 20
MAX_QUEUED_SLICES = 8
_END = object()


class UnreadableArchive(Exception):
    """The archive cannot be opened, or it has no member of the wanted name."""


class _Stopped(Exception):
    """The reader was closed before the extraction finished."""


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def find_member(names: List[str], basename: str) -> Optional[str]:
    """The member called `basename` (any case, any folder); the shallowest wins, then the first."""
    wanted = basename.lower()
    matches = [n for n in names if posixpath.basename(n.replace("\\", "/")).lower() == wanted]
    return min(matches, key=lambda n: (n.count("/"), names.index(n))) if matches else None


class _QueueWriter(Py7zIO):
    def __init__(self, reader: "SevenZipMemberReader"):
        self._reader, self._size = reader, 0

    def write(self, s) -> int:
        view = memoryview(s)
        for begin in range(0, len(view), self._reader.slice_bytes):
            self._reader._put(bytes(view[begin:begin + self._reader.slice_bytes]))
        self._size += len(view)
        return len(view)

    def read(self, size=None) -> bytes:
        return b""

    def seek(self, offset, whence=0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self._size


class _QueueWriterFactory(WriterFactory):
    def __init__(self, reader: "SevenZipMemberReader"):
        self._reader = reader

    def create(self, filename: str) -> Py7zIO:
        return _QueueWriter(self._reader)


class SevenZipMemberReader(io.RawIOBase):
    """A read-only, forward-only file object over one member of a 7z archive.

    Opening reads the archive's header (UnreadableArchive if that fails or the member is absent);
    decompression starts at the first read. Close it (or use ``with``) to stop the thread early.
    """

    def __init__(self, fileobj: BinaryIO, member_basename: str, *, slice_bytes: int = SLICE_BYTES,
                 max_queued_slices: int = MAX_QUEUED_SLICES):
        super().__init__()
        self._archive, self._thread, self._stop = None, None, threading.Event()
        try:
            self._archive = py7zr.SevenZipFile(guard_reads(fileobj), mode="r")
            names = self._archive.getnames()
        except InputReadError:  # the disk or network failed: not data, the unit fails (issue 22, case 9)
            raise
        except Exception as exc:  # noqa: BLE001 - whatever py7zr raises, the file is unreadable
            raise UnreadableArchive(f"{type(exc).__name__}: {exc}") from None
        self.member = find_member(names, member_basename)
        if self.member is None:
            self._archive.close()
            self._archive = None
            raise UnreadableArchive(f"no {member_basename} in the archive (members: {', '.join(names[:20])})")
        self.slice_bytes = slice_bytes
        self._queue: "queue.Queue" = queue.Queue(maxsize=max_queued_slices)
        self._current = memoryview(b"")
        self._finished = False

    def readable(self) -> bool:
        return True

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def _extract(self) -> None:
        try:
            self._archive.extract(targets=[self.member], factory=_QueueWriterFactory(self))
            self._put(_END)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            try:
                self._put(_Failure(exc))
            except _Stopped:
                pass

    def _next_slice(self) -> bool:
        if self._finished:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._extract, name="7z-extract", daemon=True)
            self._thread.start()
        item = self._queue.get()
        if item is _END:
            self._finished = True
            return False
        if isinstance(item, _Failure):
            self._finished = True
            raise TruncatedInput(f"7z member {self.member}: {type(item.exc).__name__}: {item.exc}")
        self._current = memoryview(item)
        return True

    def readinto(self, buffer) -> int:
        while not self._current:
            if not self._next_slice():
                return 0
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def close(self) -> None:
        if self.closed:
            return
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self._thread.join()
        if self._archive is not None:
            self._archive.close()
        super().close()
