"""Exact nearest-neighbour search by inner product (cosine on unit vectors), chunked over queries."""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch


def exact_search(queries: np.ndarray, corpus: np.ndarray, top_k: int, chunk: int = 1024,
                 device: str | torch.device = "cpu") -> Tuple[np.ndarray, np.ndarray]:
    """(scores, indices), each (n_queries, k) best first; memory is one chunk x corpus of scores."""
    k = min(top_k, corpus.shape[0])
    docs = torch.from_numpy(np.ascontiguousarray(corpus, dtype=np.float32)).to(device)
    all_scores, all_idx = [], []
    for start in range(0, queries.shape[0], chunk):
        q = torch.from_numpy(np.ascontiguousarray(queries[start:start + chunk], dtype=np.float32)).to(device)
        scores, idx = torch.topk(q @ docs.T, k, dim=1)
        all_scores.append(scores.cpu().numpy())
        all_idx.append(idx.cpu().numpy())
    if not all_scores:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return np.concatenate(all_scores), np.concatenate(all_idx)


def recall_at_1_paired(queries: np.ndarray, passages: np.ndarray) -> float:
    """Row i's positive is passage i: share of queries whose best passage is their own."""
    _, idx = exact_search(queries, passages, 1)
    return float((idx[:, 0] == np.arange(len(queries))).mean())
