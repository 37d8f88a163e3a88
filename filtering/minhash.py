"""MinHash LSH over word 5-gram shingles: which passages may be near-duplicates of each other.

Why these pieces:
- Shingles are word 5-grams of the passage's words (sources/text/ngrams.py): edits of a few words
  change few shingles, while two unrelated texts share almost none.
- The MinHash signature comes from datasketch (its permutations, seeded, and its 32-bit affine
  scheme): a maintained implementation whose collision probability per row is the Jaccard
  similarity, so we do not hand-roll the hashing.
- LSH: the signature is cut into `bands` bands of `rows` values; two passages are candidates
  when one whole band is equal, with probability P(s) = 1 - (1 - s**rows)**bands at Jaccard s.
  Each band becomes one bucket key, which is all the Beam job needs (pipelines/ccpairs.py).
- Bands and rows are chosen for a stated threshold t (default 0.8) by minimising the weighted
  area of wrong decisions, as datasketch's MinHashLSH does: false positives below t weigh 0.2,
  false negatives above t weigh 0.8. Recall is weighted up because no pair is verified after
  the bucket step (verifying would send a bucket's members to one place, which hot buckets
  forbid), so the curve must itself be steep and sit a little left of t. With 256 permutations
  and t = 0.8 this gives 21 bands x 12 rows: P(0.5) = 0.5%, P(0.7) = 25%, P(0.8) = 78%,
  P(0.85) = 96%, P(0.9) = 99.9%.
"""

import dataclasses
import functools
import hashlib
import itertools
import struct
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
from datasketch import MinHash

from sources.text.ngrams import word_ngrams, words

SHINGLE_WORDS = 5
NUM_PERM = 256
THRESHOLD = 0.8
FALSE_NEGATIVE_WEIGHT = 0.8
BAND_KEY_BYTES = 10  # 2 bytes of band index + 8 bytes of digest
SEED = 1  # datasketch's permutation seed: changing it changes every signature (and every result)
SCHEME = "affine32"  # datasketch >= 2.0's default scheme, named so an upgrade cannot switch it silently


def shingles(text: str, n: int = SHINGLE_WORDS) -> FrozenSet[str]:
    """The set of word n-grams; a text under n words is one shingle of all its words (or of the
    normalised text when it has no word characters), so short texts still compare by equality."""
    tokens = words(text)
    grams = word_ngrams(tokens, n)
    if grams:
        return frozenset(grams)
    return frozenset([" ".join(tokens) or " ".join(text.casefold().split())])


def jaccard(a: str, b: str, n: int = SHINGLE_WORDS) -> float:
    """The exact Jaccard similarity of two texts' shingle sets (what MinHash estimates)."""
    x, y = shingles(a, n), shingles(b, n)
    return len(x & y) / len(x | y) if x or y else 1.0


def candidate_probability(s, bands: int, rows: int):
    """P(two passages at Jaccard s share at least one band): the LSH S-curve."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


def _area(bands: int, rows: int, lo: float, hi: float, wanted: float) -> float:
    grid = np.linspace(lo, hi, 201)
    error = np.abs(wanted - candidate_probability(grid, bands, rows))
    return float((error[1:] + error[:-1]).sum() / 2 * (grid[1] - grid[0]))  # trapezoid rule


@functools.lru_cache(maxsize=None)
def choose_bands_rows(threshold: float, num_perm: int,
                      false_negative_weight: float = FALSE_NEGATIVE_WEIGHT) -> Tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the weighted error areas around
    `threshold`: false positives (probability below it) and false negatives (missing above it)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    best, best_error = None, float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = ((1 - false_negative_weight) * _area(bands, rows, 0.0, threshold, 0.0)
                     + false_negative_weight * _area(bands, rows, threshold, 1.0, 1.0))
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


@dataclasses.dataclass(frozen=True)
class LshParams:
    threshold: float = THRESHOLD
    num_perm: int = NUM_PERM
    shingle_words: int = SHINGLE_WORDS

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"--near_dup_threshold must be between 0 and 1, not {self.threshold}")
        if not 16 <= self.num_perm <= 1024:
            raise ValueError(f"--minhash_perms must be 16 to 1024, not {self.num_perm}")
        if self.shingle_words < 1:
            raise ValueError(f"--shingle_words must be at least 1, not {self.shingle_words}")

    @property
    def bands_rows(self) -> Tuple[int, int]:
        return choose_bands_rows(self.threshold, self.num_perm)

    @property
    def bands(self) -> int:
        return self.bands_rows[0]

    @property
    def rows(self) -> int:
        return self.bands_rows[1]

    def curve(self, points: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)) -> Dict[str, float]:
        """The S-curve at a few similarities, for the manifest and the README."""
        return {f"{s:.2f}": round(float(candidate_probability(s, self.bands, self.rows)), 6) for s in points}

    def describe(self) -> Dict[str, object]:
        return {"threshold": self.threshold, "num_perm": self.num_perm, "shingle_words": self.shingle_words,
                "bands": self.bands, "rows": self.rows, "seed": SEED, "scheme": SCHEME,
                "candidate_probability": self.curve()}


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_CHUNK_SHINGLES = 2048  # shingles per (permutations x shingles) block: 2 MiB of uint32, stays in cache


def shingle_bytes(text: str, tokens: Optional[List[str]] = None, n: int = SHINGLE_WORDS) -> List[bytes]:
    """The UTF-8 bytes of every word n-gram, in text order, repeats included (a min does not care);
    what `shingles` returns as a set, without building n strings per shingle: the words are joined
    once and each shingle is a slice of that."""
    tokens = words(text) if tokens is None else tokens
    if len(tokens) < n:
        return [s.encode("utf-8") for s in shingles(text, n)]
    joined = " ".join(tokens)
    data = joined.encode("utf-8")
    lengths = list(map(len, tokens)) if len(data) == len(joined) else [len(t.encode("utf-8")) for t in tokens]
    starts = list(itertools.accumulate([0] + [length + 1 for length in lengths[:-1]]))
    ends = [start + length for start, length in zip(starts, lengths)]
    return [data[a:b] for a, b in zip(starts, ends[n - 1:])]


def sha1_hash32(items: Sequence[bytes]) -> np.ndarray:
    """datasketch's sha1_hash32 (the first 4 bytes of SHA-1, little-endian) of each item, as uint32."""
    sha1 = hashlib.sha1
    return np.frombuffer(b"".join([sha1(item).digest() for item in items]), dtype="<u4")[::5].astype(np.uint32)


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


class MinHasher:
    """Signatures and band keys for one LshParams; build once per worker (permutations are drawn here).

    `signatures` computes datasketch's affine32 MinHash for a whole batch of passages with numpy
    (one (permutations x shingles) block per ~2,000 shingles, a min per passage with reduceat);
    a test checks it equals datasketch's MinHash.update_batch value for value."""

    def __init__(self, params: LshParams):
        self.params = params
        self._permutations = MinHash(num_perm=params.num_perm, seed=SEED, scheme=SCHEME).permutations
        used = params.bands * params.rows  # permutations past the last band never reach a key
        self._a = self._permutations[0][:used].astype(np.uint32)[:, None]  # (permutations, 1)
        self._b = self._permutations[1][:used].astype(np.uint32)[:, None]
        self._band_prefix = [struct.pack(">H", band) for band in range(params.bands)]

    def signature(self, text: str) -> np.ndarray:
        """datasketch's own MinHash of one text (every permutation): the reference `signatures` must equal."""
        sketch = MinHash(num_perm=self.params.num_perm, seed=SEED, permutations=self._permutations, scheme=SCHEME)
        sketch.update_batch([s.encode("utf-8") for s in sorted(shingles(text, self.params.shingle_words))])
        return sketch.hashvalues

    def signatures(self, texts: Sequence[str], tokens: Optional[Sequence[List[str]]] = None) -> np.ndarray:
        """(len(texts), bands * rows) uint32: the first bands * rows values of each text's signature."""
        n = self.params.shingle_words
        tokens = [words(t) for t in texts] if tokens is None else tokens
        per_text = [shingle_bytes(text, toks, n) for text, toks in zip(texts, tokens)]
        counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
        out = np.empty((len(texts), self._a.shape[0]), dtype=np.uint32)
        if not len(texts):
            return out
        hv = _fmix32(sha1_hash32([item for items in per_text for item in items]))[None, :]
        ends = np.cumsum(counts)
        first = 0
        while first < len(texts):  # a block of whole texts, about _CHUNK_SHINGLES shingles
            begin = ends[first] - counts[first]
            last = max(first + 1, int(np.searchsorted(ends, begin + _CHUNK_SHINGLES, side="right")))
            block = self._a * hv[:, begin:ends[last - 1]]  # (permutations, shingles): the min runs along rows
            block += self._b
            out[first:last] = np.minimum.reduceat(block, (ends[first:last] - counts[first:last]) - begin, axis=1).T
            first = last
        return out

    def band_blobs(self, texts: Sequence[str], tokens: Optional[Sequence[List[str]]] = None) -> np.ndarray:
        """(len(texts), bands * BAND_KEY_BYTES) uint8: each text's band keys (`band_keys`) end to end."""
        rows, bands = self.params.rows, self.params.bands
        signatures = np.ascontiguousarray(self.signatures(texts, tokens))
        width = rows * 4
        blake2b, prefixes = hashlib.blake2b, self._band_prefix
        data = memoryview(signatures.tobytes())
        stride = signatures.shape[1] * 4
        keys = b"".join([prefix + blake2b(data[row + i * width:row + (i + 1) * width], digest_size=8).digest()
                         for row in range(0, len(texts) * stride, stride) for i, prefix in enumerate(prefixes)])
        return np.frombuffer(keys, dtype=np.uint8).reshape(len(texts), bands * BAND_KEY_BYTES)

    def band_keys(self, signature: np.ndarray) -> List[bytes]:
        """One bucket key per band: the band's index and a 64-bit digest of its rows' values."""
        rows = self.params.rows
        return [prefix + hashlib.blake2b(signature[i * rows:(i + 1) * rows].tobytes(), digest_size=8).digest()
                for i, prefix in enumerate(self._band_prefix)]

    def passage_band_keys(self, text: str) -> List[bytes]:
        return self.band_keys(self.signature(text))

