"""E5's consistency-based filter, given embeddings: keep a pair iff its passage ranks in the top k.

E5 (arXiv 2212.03533, section 3.1): train a model on the noisy pairs, embed a random pool of
passages, and keep (q, p) iff p ranks in the top k = 2 for q among pool ∪ {p}.

Here, for pair i with query vector q_i and passage vector p_i:

  s_i      = q_i · p_i (at the pool's storage precision: InnerProductIndex.pair_scores)
  pool_i   = the pool minus every entry whose text hash equals the pair's passage hash: the pair's
             own passage, or an exact duplicate of it (same normalised text, text_hash.py), must
             not compete with itself.
  rank_i   = 1 + #{pool_i scores strictly greater than s_i}
  keep_i   = rank_i <= k, i.e. s_i >= the k-th best pool_i score.

Ties count in the pair's favour: a pool passage scoring exactly s_i does not push p_i down.
"Exactly" is up to the index's score_tolerance (1e-5 for fp32 scores), because s_i and the pool
scores come from different kernels whose float32 rounding differs by a few ulps.

Duplicates: excluding up to d_i pool entries needs the top (k + d_i) pool neighbours, d_i being
how many pool entries share the pair's passage hash. Pairs are grouped by d_i and each group is
searched exactly as deep as it needs, so exclusion is correct however often a hash repeats. The
pool is meant to be deduplicated by normalised text (pool.py does; ConsistencyPool does by
default), which makes d_i <= 1 and every search k + 1 deep.

No model is loaded here: callers embed (model.embed) and pass vectors and hashes.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from filtering.index import InnerProductIndex, as_matrix, build_index

E5_TOP_K = 2


@dataclass(frozen=True)
class ConsistencyResult:
    """Per pair, in input order."""

    rank: np.ndarray  # int64; exact up to rank_depth, rank_depth + 1 means "worse than rank_depth"
    pair_score: np.ndarray  # float32, s_i
    kth_pool_score: np.ndarray  # float32, k-th best pool score after exclusion (-inf: pool < k)
    keep: np.ndarray  # bool, rank <= k
    k: int


def dedup_by_hash(vectors: np.ndarray, hashes: np.ndarray):
    """(vectors, hashes) keeping the first row of each hash, in original order."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    _, first = np.unique(hashes, return_index=True)
    first.sort()
    return as_matrix(vectors)[first], hashes[first]


class ConsistencyPool:
    """The embedded random pool: a search index plus each entry's normalised-text hash."""

    def __init__(self, index: InnerProductIndex, hashes: np.ndarray):
        hashes = np.asarray(hashes, dtype=np.uint64)
        if len(hashes) != index.ntotal:
            raise ValueError(f"{len(hashes)} hashes for a pool of {index.ntotal} vectors")
        self.index = index
        self.hashes = hashes
        self._unique, self._counts = np.unique(hashes, return_counts=True)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        hashes: np.ndarray,
        *,
        dedup: bool = True,
        backend: str = "auto",
        precision: str = "fp32",
        query_chunk: Optional[int] = None,
    ) -> "ConsistencyPool":
        """Index the pool once; dedup=True keeps one entry per hash (so searches stay k+1 deep)."""
        if dedup:
            vectors, hashes = dedup_by_hash(vectors, hashes)
        index = build_index(vectors, backend=backend, precision=precision, query_chunk=query_chunk)
        return cls(index, hashes)

    def __len__(self) -> int:
        return self.index.ntotal

    def duplicate_counts(self, hashes: np.ndarray) -> np.ndarray:
        """How many pool entries share each given hash (0 when none)."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        if len(self._unique) == 0:
            return np.zeros(len(hashes), np.int64)
        at = np.searchsorted(self._unique, hashes).clip(max=len(self._unique) - 1)
        return np.where(self._unique[at] == hashes, self._counts[at], 0).astype(np.int64)


def consistency_filter(
    query_vectors: np.ndarray,
    passage_vectors: np.ndarray,
    passage_hashes: np.ndarray,
    pool: ConsistencyPool,
    *,
    k: int = E5_TOP_K,
    rank_depth: Optional[int] = None,
    tolerance: Optional[float] = None,
) -> ConsistencyResult:
    """Rank every pair's passage against the pool (see the module docstring).

    rank_depth (default k): ranks are exact up to it; deeper searches only cost more.
    tolerance (default pool.index.score_tolerance): scores within it count as ties.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    queries = as_matrix(query_vectors)
    passages = as_matrix(passage_vectors)
    passage_hashes = np.asarray(passage_hashes, dtype=np.uint64)
    if not (len(queries) == len(passages) == len(passage_hashes)):
        raise ValueError("query_vectors, passage_vectors and passage_hashes differ in length")
    depth = max(k, rank_depth or k)
    tol = pool.index.score_tolerance if tolerance is None else float(tolerance)

    pair_score = pool.index.pair_scores(queries, passages)
    rank = np.empty(len(queries), np.int64)
    kth = np.empty(len(queries), np.float32)
    duplicates = pool.duplicate_counts(passage_hashes)
    for extra in np.unique(duplicates):
        rows = np.flatnonzero(duplicates == extra)
        found = pool.index.search(queries[rows], depth + int(extra))
        remaining = _exclude(found.scores, found.ids, pool.hashes, passage_hashes[rows])[:, :depth]
        beaten_by = (remaining > (pair_score[rows] + tol)[:, None]).sum(axis=1)
        rank[rows] = 1 + beaten_by
        kth[rows] = remaining[:, k - 1]
    return ConsistencyResult(
        rank=rank, pair_score=pair_score, kth_pool_score=kth, keep=rank <= k, k=k
    )


def _exclude(scores, ids, pool_hashes, pair_hashes) -> np.ndarray:
    """Scores with the pair's own passage (and its duplicates) set to -inf, re-sorted best first.

    Which of several tied neighbours a backend returned does not matter: after exclusion the
    best-first scores of any top-(k + d) set equal the best k scores of the reduced pool.
    """
    valid = ids >= 0
    neighbour_hashes = pool_hashes[np.where(valid, ids, 0)]
    excluded = valid & (neighbour_hashes == pair_hashes[:, None])
    kept = np.where(excluded, np.float32(-np.inf), scores)
    return -np.sort(-kept, axis=1)
