"""Exact inner-product search over a fixed pool of vectors, behind one small interface.

The consistency filter needs, for every pair's query, the few best pool scores. Three backends
compute them, because the machines differ: FAISS (CPU, or GPU where a GPU build of faiss is
installed), torch (the GPU path on machines that have torch but no faiss-gpu), and plain numpy
(the reference the other two are tested against). All are exact (brute force); only the storage
precision may be reduced ("fp16"/"bf16"), which halves memory for a large pool.

Every backend embeds nothing: it takes float32 vectors (L2-normalised, so the inner product is the
cosine) and answers `search(queries, k)` with the k best scores, best first. Queries are searched
in chunks so the score matrix held at once stays bounded whatever the number of queries.
"""

import abc
import functools
import importlib
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

BACKENDS = ("faiss-gpu", "faiss-cpu", "torch-cuda", "torch-cpu", "numpy")
PRECISIONS = ("fp32", "fp16", "bf16")

# Largest k faiss' GPU k-selection supports; deeper searches must use another backend.
FAISS_GPU_MAX_K = 2048

# Two scores closer than this count as equal: the pair score and the pool scores come from
# different kernels (a dot product and a GEMM) whose float32 rounding differs by a few ulps.
# Every backend emits float32 scores, also over fp16/bf16 storage, so one tolerance fits all.
SCORE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class SearchResult:
    """k best pool entries per query, best first. Where the pool holds fewer than k entries the
    tail is padded with score -inf and id -1."""

    scores: np.ndarray  # (n_queries, k) float32
    ids: np.ndarray  # (n_queries, k) int64, row numbers into the pool


def _optional_import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _faiss_has_gpu(faiss) -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def available_backends() -> Tuple[str, ...]:
    """Backends usable on this machine, in order of preference."""
    faiss = _optional_import("faiss")
    torch = _optional_import("torch")
    found = []
    if faiss is not None and _faiss_has_gpu(faiss):
        found.append("faiss-gpu")
    if torch is not None and torch.cuda.is_available():
        found.append("torch-cuda")
    if faiss is not None:
        found.append("faiss-cpu")
    if torch is not None:
        found.append("torch-cpu")
    found.append("numpy")
    return tuple(found)


def select_backend() -> str:
    """faiss-gpu if present and a GPU exists, else torch on CUDA, else faiss on CPU, else numpy."""
    return available_backends()[0]


def as_matrix(vectors: np.ndarray) -> np.ndarray:
    """C-contiguous float32 2-D copy-if-needed, the form every backend takes."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {matrix.shape}")
    return matrix


def round_to_precision(x: np.ndarray, precision: str) -> np.ndarray:
    """float32 values as they read back after storage in `precision` (round to nearest even)."""
    if precision == "fp32":
        return x
    if precision == "fp16":
        return x.astype(np.float16).astype(np.float32)
    if precision == "bf16":
        bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
        rounded = (bits + (((bits >> 16) & 1) + 0x7FFF)) & np.uint32(0xFFFF0000)
        return rounded.astype(np.uint32).view(np.float32)
    raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")


def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> SearchResult:
    """Pad to k columns; padded and missing (-1) entries get score -inf."""
    scores = np.asarray(scores, dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    missing = k - scores.shape[1]
    if missing > 0:
        n = scores.shape[0]
        scores = np.concatenate([scores, np.full((n, missing), -np.inf, np.float32)], axis=1)
        ids = np.concatenate([ids, np.full((n, missing), -1, np.int64)], axis=1)
    scores = np.where(ids < 0, np.float32(-np.inf), scores)
    return SearchResult(scores=scores, ids=ids)


class InnerProductIndex(abc.ABC):
    """A pool of vectors searched by inner product. Subclasses implement one query chunk."""

    backend: str = ""
    max_k: Optional[int] = None
    # Whether queries are cast to the storage precision before scoring (torch casts, faiss doesn't).
    rounds_queries: bool = False

    def __init__(self, vectors: np.ndarray, *, precision: str = "fp32", query_chunk: int = 4096):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
        matrix = as_matrix(vectors)
        self.precision = precision
        self.query_chunk = int(query_chunk)
        self.ntotal, self.dim = matrix.shape
        self._build(matrix)

    @property
    def name(self) -> str:
        return f"{self.backend}-{self.precision}"

    @property
    def score_tolerance(self) -> float:
        """Scores closer than this are ties (see SCORE_TOLERANCE)."""
        return SCORE_TOLERANCE

    @abc.abstractmethod
    def _build(self, matrix: np.ndarray) -> None:
        """Hold the pool in the backend's form."""

    @abc.abstractmethod
    def _search_chunk(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of at most k best entries per query, best first."""

    def search(self, queries: np.ndarray, k: int) -> SearchResult:
        """k best pool entries for every query, searched query_chunk queries at a time."""
        queries = as_matrix(queries)
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dim {queries.shape[1]}, pool has dim {self.dim}")
        if k < 1:
            raise ValueError("k must be at least 1")
        if self.max_k is not None and min(k, self.ntotal) > self.max_k:
            raise ValueError(f"{self.name} searches at most {self.max_k} deep, asked for {k}")
        depth = min(k, self.ntotal)
        all_scores = np.empty((len(queries), k), np.float32)
        all_ids = np.empty((len(queries), k), np.int64)
        for start in range(0, len(queries), self.query_chunk):
            stop = min(start + self.query_chunk, len(queries))
            if depth:
                scores, ids = self._search_chunk(queries[start:stop], depth)
            else:
                scores = np.empty((stop - start, 0), np.float32)
                ids = np.empty((stop - start, 0), np.int64)
            padded = _pad(scores, ids, k)
            all_scores[start:stop] = padded.scores
            all_ids[start:stop] = padded.ids
        return SearchResult(scores=all_scores, ids=all_ids)

    def pair_scores(self, queries: np.ndarray, passages: np.ndarray) -> np.ndarray:
        """q_i . p_i for each row, with p_i rounded as the pool stores it, so a pair's own score
        is comparable to the pool scores this index returns."""
        queries = as_matrix(queries)
        if self.rounds_queries:
            queries = round_to_precision(queries, self.precision)
        passages = round_to_precision(as_matrix(passages), self.precision)
        if queries.shape != passages.shape:
            raise ValueError(f"queries {queries.shape} and passages {passages.shape} differ")
        return np.einsum("ij,ij->i", queries, passages, dtype=np.float32)


class NumpyIndex(InnerProductIndex):
    """Brute force in numpy: the reference. Pool chunks bound the score matrix."""

    backend = "numpy"

    def __init__(self, vectors, *, precision="fp32", query_chunk=1024, chunk_bytes=256 << 20):
        self.chunk_bytes = int(chunk_bytes)
        super().__init__(vectors, precision=precision, query_chunk=query_chunk)

    def _build(self, matrix):
        self._pool = round_to_precision(matrix, self.precision)

    def _search_chunk(self, queries, k):
        pool_chunk = max(k, self.chunk_bytes // (4 * max(1, len(queries))))
        best_scores = np.empty((len(queries), 0), np.float32)
        best_ids = np.empty((len(queries), 0), np.int64)
        for start in range(0, self.ntotal, pool_chunk):
            scores = queries @ self._pool[start : start + pool_chunk].T
            ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
            best_scores = np.concatenate([best_scores, scores], axis=1)
            best_ids = np.concatenate([best_ids, ids], axis=1)
            if best_scores.shape[1] > k:
                keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
                best_scores = np.take_along_axis(best_scores, keep, axis=1)
                best_ids = np.take_along_axis(best_ids, keep, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        return np.take_along_axis(best_scores, order, 1), np.take_along_axis(best_ids, order, 1)


class TorchIndex(InnerProductIndex):
    """Chunked matmul + topk in torch, on CUDA when available: the GPU path without faiss-gpu.

    fp16/bf16 store the pool (and cast the queries) at half the memory, but scores are always
    float32: on CUDA the matmul writes them directly (torch.mm(..., out_dtype=float32)) where this
    torch supports it, elsewhere each pool chunk is upcast before the matmul. Reduced-precision
    scores would make near-ties exact ties (bf16 resolves 2^-8) and so change which pairs are kept.
    """

    rounds_queries = True

    def __init__(
        self,
        vectors,
        *,
        precision="fp32",
        query_chunk=4096,
        chunk_bytes=1 << 30,
        device: Optional[str] = None,
    ):
        import torch

        self._torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.backend = f"torch-{self.device.type}"
        self.chunk_bytes = int(chunk_bytes)
        super().__init__(vectors, precision=precision, query_chunk=query_chunk)

    def _build(self, matrix):
        torch = self._torch
        self._dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            self.precision
        ]
        self._pool = torch.from_numpy(matrix).to(self.device, self._dtype)
        self._fp32_out = False
        if self._dtype != torch.float32 and self.device.type == "cuda":
            probe = self._pool[:1]
            try:
                torch.mm(probe, probe.T, out_dtype=torch.float32)
                self._fp32_out = True
            except (RuntimeError, TypeError, NotImplementedError):
                pass

    def _scores(self, queries, pool_rows):
        """float32 scores of stored-precision queries against stored-precision pool rows."""
        torch = self._torch
        if self._dtype == torch.float32:
            return torch.mm(queries, pool_rows.T)
        if self._fp32_out:
            return torch.mm(queries, pool_rows.T, out_dtype=torch.float32)
        return torch.mm(queries.float(), pool_rows.float().T)

    def _search_chunk(self, queries, k):
        torch = self._torch
        pool_chunk = max(k, self.chunk_bytes // (4 * max(1, len(queries))))
        with torch.inference_mode():
            q = torch.from_numpy(queries).to(self.device, self._dtype)
            best_scores = best_ids = None
            for start in range(0, self.ntotal, pool_chunk):
                scores = self._scores(q, self._pool[start : start + pool_chunk])
                top_scores, top_ids = torch.topk(scores, min(k, scores.shape[1]), dim=1)
                top_ids += start
                if best_scores is not None:
                    top_scores = torch.cat([best_scores, top_scores], dim=1)
                    top_ids = torch.cat([best_ids, top_ids], dim=1)
                    top_scores, pick = torch.topk(top_scores, min(k, top_scores.shape[1]), dim=1)
                    top_ids = torch.gather(top_ids, 1, pick)
                best_scores, best_ids = top_scores, top_ids
            return best_scores.cpu().numpy(), best_ids.cpu().numpy()


class FaissIndex(InnerProductIndex):
    """faiss brute force: IndexFlatIP (fp32) or IndexScalarQuantizer QT_fp16/QT_bf16 on CPU;
    GpuIndexFlatIP (useFloat16 for fp16) where faiss has GPU support and a GPU exists."""

    def __init__(
        self,
        vectors,
        *,
        precision="fp32",
        query_chunk=16384,
        use_gpu: Optional[bool] = None,
        gpu_id: int = 0,
    ):
        import faiss

        self._faiss = faiss
        self.use_gpu = _faiss_has_gpu(faiss) if use_gpu is None else bool(use_gpu)
        self.gpu_id = gpu_id
        self.backend = "faiss-gpu" if self.use_gpu else "faiss-cpu"
        self.max_k = FAISS_GPU_MAX_K if self.use_gpu else None
        # GpuIndexFlat with useFloat16 converts the queries to fp16 as well; whether the CPU SQ
        # does depends on faiss's version and kernel (1.15 rounds bf16 queries when the dimension
        # takes its SIMD path, a multiple of 16): _build asks it.
        self.rounds_queries = self.use_gpu
        super().__init__(vectors, precision=precision, query_chunk=query_chunk)

    def _build(self, matrix):
        faiss = self._faiss
        if self.use_gpu:
            if self.precision == "bf16":
                raise ValueError("faiss-gpu flat index stores fp32 or fp16, not bf16")
            self._resources = faiss.StandardGpuResources()
            config = faiss.GpuIndexFlatConfig()
            config.device = self.gpu_id
            config.useFloat16 = self.precision == "fp16"
            self._index = faiss.GpuIndexFlatIP(self._resources, self.dim, config)
        elif self.precision == "fp32":
            self._index = faiss.IndexFlatIP(self.dim)
        else:
            qtype = {"fp16": faiss.ScalarQuantizer.QT_fp16, "bf16": faiss.ScalarQuantizer.QT_bf16}
            self._index = faiss.IndexScalarQuantizer(
                self.dim, qtype[self.precision], faiss.METRIC_INNER_PRODUCT
            )
            self.rounds_queries = _sq_rounds_queries(faiss, self.precision, self.dim)
        self._index.add(matrix)

    def _search_chunk(self, queries, k):
        return self._index.search(queries, k)


@functools.lru_cache(maxsize=None)
def _sq_rounds_queries(faiss, precision: str, dim: int) -> bool:
    """Does faiss's CPU scalar-quantizer index of this dimension round queries to `precision` too?
    One tiny search says."""
    qtype = {"fp16": faiss.ScalarQuantizer.QT_fp16, "bf16": faiss.ScalarQuantizer.QT_bf16}[precision]
    index = faiss.IndexScalarQuantizer(dim, qtype, faiss.METRIC_INNER_PRODUCT)
    unit = np.zeros((1, dim), np.float32)
    unit[0, 0] = 1.0
    index.add(unit)
    query = unit.copy()
    query[0, 0] += 2.0 ** -12  # not representable in fp16 or bf16
    scores, _ = index.search(query, 1)
    return bool(scores[0, 0] == round_to_precision(query, precision)[0, 0])


def build_index(
    vectors: np.ndarray,
    *,
    backend: str = "auto",
    precision: str = "fp32",
    query_chunk: Optional[int] = None,
    device: Optional[str] = None,
) -> InnerProductIndex:
    """Build the pool index once. backend: "auto" (select_backend()) or one of BACKENDS."""
    if backend == "auto":
        backend = select_backend()
    chunk = {} if query_chunk is None else {"query_chunk": query_chunk}
    if backend == "numpy":
        return NumpyIndex(vectors, precision=precision, **chunk)
    if backend in ("torch-cuda", "torch-cpu"):
        return TorchIndex(
            vectors, precision=precision, device=device or backend.split("-")[1], **chunk
        )
    if backend in ("faiss-gpu", "faiss-cpu"):
        return FaissIndex(vectors, precision=precision, use_gpu=backend == "faiss-gpu", **chunk)
    raise ValueError(f"unknown backend {backend!r}; expected 'auto' or one of {BACKENDS}")
