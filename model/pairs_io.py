"""Write a small pair version dir (PAIR_SCHEMA shards + manifest.json last) from Python rows.

The pipelines write the real ones; this is for tests, benchmarks and experiments of the training
stage that start from texts already in hand (e.g. BEIR titles -> abstracts).
"""

from __future__ import annotations

import os
import pathlib
from typing import Iterable, List, Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.manifest import MANIFEST_NAME, build_manifest, dumps
from schemas.pairs import PAIR_SCHEMA, make_pair


def pairs_from_texts(source: str, items: Iterable[Sequence[str]], subsource: str = "") -> List[dict]:
    """(query, passage, query_id, passage_id) tuples -> pair dicts (pair_id from the content)."""
    return [make_pair(source=source, subsource=subsource, query=q, passage=p, query_id=qi, passage_id=pi)
            for q, p, qi, pi in items]


def write_pair_version(
    version_dir: os.PathLike | str,
    pairs: Sequence[Mapping],
    num_shards: int = 1,
    rows_per_group: Optional[int] = None,
    dataset: Optional[str] = None,
) -> pathlib.Path:
    """Shards named pairs-SSSSS-of-NNNNN.parquet, then manifest.json; returns the version dir."""
    version_dir = pathlib.Path(version_dir)
    version_dir.mkdir(parents=True, exist_ok=True)
    dataset = dataset or (pairs[0]["source"] if pairs else "unknown")
    shards = []
    for s in range(num_shards):
        rows = [dict(r) for r in pairs[s::num_shards]]
        name = f"pairs-{s:05d}-of-{num_shards:05d}.parquet"
        table = pa.Table.from_pylist(rows, schema=PAIR_SCHEMA)
        pq.write_table(table, version_dir / name, row_group_size=rows_per_group or max(1, len(rows)))
        shards.append({"path": name, "rows": len(rows)})
    manifest = build_manifest(
        dataset=dataset, version=version_dir.name, code_version="model.pairs_io",
        inputs=[], records_read=len(pairs), records_used=len(pairs), records_dropped={},
        records_rejected={}, pairs=len(pairs), shards=shards, reject_shards=[])
    (version_dir / MANIFEST_NAME).write_text(dumps(manifest))
    return version_dir
