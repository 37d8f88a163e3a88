"""Vectors whose inner products are exact in every backend and precision, to test ties."""

import numpy as np


def exact_vectors(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    """Vectors whose every inner product is exact in fp32, fp16 and bf16 storage and in any
    summation order: entries are quarter-integers in [-0.75, 0.75], so products are multiples of
    1/16 and sums stay far inside every format's exact-integer range. Few distinct values: ties
    are everywhere."""
    return (rng.integers(-3, 4, size=(n, dim)) * 0.25).astype(np.float32)
