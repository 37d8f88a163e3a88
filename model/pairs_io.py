"""Write a small pair version dir (PAIR_SCHEMA shards + manifest.json last) from Python rows.

The pipelines write the real ones; this is for tests, benchmarks and experiments of the training
stage that start from texts already in hand (e.g. BEIR titles -> abstracts). The writer itself is
schemas.versions.write_pair_version, so these versions are the same format the pipelines write.
"""

from __future__ import annotations

import os
import pathlib
from typing import Iterable, List, Mapping, Optional, Sequence

from schemas import versions
from schemas.pairs import make_pair


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
    versions.write_pair_version(version_dir, pairs, num_shards=num_shards, rows_per_group=rows_per_group,
                                dataset=dataset, code_version="model.pairs_io")
    return pathlib.Path(version_dir)
