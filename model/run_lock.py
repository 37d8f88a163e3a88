"""One writer per training output folder: `<output>/train.lock`, created exclusively (and the same
claim for any one-process-at-a-time job: the filter's pool build).

Why: two `model.train` runs on one --output would interleave checkpoints, the log and the saved
model, and each would prune the other's checkpoints. The lock holds the owner's pid, host and
start time, so a second run fails with one line that names the run in the way, and a lock left by
a killed run (its pid is not alive on this host) is taken over with a warning instead of blocking
every later run. A lock from another host cannot be checked from here and is never taken over.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import pathlib
import socket
from typing import Optional

from model import atomic
from schemas import versions

log = logging.getLogger(__name__)

LOCK_NAME = "train.lock"


class LockHeld(RuntimeError):
    """A live process (or one that cannot be checked from here) holds the lock file."""

    def __init__(self, path: pathlib.Path, holder: Optional["Owner"], message: str = ""):
        super().__init__(message or f"{path} is held by {holder or 'an unreadable owner'}")
        self.path, self.holder = path, holder


class LockContended(LockHeld):
    """Taken by others on every attempt (runs keep replacing a dead owner's lock)."""


class OutputLocked(LockHeld):
    """Another live run holds the output folder."""


@dataclasses.dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    started_at: str

    @classmethod
    def this_process(cls) -> "Owner":
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(os.getpid(), socket.gethostname(), now)

    def to_bytes(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self)) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes) -> Optional["Owner"]:
        try:
            fields = json.loads(data)
            return cls(int(fields["pid"]), str(fields["host"]), str(fields["started_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def is_gone(self) -> bool:
        """True only when known: same host and no process with that pid."""
        return self.host == socket.gethostname() and not atomic.pid_alive(self.pid)


class RunLock:
    """The held lock of one output folder; release() removes it if it is still this run's."""

    def __init__(self, path: pathlib.Path, owner: Owner):
        self.path, self.owner = path, owner

    def release(self) -> None:
        if read_owner_bytes(self.path) == self.owner.to_bytes():
            atomic.remove_quietly(self.path)


def acquire(folder: os.PathLike | str, attempts: int = 5) -> RunLock:
    """Create `folder` if needed and lock it; OutputLocked (one line) if a live run holds it."""
    path = pathlib.Path(folder) / LOCK_NAME
    try:
        return claim(path, attempts)
    except LockContended as err:
        raise OutputLocked(path, None, str(err)) from None
    except LockHeld as err:
        raise OutputLocked(path, err.holder, held_message(path, err.holder)) from None


def claim(path: os.PathLike | str, attempts: int = 5) -> RunLock:
    """Create the lock file `path` for this process; LockHeld if a live process holds it.

    A lock whose owner is known gone (same host, pid not alive) is taken over with a warning. Used
    for train.lock and for the filter's pool claim (one worker builds the pool, the others wait).
    """
    path = pathlib.Path(path)
    owner = Owner.this_process()
    for _ in range(attempts):
        if atomic.create_exclusively(path, owner.to_bytes()):
            return RunLock(path, owner)
        held = read_owner_bytes(path)
        if held is None:
            continue  # released between our attempt and the read: try again
        holder = Owner.parse(held)
        if holder is None or not holder.is_gone():
            raise LockHeld(path, holder)
        take_over(path, held, holder)
    raise LockContended(path, None, f"{path}: could not take the lock after {attempts} attempts "
                                    "(other runs keep taking it)")


def held_message(path: pathlib.Path, holder: Optional[Owner]) -> str:
    who = (f"pid {holder.pid} on {holder.host}, started {holder.started_at}" if holder
           else "a lock file that is not ours to read")
    return (f"{path.parent} is in use by another model.train run ({who}); "
            f"wait for it, use another --output, or delete {path} if that run is gone")


def take_over(path: pathlib.Path, stale: bytes, holder: Owner) -> None:
    """Remove a dead run's lock, unless another run replaced it meanwhile (then leave that one be).

    The lock is renamed aside first (atomic: of several racing runs, one gets it) and checked to be
    the stale one we read; a live lock grabbed by mistake is linked back.
    """
    aside = atomic.temp_sibling(path)
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if read_owner_bytes(aside) == stale:
        log.warning("taking over %s: the run that held it (pid %d on %s, started %s) is gone",
                    path, holder.pid, holder.host, holder.started_at)
    else:
        restore_lock(aside, path)
    atomic.remove_quietly(aside)


def restore_lock(aside: pathlib.Path, path: pathlib.Path) -> None:
    """Put back a live run's lock that take_over set aside by mistake."""
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # a third run holds it now; ours to lose either way


def read_owner_bytes(path: pathlib.Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def serialised(folder: os.PathLike | str):
    """Processes that change a shared folder's state take turns (flock on the folder; local disks).

    For check-then-act steps that must not interleave: the filter's workers read, clear and record a
    version's options inside it, so two --overwrite workers cannot both clear the folder.
    """
    return versions.folder_lock(folder)
