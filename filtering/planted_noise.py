"""Does the consistency filter remove pairs known to be wrong? Plant some and measure.

Take pairs, swap the passage of a deterministic `fraction` of them for another pair's passage
(never its own, nor one with the same normalised text), run the filter against a pool, and report
the fraction of planted pairs removed and of clean pairs kept. Model-agnostic: `embed` is any
function `embed(texts, kind="query"|"passage") -> float32 (n, dim) L2-normalised`, e.g.
`functools.partial(model.embed.embed_texts, encoder, batch_size=256, device="cuda")`.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple

import numpy as np

from filtering.consistency import E5_TOP_K, ConsistencyPool, ConsistencyResult, consistency_filter
from filtering.text_hash import text_hashes

EmbedFn = Callable[..., np.ndarray]

# Redraws for a donor whose passage text equals the pair's own before giving up on that pair.
MAX_DONOR_REDRAWS = 32


def plant_mismatches(
    passage_hashes: np.ndarray, fraction: float = 0.2, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """(donor, planted): pair i is presented with passage donor[i]; planted[i] marks a swap.

    round(fraction * n) pairs are chosen by `seed`; each gets the passage of another pair whose
    text hash differs from its own. A pair whose every redraw hit the same text stays clean.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be in [0, 1]")
    hashes = np.asarray(passage_hashes, dtype=np.uint64)
    n = len(hashes)
    donor = np.arange(n, dtype=np.int64)
    planted = np.zeros(n, dtype=bool)
    n_planted = int(round(fraction * n))
    if n < 2 or n_planted == 0:
        return donor, planted
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=n_planted, replace=False))
    pending = chosen
    for _ in range(MAX_DONOR_REDRAWS):
        if len(pending) == 0:
            break
        candidates = (pending + rng.integers(1, n, size=len(pending))) % n  # never i itself
        different = hashes[candidates] != hashes[pending]
        donor[pending[different]] = candidates[different]
        planted[pending[different]] = True
        pending = pending[~different]
    return donor, planted


@dataclass(frozen=True)
class PlantedNoiseReport:
    n_pairs: int
    n_planted: int
    pool_size: int
    k: int
    planted_removed: float  # fraction of planted (mismatched) pairs the filter drops
    clean_kept: float  # fraction of untouched pairs the filter keeps
    planted: np.ndarray  # bool per pair
    result: ConsistencyResult

    def summary(self) -> Dict[str, float]:
        return {
            "n_pairs": self.n_pairs,
            "n_planted": self.n_planted,
            "pool_size": self.pool_size,
            "k": self.k,
            "planted_removed": self.planted_removed,
            "clean_kept": self.clean_kept,
        }


def run_planted_noise(
    queries: Sequence[str],
    passages: Sequence[str],
    pool_texts: Sequence[str],
    embed: EmbedFn,
    *,
    fraction: float = 0.2,
    seed: int = 0,
    k: int = E5_TOP_K,
    backend: str = "auto",
    precision: str = "fp32",
) -> PlantedNoiseReport:
    """Plant mismatches into (queries, passages), filter them against pool_texts, score it."""
    if len(queries) != len(passages):
        raise ValueError("queries and passages differ in length")
    passage_hashes = text_hashes(passages)
    donor, planted = plant_mismatches(passage_hashes, fraction=fraction, seed=seed)

    query_vectors = embed(list(queries), kind="query")
    passage_vectors = embed(list(passages), kind="passage")  # each passage embedded once
    pool = ConsistencyPool.build(
        embed(list(pool_texts), kind="passage"),
        text_hashes(pool_texts),
        backend=backend,
        precision=precision,
    )
    result = consistency_filter(
        query_vectors, passage_vectors[donor], passage_hashes[donor], pool, k=k
    )
    return PlantedNoiseReport(
        n_pairs=len(queries),
        n_planted=int(planted.sum()),
        pool_size=len(pool),
        k=k,
        planted_removed=_mean_or_nan(~result.keep[planted]),
        clean_kept=_mean_or_nan(result.keep[~planted]),
        planted=planted,
        result=result,
    )


def _mean_or_nan(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")
