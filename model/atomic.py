"""Atomic local writes for what the training and filtering stages write through a library.

torch.save, np.save, np.lib.format.open_memmap and save_pretrained want a path or a handle, and a
checkpoint or a pool of vectors is too big to build as bytes first, so schemas.versions.write_bytes
(the project's atomic write for bytes in hand) does not fit them. Here the library writes a hidden
temp sibling (".<name>.tmp-<host>-<pid>-<random>", schemas.versions' temp mark), which is fsynced
and renamed onto the final name: after a crash the final name holds the old file or the new one,
never a torn one. A folder (a saved model) is built the same way and swapped in whole.

The writer's host and pid are in the temp name so that a process sharing a folder with others (the
filter's --shard workers) can clear the temp files of writers that died without touching those of
writers still at work (temp_writer_gone).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import socket
from typing import BinaryIO, Callable, Iterator, Union

from schemas.versions import TMP_MARK

PathLike = Union[str, os.PathLike]


# ".<final name>.tmp-<host tag>-<pid>-<random>"; older writers left ".<final name>.tmp-<random>".
_WRITER_RE = re.compile(re.escape(TMP_MARK) + r"([0-9a-f]{8})-(\d+)-[0-9a-f]+$")


def host_tag() -> str:
    """8 hex digits naming this machine in temp names (a hostname may hold any character)."""
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


def temp_sibling(path: PathLike) -> pathlib.Path:
    """A fresh hidden name beside `path`: same folder (so the rename is atomic), unique per writer,
    naming the writer's host and pid."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{host_tag()}-{os.getpid()}-{secrets.token_hex(6)}")


def is_temp_name(name: str) -> bool:
    """A file or folder left by a writer that never finished (see temp_sibling)."""
    return name.startswith(".") and TMP_MARK in name


def names_writer(name: str) -> bool:
    """Whether a temp name says who writes it (older temp names do not)."""
    return _WRITER_RE.search(name) is not None


def temp_writer_gone(name: str) -> bool:
    """True only when known: a temp name of this host whose writer's pid is no longer alive.

    A name from another host, or without a writer (older temp names), is never judged gone.
    """
    match = _WRITER_RE.search(name)
    if not is_temp_name(name) or match is None or match.group(1) != host_tag():
        return False
    return not pid_alive(int(match.group(2)))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def fsync_path(path: PathLike) -> None:
    """Flush a file's (or a folder's entries') data to disk; skipped where a folder cannot be opened."""
    with contextlib.suppress(IsADirectoryError, PermissionError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(folder: PathLike) -> None:
    """Every file below `folder`, then every folder: what a rename publishes must be on disk first."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            fsync_path(os.path.join(root, name))
        fsync_path(root)


def remove_quietly(path: PathLike) -> None:
    path = pathlib.Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[pathlib.Path]:
    """Yield a temp path beside `path` for the caller to write; on success it replaces `path`.

    On an exception the temp file is removed and `path` is untouched.
    """
    final = pathlib.Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(final)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, final)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_path(final.parent)


def write_with(path: PathLike, write: Callable[[BinaryIO], object]) -> pathlib.Path:
    """`write(handle)` fills a new file that appears under `path` only once complete."""
    with atomic_path(path) as tmp:
        with open(tmp, "xb") as handle:
            write(handle)
    return pathlib.Path(path)


def create_exclusively(path: PathLike, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists (then False): a claim nobody sees half-written.

    Same guarantee as O_CREAT|O_EXCL (exactly one of several racing creators wins), but the file is
    complete when it appears: the content goes to a temp file, which is hard-linked to the final
    name (link fails if the name exists). A reader never sees an empty claim, and a creator killed
    mid-write leaves only a temp file, not an empty claim that blocks everyone after it.
    """
    final = pathlib.Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(final)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, final)
    except FileExistsError:
        return False
    finally:
        remove_quietly(tmp)
    fsync_path(final.parent)
    return True


@contextlib.contextmanager
def atomic_folder(path: PathLike) -> Iterator[pathlib.Path]:
    """Yield an empty temp folder beside `path` to fill; on success it replaces `path` whole.

    The final name only ever names the old folder or the complete new one (for a moment, between
    the two renames, nothing): a half-saved folder never appears under it.
    """
    final = pathlib.Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(final)
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
        swap_folder_in(tmp, final)
    except BaseException:
        remove_quietly(tmp)
        raise


def swap_folder_in(new: pathlib.Path, final: pathlib.Path) -> None:
    """Rename `new` to `final`; an existing `final` is set aside under a temp name, then deleted."""
    old = temp_sibling(final)
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    fsync_path(final.parent)
    remove_quietly(old)
