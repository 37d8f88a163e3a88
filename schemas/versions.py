"""The version folder: one format, one writer, one reader, for the Beam sink, the trainer and the filter.

    <output>/<source>/<version>/
        pairs-SSSSS-of-NNNNN.parquet     PAIR_SCHEMA shards
        rejects-SSSSS-of-NNNNN.parquet   REJECT_SCHEMA shards
        manifest.json                    written last: a version without a readable one is incomplete

Why one module: "complete" has to mean the same thing to whoever writes a version and to whoever
trains on it. Paths are local paths or URIs (gs://, s3://, file://), opened through pyarrow.fs.
Local writes go to a temporary name in the same folder, are fsynced and renamed into place, so a
crash never leaves a torn shard or a 0-byte manifest.json under its final name; on an object store
a single put is already atomic.
"""

import contextlib
import ctypes
import dataclasses
import errno
import fnmatch
import functools
import io
import json
import logging
import os
import posixpath
import re
import secrets
import shutil
import socket
import sys
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from schemas.cli import version_problem
from schemas.manifest import MANIFEST_NAME, build_manifest, dumps
from schemas.pairs import PAIR_SCHEMA

log = logging.getLogger(__name__)

PAIRS = "pairs"
REJECTS = "rejects"
PAIR_SHARD_GLOB = "pairs-*.parquet"
REJECT_SHARD_GLOB = "rejects-*.parquet"
TMP_MARK = ".tmp-"  # in the name of a file still being written: ".<final name>.tmp-<random>"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class VersionError(RuntimeError):
    """A version folder is not in a state the caller can use."""


class IncompleteVersionError(VersionError):
    """No manifest.json: the version's writer has not finished (or failed)."""


class CorruptManifestError(VersionError):
    """manifest.json exists but is empty or not a manifest (a torn write by an older writer, or damage)."""


class VersionExists(VersionError):
    """A launch would write into a complete version without --overwrite."""


# ---- paths ----

def is_uri(path: "str | os.PathLike") -> bool:
    return bool(_URI.match(os.fspath(path)))


def join(base: "str | os.PathLike", *parts: str) -> str:
    """Join like Beam's FileSystems.join: os.path.join locally, '/' for URIs."""
    base = os.fspath(base)
    if not is_uri(base):
        return os.path.join(base, *parts)
    for part in parts:
        base = base.rstrip("/") + "/" + part.strip("/")
    return base


def base_name(path: "str | os.PathLike") -> str:
    path = os.fspath(path)
    return posixpath.basename(path.rstrip("/")) if is_uri(path) else os.path.basename(os.path.normpath(path))


def version_path(output: "str | os.PathLike", source: str, version: str) -> str:
    return join(output, source, version)


def shard_name(prefix: str, index: int, num_shards: int) -> str:
    return f"{prefix}-{index:05d}-of-{num_shards:05d}.parquet"


@functools.lru_cache(maxsize=None)
def _object_store(scheme: str, bucket: str) -> pafs.FileSystem:
    """One filesystem per bucket: building an S3 one may look up the bucket's region."""
    return pafs.FileSystem.from_uri(f"{scheme}://{bucket}")[0]


def resolve(path: "str | os.PathLike") -> Tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a gs:// / s3:// / file:// (or other) URI."""
    path = os.fspath(path)
    if not is_uri(path):
        return pafs.LocalFileSystem(), os.path.abspath(path)
    scheme, rest = path.split("://", 1)
    if scheme in ("gs", "gcs", "s3"):
        return _object_store(scheme, rest.split("/", 1)[0]), rest.rstrip("/")
    return pafs.FileSystem.from_uri(path)


def _info(path: str) -> pafs.FileInfo:
    fs, fs_path = resolve(path)
    return fs.get_file_info(fs_path)


def _list_dir(path: str) -> List[pafs.FileInfo]:
    """Entries directly in a folder, by name; none when it does not exist."""
    fs, fs_path = resolve(path)
    entries = fs.get_file_info(pafs.FileSelector(fs_path, allow_not_found=True))
    return sorted(entries, key=lambda e: e.base_name)


# ---- writing ----

def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_local_atomic(path: str, data: bytes) -> None:
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}{TMP_MARK}{secrets.token_hex(6)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def write_bytes(path: "str | os.PathLike", data: bytes) -> None:
    """The whole file appears under `path` at once, or not at all."""
    fs, fs_path = resolve(path)
    if isinstance(fs, pafs.LocalFileSystem):
        _write_local_atomic(fs_path, data)
    else:
        with fs.open_output_stream(fs_path, compression=None) as out:
            out.write(data)


def parquet_bytes(table: pa.Table, row_group_size: Optional[int] = None) -> bytes:
    """A table as Parquet (zstd): the bytes every shard is written with, so reruns are byte-identical."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=row_group_size)
    return buffer.getvalue()


def write_table(path: "str | os.PathLike", table: pa.Table, row_group_size: Optional[int] = None) -> int:
    """One Parquet file, atomically; returns its row count."""
    write_bytes(path, parquet_bytes(table, row_group_size))
    return table.num_rows


def write_rows(path: "str | os.PathLike", rows: Iterable[Mapping[str, Any]], schema: pa.Schema,
               row_group_size: Optional[int] = None) -> int:
    """Row dicts -> one Parquet file of `schema`, atomically; returns its row count."""
    return write_table(path, pa.Table.from_pylist(list(rows), schema=schema), row_group_size)


def write_manifest(version_dir: "str | os.PathLike", manifest: Mapping[str, Any]) -> str:
    """Write manifest.json (last: this is what makes the version complete); returns its path.

    The manifest is serialised before anything is written, so a value JSON cannot hold fails
    without touching a manifest already there.
    """
    data = dumps(manifest).encode("utf-8")
    path = join(version_dir, MANIFEST_NAME)
    write_bytes(path, data)
    return path


# ---- reading ----

def read_bytes(path: "str | os.PathLike") -> bytes:
    fs, fs_path = resolve(path)
    with fs.open_input_stream(fs_path, compression=None) as handle:
        return handle.read()


def open_parquet(path: "str | os.PathLike") -> pq.ParquetFile:
    fs, fs_path = resolve(path)
    return pq.ParquetFile(fs.open_input_file(fs_path))


def read_manifest(version_dir: "str | os.PathLike") -> Dict[str, Any]:
    """The manifest of a complete version; IncompleteVersionError or CorruptManifestError otherwise."""
    path = join(version_dir, MANIFEST_NAME)
    if _info(path).type != pafs.FileType.File:
        raise IncompleteVersionError(
            f"{os.fspath(version_dir)} has no {MANIFEST_NAME}: the version is incomplete "
            "(its writer is still running or failed)")
    data = read_bytes(path)
    if not data.strip():
        raise CorruptManifestError(f"{path} is empty: the version was not written completely")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptManifestError(f"{path} is not valid JSON ({exc}): the version is damaged") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
        raise CorruptManifestError(f"{path} is not a manifest (no 'shards' list)")
    return manifest


def is_complete(version_dir: "str | os.PathLike") -> bool:
    try:
        read_manifest(version_dir)
    except (IncompleteVersionError, CorruptManifestError):
        return False
    return True


@dataclasses.dataclass(frozen=True)
class ShardInfo:
    """A pair shard as its manifest lists it, checked against the file."""

    path: str
    row_group_rows: Tuple[int, ...]
    size: int  # bytes
    source: str  # the manifest's per-shard source, else its dataset

    @property
    def rows(self) -> int:
        return sum(self.row_group_rows)


def pair_shards(version_dir: "str | os.PathLike", manifest: Optional[Mapping[str, Any]] = None) -> List[ShardInfo]:
    """Every pair shard the manifest names (empty ones too), checking each exists with its row count."""
    manifest = read_manifest(version_dir) if manifest is None else manifest
    shards = []
    for entry in manifest["shards"]:
        path = join(version_dir, entry["path"])
        if _info(path).type != pafs.FileType.File:
            raise FileNotFoundError(f"{join(version_dir, MANIFEST_NAME)} lists {entry['path']}, which is missing")
        fs, fs_path = resolve(path)
        with fs.open_input_file(fs_path) as handle:
            meta = pq.ParquetFile(handle).metadata
            size = handle.size()
        rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        if sum(rows) != int(entry.get("rows", sum(rows))):
            raise ValueError(f"{path}: manifest says {entry['rows']} rows, file holds {sum(rows)}")
        # A version of one source names it as its dataset; a mixed version (e.g. the
        # consistency-filtered corpus) names each shard's source.
        shards.append(ShardInfo(path, rows, size, str(entry.get("source") or manifest["dataset"])))
    return shards


def pair_shard_paths(version_dir: "str | os.PathLike") -> List[str]:
    return [s.path for s in pair_shards(version_dir)]


def read_pairs(version_dir: "str | os.PathLike", columns: Optional[Sequence[str]] = None) -> pa.Table:
    """All pairs of a complete version in one PAIR_SCHEMA table, or those pair columns (small versions).

    Cast back to PAIR_SCHEMA because Parquet stores created_at's seconds as milliseconds.
    """
    names = list(columns or PAIR_SCHEMA.names)
    schema = pa.schema([PAIR_SCHEMA.field(n) for n in names], metadata=PAIR_SCHEMA.metadata)
    tables = [open_parquet(s.path).read(columns=names).cast(schema) for s in pair_shards(version_dir)]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _holds_pair_shards(entries: Sequence[pafs.FileInfo]) -> bool:
    return any(e.is_file and fnmatch.fnmatch(e.base_name, PAIR_SHARD_GLOB) for e in entries)


def _walk_versions(directory: str, found: List[str]) -> None:
    entries = _list_dir(directory)
    if any(e.is_file and e.base_name == MANIFEST_NAME for e in entries):
        try:
            read_manifest(directory)
            found.append(directory)
        except CorruptManifestError as exc:
            log.warning("skipping %s: %s", directory, exc)
        return
    if _holds_pair_shards(entries):
        log.warning("skipping %s: pair shards without %s (incomplete version)", directory, MANIFEST_NAME)
    for entry in entries:  # hidden folders are claims' staging and set-aside copies, never versions
        if entry.type == pafs.FileType.Directory and not entry.base_name.startswith("."):
            _walk_versions(join(directory, entry.base_name), found)


def find_version_dirs(root: "str | os.PathLike") -> List[str]:
    """Complete versions at or below root, in name order.

    root itself, when it is a version, must be complete: an incomplete or corrupt one is refused.
    Below root, incomplete versions and corrupt manifests are skipped with a warning.
    """
    root = os.fspath(root)
    if _info(root).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"pairs folder {root} does not exist")
    entries = _list_dir(root)
    if any(e.is_file and e.base_name == MANIFEST_NAME for e in entries):
        read_manifest(root)
        return [root]
    if _holds_pair_shards(entries):
        raise IncompleteVersionError(
            f"{root} holds pair shards but no {MANIFEST_NAME}: the version is incomplete "
            "(its pipeline is still running or failed); refusing to read it")
    found: List[str] = []
    _walk_versions(root, found)
    if not found:
        raise FileNotFoundError(f"no complete version dir (with {MANIFEST_NAME}) under {root}")
    return found


def list_versions(output: "str | os.PathLike", source: str) -> List[str]:
    """Names of the published versions of a source, sorted (timestamp names sort oldest first): complete
    folders under a version name, never a claim's staging or set-aside folder (hidden) nor LATEST."""
    folder = join(output, source)
    return [e.base_name for e in _list_dir(folder)
            if e.type == pafs.FileType.Directory and version_problem(e.base_name) is None
            and is_complete(join(folder, e.base_name))]


def latest_version(output: "str | os.PathLike", source: str) -> Optional[str]:
    versions = list_versions(output, source)
    return versions[-1] if versions else None


# ---- LATEST: the version a scheduled run last completed, moved only after the whole run ----

LATEST_NAME = "LATEST"


def _latest_file(folder: "str | os.PathLike") -> Tuple[str, pafs.FileType]:
    """(path of <folder>/LATEST, what is there); a folder there is refused: it is no pointer."""
    path = join(folder, LATEST_NAME)
    kind = _info(path).type
    if kind == pafs.FileType.Directory:
        raise VersionError(f"{path} is a folder, not the LATEST pointer file (a version named LATEST, made "
                           "before that name was reserved): rename it, then rerun")
    return path, kind


def write_latest(folder: "str | os.PathLike", version: str) -> str:
    """Point <folder>/LATEST at a complete version (one atomic write of its name); returns the file."""
    problem = version_problem(version)
    if problem:
        raise VersionRefused(f"bad version {version!r}: {problem}; LATEST not moved")
    if not is_complete(join(folder, version)):
        raise IncompleteVersionError(f"{join(folder, version)} is not a complete version; LATEST not moved")
    path, _ = _latest_file(folder)
    write_bytes(path, (version + "\n").encode("utf-8"))
    return path


def read_latest(folder: "str | os.PathLike") -> Optional[str]:
    """The version name <folder>/LATEST holds, or None when there is no LATEST; VersionError when LATEST
    is damaged (a folder, or not one version name), so a lost pointer is never read as 'none yet'."""
    path, kind = _latest_file(folder)
    if kind != pafs.FileType.File:
        return None
    name = read_bytes(path).decode("utf-8", "replace").strip()
    if not name:
        return None
    problem = version_problem(name)
    if problem:
        raise VersionError(f"{path} holds {name!r}, not a version name ({problem})")
    return name


def resolve_latest(path: "str | os.PathLike") -> str:
    """`<folder>/LATEST` (the pointer file) -> `<folder>/<version>`; any other path as given."""
    path = os.fspath(path)
    if base_name(path) != LATEST_NAME:
        return path
    folder = posixpath.dirname(path.rstrip("/")) if is_uri(path) else os.path.dirname(os.path.normpath(path))
    version = read_latest(folder)
    if version is None:
        raise FileNotFoundError(f"{path} does not exist: no scheduled run has completed there yet")
    return join(folder, version)


# ---- launch: claim a version, write it aside, publish it whole ----
#
# A run claims <output>/<source>/.<version>.claim at launch (created exclusively), writes every
# file into a staging folder beside the version, .<version>.staging-<run id>/, and only at the
# end publishes: the manifest goes into the staging folder, the old version's other files (a
# user's notes) are hard-linked into it, and the staging folder takes the version's name. Locally
# that is one atomic exchange of the two folders (Linux renameat2), so the name holds a complete
# version at every instant; where the system cannot exchange, the old version is first renamed to
# .<version>.replaced-<run id>, and a run killed between the two renames is undone by the next
# claim in that folder. No claim deletes a set-aside version; hidden names (claims, staging and
# set-aside folders) are never versions. So a failed or killed run never loses a complete version,
# a --dry_run never deletes anything, and a second writer of the same version fails at launch with
# one line instead of mixing its shards with the first one's.

CLAIM_SUFFIX = ".claim"
STAGING_MARK = ".staging-"
REPLACED_MARK = ".replaced-"
# Tests only: the publish step at which the process dies (os._exit, as kill -9: no cleanup runs):
# staged, kept, set_aside (no exchange), emptied (object stores), swapped, cleaned.
CRASH_AT_ENV = "CCPAIRS_PUBLISH_CRASH_AT"
_RUN_ID = "[0-9a-f]{16}"
_REPLACED = re.compile(rf"\.(.+){re.escape(REPLACED_MARK)}({_RUN_ID})")
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _is_version_file(name: str) -> bool:
    """What a writer of versions owns in a version folder (publishing replaces these, keeps the rest)."""
    return (name == MANIFEST_NAME or TMP_MARK in name
            or fnmatch.fnmatch(name, PAIR_SHARD_GLOB) or fnmatch.fnmatch(name, REJECT_SHARD_GLOB))


class VersionBusy(VersionError):
    """Another run holds the version's claim."""


class VersionRefused(VersionError):
    """A version no run may write: a reserved or hidden name, or a folder that is a symbolic link."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """This run's right to write `version_dir`; files go to `staging_dir` until publish()."""

    version_dir: str
    run_id: str
    # Local disks: (device, inode) of the staging folder. Renames keep it, so a retried publish can
    # tell that the folder under the version's name is already this run's.
    staging_id: Optional[Tuple[int, int]] = None

    def _beside(self, name: str) -> str:
        parent = self.version_dir.rstrip("/") if is_uri(self.version_dir) else os.path.normpath(self.version_dir)
        folder = posixpath.dirname(parent) if is_uri(parent) else os.path.dirname(parent)
        return join(folder, name)

    @property
    def claim_path(self) -> str:
        return self._beside(f".{base_name(self.version_dir)}{CLAIM_SUFFIX}")

    @property
    def staging_dir(self) -> str:
        return self._beside(f".{base_name(self.version_dir)}{STAGING_MARK}{self.run_id}")

    @property
    def replaced_dir(self) -> str:
        """Where the old version waits between the two renames of a publish without exchange."""
        return self._beside(f".{base_name(self.version_dir)}{REPLACED_MARK}{self.run_id}")


def _holder_record(run_id: str) -> bytes:
    return json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode("utf-8")


def _read_holder(claim_path: str) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(read_bytes(claim_path).decode("utf-8"))
    except (FileNotFoundError, OSError, ValueError, UnicodeDecodeError):
        return None


def _holder_is_dead(holder: Optional[Mapping[str, Any]]) -> bool:
    """A claim whose process is known gone (same host, no such pid) or unreadable can be taken over."""
    if not holder or not isinstance(holder.get("pid"), int):
        return True
    if holder.get("host") != socket.gethostname():
        return False  # cannot tell from here: assume it is alive
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _create_exclusively(path: str, data: bytes) -> bool:
    """Write a new file; False when it already exists. Locally the complete file is hard-linked into
    place (never visible empty); on object stores it is check-then-put."""
    fs, fs_path = resolve(path)
    if isinstance(fs, pafs.LocalFileSystem):
        folder, name = os.path.split(fs_path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{name}{TMP_MARK}{secrets.token_hex(6)}")
        _write_local_atomic(tmp, data)
        try:
            os.link(tmp, fs_path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True
    if fs.get_file_info(fs_path).type != pafs.FileType.NotFound:
        return False
    write_bytes(path, data)
    return True


def _delete_tree(path: str) -> None:
    """A folder and all in it (on object stores: every object under the prefix); nothing if absent."""
    fs, fs_path = resolve(path)
    kind = fs.get_file_info(fs_path).type
    if kind == pafs.FileType.Directory:
        fs.delete_dir(fs_path)
    elif kind == pafs.FileType.File:
        fs.delete_file(fs_path)


@contextlib.contextmanager
def folder_lock(folder: "str | os.PathLike"):
    """Processes that change a folder's state take turns: an exclusive flock on the folder (local
    disks; released when the block ends or the process dies)."""
    import fcntl

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _claims_serialised(claim: Claim):
    """Launches that claim versions in one folder take turns (folder_lock, local disks): reading a
    claim, judging its holder dead and replacing it is then one step, so two launches can neither
    both take over a dead claim nor delete each other's fresh one. Object stores have no lock: there
    it stays check-then-put (see the README)."""
    fs, fs_path = resolve(claim.claim_path)
    if not isinstance(fs, pafs.LocalFileSystem):
        yield
        return
    with folder_lock(os.path.dirname(fs_path)):
        yield


def _refuse_unwritable(version_dir: str) -> None:
    """A launch never writes a reserved or hidden name (LATEST, a claim, a staging folder), nor through
    a symbolic link: --overwrite would replace the link and carry the target's other files along."""
    name = base_name(version_dir)
    problem = version_problem(name)
    if problem:
        raise VersionRefused(f"bad version {name!r}: {problem}")
    fs, fs_path = resolve(version_dir)
    if not isinstance(fs, pafs.LocalFileSystem):
        return
    if os.path.islink(fs_path):
        raise VersionRefused(f"{version_dir} is a symbolic link (to {os.readlink(fs_path)}); a version folder must "
                             "be a real folder: write the version where the link points, or under another --version")
    if os.path.lexists(fs_path) and not os.path.isdir(fs_path):
        raise VersionRefused(f"{version_dir} is a file, not a version folder")


def _remove_quietly(path: str) -> None:
    """Delete a local folder this run no longer needs; a failure is only a warning (nothing depends on it)."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)


def _restore_set_aside(folder: str, version: str, aside: str) -> None:
    """An old version a publish set aside: back under its name when that is empty (the publish was cut
    between its renames), deleted when the new version is in place (with the old one's other files),
    and left alone, with a warning, in any other state: it is never deleted unless replaced."""
    name = os.path.join(folder, version)
    if not os.path.lexists(name):
        log.warning("restoring %s, which a publish that did not finish had set aside", name)
        os.replace(aside, name)
        _fsync_dir(folder)
    elif is_complete(name):
        _remove_quietly(aside)
    else:
        log.warning("%s is incomplete and %s holds the version it replaced: left as they are", name, aside)


def _recover_set_aside_versions(folder: str) -> None:
    """Every version in a local dataset folder that a dead run left set aside mid-publish, put back
    (or, when the new one made it, deleted): the next claim in the folder, of whatever version, heals it."""
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        match = _REPLACED.fullmatch(name)
        if not match or not os.path.isdir(os.path.join(folder, name)):
            continue
        version, run_id = match.groups()
        holder = _read_holder(os.path.join(folder, f".{version}{CLAIM_SUFFIX}"))
        if holder and holder.get("run_id") == run_id and not _holder_is_dead(holder):
            continue  # that run is alive, between its two renames
        _restore_set_aside(folder, version, os.path.join(folder, name))


def _staging_folders(folder: str, version: str) -> List[str]:
    """The staging folders of one version in a dataset folder (exact names: version 'a' never matches
    version 'a.staging-x''s folders)."""
    pattern = re.compile(re.escape(f".{version}{STAGING_MARK}") + _RUN_ID)
    return [join(folder, e.base_name) for e in _list_dir(folder) if pattern.fullmatch(e.base_name)]


def claim_version(version_dir: "str | os.PathLike", overwrite: bool) -> Claim:
    """At launch: refuse a reserved name or a symlinked folder, a complete version unless overwrite, and a
    version a live run is writing; heal what dead runs left mid-publish; take over a dead run's claim
    (with a warning) and clear its staging folders. Returns the claim."""
    version_dir = os.fspath(version_dir)
    _refuse_unwritable(version_dir)
    claim = Claim(version_dir, secrets.token_hex(8))
    fs, final = resolve(version_dir)
    local = isinstance(fs, pafs.LocalFileSystem)
    parent = posixpath.dirname(claim.staging_dir) if is_uri(claim.staging_dir) else os.path.dirname(claim.staging_dir)
    with _claims_serialised(claim):
        if local:
            _recover_set_aside_versions(os.path.dirname(final))
        if is_complete(version_dir) and not overwrite:
            raise VersionExists(f"{version_dir} is a complete version (has {MANIFEST_NAME}); pass --overwrite to replace it")
        if not _create_exclusively(claim.claim_path, _holder_record(claim.run_id)):
            holder = _read_holder(claim.claim_path)
            if not _holder_is_dead(holder):
                raise VersionBusy(
                    f"{version_dir} is being written by another run (pid {holder.get('pid')} on "
                    f"{holder.get('host')} since {holder.get('started')}); if that run is dead, delete {claim.claim_path}")
            log.warning("taking over %s from a run that is gone: %s", claim.claim_path, holder)
            write_bytes(claim.claim_path, _holder_record(claim.run_id))
        for staging in _staging_folders(parent, base_name(version_dir)):  # dead runs' files
            if not local and is_complete(staging) and not is_complete(version_dir):
                log.warning("finishing the publish of %s from %s, cut short by a run that is gone", version_dir, staging)
                _copy_into_place(staging, version_dir)
            _delete_tree(staging)
    if local:
        staging = resolve(claim.staging_dir)[1]
        fs.create_dir(staging, recursive=True)
        claim = dataclasses.replace(claim, staging_id=_folder_id(staging))
    return claim


def release(claim: Claim) -> None:
    """Give the claim up (a run that ends without publishing: failed, or --dry_run); its staging goes too,
    and an old version it had set aside goes back under its name."""
    if (_read_holder(claim.claim_path) or {}).get("run_id") != claim.run_id:
        return
    fs, final = resolve(claim.version_dir)
    aside = resolve(claim.replaced_dir)[1]
    if isinstance(fs, pafs.LocalFileSystem) and os.path.isdir(aside):
        _restore_set_aside(os.path.dirname(final), os.path.basename(final), aside)
    _delete_tree(claim.staging_dir)
    _delete_claim(claim)


def _crash_point(step: str) -> None:
    """A named step of publish where tests make the process die (CRASH_AT_ENV), as kill -9 would."""
    if os.environ.get(CRASH_AT_ENV) == step:
        os._exit(137)


def _folder_id(path: str) -> Optional[Tuple[int, int]]:
    try:
        status = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


def _exchange(first: str, second: str) -> bool:
    """Swap two folders' names in one atomic step (Linux renameat2 RENAME_EXCHANGE). False where the
    system or the filesystem cannot; the caller then renames twice."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # a C library older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), first, None, second)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # a filesystem without hard links
        shutil.copy2(source, target, follow_symlinks=False)


def _keep_user_files(old: str, new: str) -> None:
    """The old version's files that are not the version's (a user's notes) go into the new one as hard
    links, unless it has its own file of that name (a corpus version's report). Done before the swap,
    so the old folder may then vanish at any moment without taking them along."""
    for name in os.listdir(old):
        source, target = os.path.join(old, name), os.path.join(new, name)
        if _is_version_file(name) or os.path.lexists(target):
            continue
        if os.path.isdir(source) and not os.path.islink(source):
            shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, target)
    _fsync_dir(new)


def _swap_into_place(claim: Claim) -> None:
    """Local disks: the staging folder takes the version's name and the old version goes. With
    exchange the name never stands empty; without, a crash between the renames leaves the old
    version in replaced_dir for the next claim (or release) to put back."""
    _, final = resolve(claim.version_dir)
    staging, aside = resolve(claim.staging_dir)[1], resolve(claim.replaced_dir)[1]
    parent = os.path.dirname(final)
    if not os.path.lexists(final):
        os.replace(staging, final)
        _fsync_dir(parent)
        _crash_point("swapped")
        _remove_quietly(aside)  # a retried publish whose first attempt set the old version aside
        return
    if os.path.islink(final) or not os.path.isdir(final):
        raise VersionRefused(f"{claim.version_dir} is no longer a folder (a link or a file); not publishing")
    _keep_user_files(final, staging)
    _crash_point("kept")
    if _exchange(staging, final):
        old = staging
    else:
        os.replace(final, aside)
        _fsync_dir(parent)
        _crash_point("set_aside")
        os.replace(staging, final)
        old = aside
    _fsync_dir(parent)
    _crash_point("swapped")
    _remove_quietly(old)
    _crash_point("cleaned")


def _copy_into_place(staging_dir: str, version_dir: str) -> None:
    """Object stores (no rename): delete the old version's files (manifest first), copy the staged ones in
    (manifest last). Cut short, the version reads as incomplete until the next claim finishes the copy."""
    fs, final = resolve(version_dir)
    old = [e for e in _list_dir(version_dir) if e.is_file and _is_version_file(e.base_name)]
    for entry in sorted(old, key=lambda e: e.base_name != MANIFEST_NAME):
        fs.delete_file(entry.path)
    _crash_point("emptied")
    staged = [e for e in _list_dir(staging_dir) if e.is_file]
    for entry in sorted(staged, key=lambda e: e.base_name == MANIFEST_NAME):
        fs.copy_file(entry.path, f"{final}/{entry.base_name}")
    _crash_point("swapped")


def _already_published(claim: Claim) -> bool:
    """A retried publish whose first attempt got this run's folder under the version's name."""
    fs, final = resolve(claim.version_dir)
    if isinstance(fs, pafs.LocalFileSystem) and claim.staging_id is not None:
        return _folder_id(final) == claim.staging_id
    return _info(claim.staging_dir).type == pafs.FileType.NotFound and is_complete(claim.version_dir)


def publish(claim: Claim, manifest: Mapping[str, Any]) -> str:
    """Make the staging folder the version: manifest last into staging, then swap it into place.

    Refused when the claim is no longer this run's (another run took it over as dead). A retried
    publish whose first attempt got as far as the swap only cleans up. Locally the swap is one
    exchange of the two folders, or two renames (see _swap_into_place); an object store has no
    rename, so the staged files are copied over the old ones (_copy_into_place).
    """
    holder = _read_holder(claim.claim_path) or {}
    if holder.get("run_id") != claim.run_id:
        raise VersionBusy(f"{claim.version_dir}: this run's claim was taken over by {holder or 'nobody'}; not publishing")
    fs, _ = resolve(claim.version_dir)
    local = isinstance(fs, pafs.LocalFileSystem)
    if _already_published(claim):
        if local:
            _remove_quietly(resolve(claim.staging_dir)[1])  # the old version, after an exchange
            _remove_quietly(resolve(claim.replaced_dir)[1])
        _delete_claim(claim)
        return claim.version_dir
    if local and claim.staging_id is not None and _folder_id(resolve(claim.staging_dir)[1]) != claim.staging_id:
        raise VersionError(f"{claim.staging_dir}, this run's staging folder, is gone; nothing to publish")
    write_manifest(claim.staging_dir, manifest)
    _crash_point("staged")
    if local:
        _swap_into_place(claim)
    else:
        _copy_into_place(claim.staging_dir, claim.version_dir)
        _delete_tree(claim.staging_dir)
        _crash_point("cleaned")
    _delete_claim(claim)
    return claim.version_dir


def _delete_claim(claim: Claim) -> None:
    fs, fs_path = resolve(claim.claim_path)
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_file(fs_path)


def prepare_version_dir(path: "str | os.PathLike", overwrite: bool) -> Claim:
    """Kept name for claim_version (what a launch does before writing a version)."""
    return claim_version(path, overwrite)


# ---- small versions from Python rows (tests, benchmarks, experiments) ----

def write_pair_version(version_dir: "str | os.PathLike", pairs: Sequence[Mapping[str, Any]], num_shards: int = 1,
                       rows_per_group: Optional[int] = None, dataset: Optional[str] = None,
                       code_version: str = "schemas.versions") -> str:
    """Replace version_dir by a complete version of `pairs`: round-robin shards, then the manifest."""
    version_dir = os.fspath(version_dir)
    claim = claim_version(version_dir, overwrite=True)
    dataset = dataset or (pairs[0]["source"] if pairs else "unknown")
    shards = []
    for index in range(num_shards):
        rows = [dict(r) for r in pairs[index::num_shards]]
        name = shard_name(PAIRS, index, num_shards)
        written = write_rows(join(claim.staging_dir, name), rows, PAIR_SCHEMA,
                             row_group_size=rows_per_group or max(1, len(rows)))
        shards.append({"path": name, "rows": written})
    manifest = build_manifest(
        dataset=dataset, version=base_name(version_dir), code_version=code_version, inputs=[],
        records_read=len(pairs), records_used=len(pairs), records_dropped={}, records_rejected={},
        pairs=len(pairs), shards=shards, reject_shards=[])
    return publish(claim, manifest)
