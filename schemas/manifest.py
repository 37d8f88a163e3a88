"""manifest.json: what a version directory holds, written last so its presence marks completion.

{
  "dataset": "reddit", "version": "20261122T113000Z", "schema_version": "2.0.0",
  "code_version": "<git sha or package version>", "created_at": "2026-11-22T11:30:00Z",
  "inputs": [{"path": ..., "bytes": ...}],
  "counts": {"records_read": n, "records_used": n,
             "records_dropped": {reason: n}, "records_rejected": {reason: n}, "pairs": n},
  "shards": [{"path": "pairs-00000-of-00001.parquet", "rows": n}],
  "reject_shards": [{"path": ..., "rows": n}],
  "options": {...}            # the source's settings, so a version can be reproduced
}

Invariant: records_read == records_used + sum(records_dropped) + sum(records_rejected).
"""

import datetime as _dt
import json
import os
import subprocess
from typing import Any, Dict, List, Mapping, Optional

from schemas.pairs import SCHEMA_VERSION
from schemas.reasons import DROP_REASONS, REJECT_REASONS

MANIFEST_NAME = "manifest.json"


class ManifestError(ValueError):
    pass


def build_manifest(
    *,
    dataset: str,
    version: str,
    code_version: str,
    inputs: List[Mapping[str, Any]],
    records_read: int,
    records_used: int,
    records_dropped: Mapping[str, int],
    records_rejected: Mapping[str, int],
    pairs: int,
    shards: List[Mapping[str, Any]],
    reject_shards: List[Mapping[str, Any]],
    options: Optional[Mapping[str, Any]] = None,
    extra: Optional[Mapping[str, Any]] = None,
    created_at: Optional[_dt.datetime] = None,
) -> Dict[str, Any]:
    created = created_at or _dt.datetime.now(_dt.timezone.utc)
    manifest = {
        "dataset": dataset,
        "version": version,
        "schema_version": SCHEMA_VERSION,
        "code_version": code_version,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": [dict(i) for i in inputs],
        "counts": {
            "records_read": int(records_read),
            "records_used": int(records_used),
            "records_dropped": {k: int(v) for k, v in sorted(records_dropped.items()) if v},
            "records_rejected": {k: int(v) for k, v in sorted(records_rejected.items()) if v},
            "pairs": int(pairs),
        },
        "shards": [dict(s) for s in shards],
        "reject_shards": [dict(s) for s in reject_shards],
        "options": dict(options or {}),
    }
    if extra:
        manifest.update(extra)
    check_manifest(manifest)
    return manifest


def check_manifest(manifest: Mapping[str, Any]) -> None:
    """Raise ManifestError when the accounting does not add up or a reason is unknown."""
    counts = manifest["counts"]
    unknown = set(counts["records_dropped"]) - DROP_REASONS
    unknown |= set(counts["records_rejected"]) - REJECT_REASONS
    if unknown:
        raise ManifestError(f"unknown reasons in manifest: {sorted(unknown)}")
    accounted = (
        counts["records_used"]
        + sum(counts["records_dropped"].values())
        + sum(counts["records_rejected"].values())
    )
    if accounted != counts["records_read"]:
        raise ManifestError(
            f"records_read={counts['records_read']} but used+dropped+rejected={accounted}"
        )
    shard_rows = sum(s["rows"] for s in manifest["shards"])
    if shard_rows != counts["pairs"]:
        raise ManifestError(f"pairs={counts['pairs']} but shards hold {shard_rows} rows")


def schema_major(schema_version: Any) -> Optional[int]:
    """The major part of a "major.minor.patch" schema_version, or None when it is not one."""
    head = str(schema_version or "").split(".", 1)[0]
    return int(head) if head.isascii() and head.isdigit() else None


def check_schema_version(manifest: Mapping[str, Any], where: str) -> None:
    """Refuse a version written under another major schema_version: its pairs mean something else
    (2.0.0 changed how pair_id is made), so merging them with ours would break dedup by pair_id."""
    theirs = manifest.get("schema_version")
    if schema_major(theirs) != schema_major(SCHEMA_VERSION):
        raise ManifestError(f"{where} has schema_version {theirs!r}, and this code writes {SCHEMA_VERSION} "
                            f"(major {schema_major(SCHEMA_VERSION)}): re-extract it with this code")


def dumps(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


def code_version() -> str:
    """The git commit of the code that ran (``-dirty`` if modified), else the package version."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        sha = subprocess.run(["git", "-C", here, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if sha:
            return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return "ccpairs-" + version("ccpairs")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "unknown"
