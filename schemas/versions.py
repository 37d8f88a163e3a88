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
import dataclasses
import fnmatch
import functools
import io
import json
import logging
import os
import posixpath
import re
import secrets
import socket
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

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
    for entry in entries:
        if entry.type == pafs.FileType.Directory:
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
    """Names of the complete versions of a source, sorted (timestamp names sort oldest first)."""
    folder = join(output, source)
    return [e.base_name for e in _list_dir(folder)
            if e.type == pafs.FileType.Directory and is_complete(join(folder, e.base_name))]


def latest_version(output: "str | os.PathLike", source: str) -> Optional[str]:
    versions = list_versions(output, source)
    return versions[-1] if versions else None


# ---- LATEST: the version a scheduled run last completed, moved only after the whole run ----

LATEST_NAME = "LATEST"


def write_latest(folder: "str | os.PathLike", version: str) -> str:
    """Point <folder>/LATEST at a complete version (one atomic write of its name); returns the file."""
    if not is_complete(join(folder, version)):
        raise IncompleteVersionError(f"{join(folder, version)} is not a complete version; LATEST not moved")
    path = join(folder, LATEST_NAME)
    write_bytes(path, (version + "\n").encode("utf-8"))
    return path


def read_latest(folder: "str | os.PathLike") -> Optional[str]:
    """The version name <folder>/LATEST holds, or None when there is no LATEST."""
    path = join(folder, LATEST_NAME)
    if _info(path).type != pafs.FileType.File:
        return None
    return read_bytes(path).decode("utf-8").strip() or None


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
# end publishes: the manifest goes into the staging folder, the old version (with --overwrite) is
# set aside and the staging folder is renamed into place. So a failed or killed run never touches
# a complete version, a --dry_run never deletes anything, and a second writer of the same version
# fails at launch with one line instead of mixing its shards with the first one's.

CLAIM_SUFFIX = ".claim"


def _is_version_file(name: str) -> bool:
    """What a writer of versions owns in a version folder (publishing replaces these, keeps the rest)."""
    return (name == MANIFEST_NAME or TMP_MARK in name
            or fnmatch.fnmatch(name, PAIR_SHARD_GLOB) or fnmatch.fnmatch(name, REJECT_SHARD_GLOB))

STAGING_MARK = ".staging-"


class VersionBusy(VersionError):
    """Another run holds the version's claim."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """This run's right to write `version_dir`; files go to `staging_dir` until publish()."""

    version_dir: str
    run_id: str

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


def claim_version(version_dir: "str | os.PathLike", overwrite: bool) -> Claim:
    """At launch: refuse a complete version unless overwrite, and a version a live run is writing;
    take over a dead run's claim (with a warning) and clear its staging folders. Returns the claim."""
    version_dir = os.fspath(version_dir)
    if is_complete(version_dir) and not overwrite:
        raise VersionExists(f"{version_dir} is a complete version (has {MANIFEST_NAME}); pass --overwrite to replace it")
    claim = Claim(version_dir, secrets.token_hex(8))
    with _claims_serialised(claim):
        if not _create_exclusively(claim.claim_path, _holder_record(claim.run_id)):
            holder = _read_holder(claim.claim_path)
            if not _holder_is_dead(holder):
                raise VersionBusy(
                    f"{version_dir} is being written by another run (pid {holder.get('pid')} on "
                    f"{holder.get('host')} since {holder.get('started')}); if that run is dead, delete {claim.claim_path}")
            log.warning("taking over %s from a run that is gone: %s", claim.claim_path, holder)
            write_bytes(claim.claim_path, _holder_record(claim.run_id))
        parent = posixpath.dirname(claim.staging_dir) if is_uri(claim.staging_dir) else os.path.dirname(claim.staging_dir)
        prefix = f".{base_name(version_dir)}{STAGING_MARK}"
        for entry in _list_dir(parent):
            if entry.base_name.startswith(prefix):  # a dead run's files, never published
                _delete_tree(join(parent, entry.base_name))
    fs, fs_path = resolve(claim.staging_dir)
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(fs_path, recursive=True)
    return claim


def release(claim: Claim) -> None:
    """Give the claim up (a run that ends without publishing: failed, or --dry_run); its staging goes too."""
    if (_read_holder(claim.claim_path) or {}).get("run_id") == claim.run_id:
        _delete_tree(claim.staging_dir)
        _delete_claim(claim)


def publish(claim: Claim, manifest: Mapping[str, Any]) -> str:
    """Make the staging folder the version: manifest last into staging, then swap it into place.

    Refused when the claim is no longer this run's (another run took it over as dead). Locally
    the swap is two renames; an object store has no rename, so the old version's files are
    deleted (manifest first) and the staged ones copied in (manifest last).
    """
    holder = _read_holder(claim.claim_path) or {}
    if holder.get("run_id") != claim.run_id:
        raise VersionBusy(f"{claim.version_dir}: this run's claim was taken over by {holder or 'nobody'}; not publishing")
    if _info(claim.staging_dir).type == pafs.FileType.NotFound and is_complete(claim.version_dir):
        _delete_claim(claim)  # a retried publish whose first attempt got as far as the swap
        return claim.version_dir
    write_manifest(claim.staging_dir, manifest)
    fs, final = resolve(claim.version_dir)
    _, staging = resolve(claim.staging_dir)
    if isinstance(fs, pafs.LocalFileSystem):
        trash = f"{staging}.replaced"
        if os.path.exists(final):
            os.replace(final, trash)
        os.replace(staging, final)
        _fsync_dir(os.path.dirname(final))
        if os.path.exists(trash):
            for name in os.listdir(trash):  # files that are not the version's (a user's notes) stay,
                # unless the new version has its own file of that name (a corpus version's report)
                if not _is_version_file(name) and not os.path.lexists(os.path.join(final, name)):
                    os.replace(os.path.join(trash, name), os.path.join(final, name))
            fs.delete_dir(trash)
    else:
        old = [e for e in _list_dir(claim.version_dir) if e.is_file and _is_version_file(e.base_name)]
        for entry in sorted(old, key=lambda e: e.base_name != MANIFEST_NAME):
            fs.delete_file(entry.path)
        staged = [e for e in _list_dir(claim.staging_dir) if e.is_file]
        for entry in sorted(staged, key=lambda e: e.base_name == MANIFEST_NAME):
            fs.copy_file(entry.path, f"{final}/{entry.base_name}")
        _delete_tree(claim.staging_dir)
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
