"""MinHash LSH over word 5-gram shingles: which passages may be near-duplicates of each other.

Why these pieces:
- Shingles are word 5-grams of the passage's words (sources/text/ngrams.py): edits of a few words
  change few shingles, while two unrelated texts share almost none.
- A shingle's hash is computed with numpy for a whole batch of passages, as decontamination hashes
  its n-grams: each distinct word is hashed once per process (blake2b, 64 bits), the 5 word hashes
  of a shingle are combined as a polynomial mod 2^64 and mixed (fmix64); its low 32 bits are the
  MinHash input. (Until issue 25 round 2 this was datasketch's SHA-1 of each shingle's bytes, in
  Python: the largest cost of the corpus job.) Any well-mixed hash keeps MinHash's property, that
  the probability of equal values per permutation is the Jaccard similarity; a test checks the
  estimate against the exact Jaccard.
- The permutations are datasketch's (seeded, its 32-bit affine scheme: fmix32, then a * h + b mod
  2^32 with a odd), drawn as datasketch draws them without importing it on a worker; a test checks
  the batched signatures equal datasketch's own MinHash fed the same shingle hashes, computed one
  shingle at a time in plain Python.
- LSH: the signature is cut into `bands` bands of `rows` values; two passages are candidates
  when one whole band is equal, with probability P(s) = 1 - (1 - s**rows)**bands at Jaccard s.
  Each band becomes one bucket key (its index and a 64-bit digest of its rows, with numpy), which
  is all the Beam job needs (pipelines/ccpairs.py).
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
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

from filtering.decontamination import WordHashes, _fmix64, ngram_hash_array
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
_MASK64 = (1 << 64) - 1


def permutations(num_perm: int, seed: int = SEED) -> Tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations (a odd, b any 32-bit value), drawn as datasketch 2.0 draws
    them (a test checks they are the same), without importing datasketch (and scipy) on a worker."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _short_shingle(text: str, tokens: List[str]) -> str:
    """The one shingle of a text under n words (`shingles`): its words, or its normalised text."""
    return " ".join(tokens) or " ".join(text.casefold().split())


def _short_hash64(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8, person=b"short").digest(), "little")


def shingle_hashes(texts: Sequence[str], tokens: Sequence[List[str]], n: int = SHINGLE_WORDS,
                   word_hashes: Optional[WordHashes] = None):
    """(hashes, counts): the 64-bit hash of every word n-gram of every text in text order (repeats
    kept, a min does not care), and how many each text has (at least 1).

    A shingle's hash is the evaluation n-gram hash (filtering.decontamination.ngram_hash_array):
    each distinct word hashed once per process (blake2b), the n word hashes combined with numpy as a
    polynomial mod 2^64 and mixed (MurmurHash3's fmix64). A text under n words has one shingle, its
    words joined (`shingles`), hashed whole with blake2b. word_hashes: WordHashes.of(tokens), when known."""
    grams, owners = ngram_hash_array(tokens if word_hashes is None else word_hashes, n)
    counts = np.bincount(owners, minlength=len(texts)).astype(np.int64)
    short = np.flatnonzero(counts == 0)
    if len(short):
        extra = np.array([_short_hash64(_short_shingle(texts[i], tokens[i])) for i in short], dtype=np.uint64)
        grams = np.insert(grams, np.cumsum(counts)[short], extra)  # after the texts before each short one
        counts[short] = 1
    return grams, counts


def reference_shingle_hash(shingle: str, n: int = SHINGLE_WORDS) -> int:
    """`shingle_hashes` of one shingle (a string of `shingles`), one word at a time in plain Python
    integers: the independent reference the tests hold the numpy version to."""
    tokens = shingle.split(" ")
    if len(tokens) != n or any(words(t) != [t] for t in tokens):  # the one shingle of a short text
        return _short_hash64(shingle)
    h = 0
    for token in tokens:  # sum of word[i] * K**(n-1-i) mod 2**64, by Horner's rule
        h = (h * 0x9E3779B97F4A7C15 + int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(),
                                                      "little")) & _MASK64
    for shift, multiplier in ((33, 0xFF51AFD7ED558CCD), (33, 0xC4CEB9FE1A85EC53)):  # fmix64
        h ^= h >> shift
        h = (h * multiplier) & _MASK64
    return h ^ (h >> 33)


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def band_digests(values: np.ndarray) -> np.ndarray:
    """(..., rows) uint32 -> (...) uint64: a 64-bit digest of each band's row values, in order
    (a running fmix64 over the rows); two different bands collide with probability ~2**-64."""
    h = np.full(values.shape[:-1], np.uint64(0x9E3779B97F4A7C15))
    for r in range(values.shape[-1]):
        h = _fmix64(h ^ values[..., r].astype(np.uint64))
    return h


class MinHasher:
    """Signatures and band keys for one LshParams; build once per worker (permutations are drawn here).

    `signatures` computes the affine32 MinHash (datasketch's permutations and scheme: fmix32 of a
    32-bit input hash, then h -> a * h + b mod 2**32 per permutation) of a whole batch of passages
    with numpy: the input hash is the low 32 bits of `shingle_hashes`, one (permutations x shingles)
    block per ~2,000 shingles, a min per passage with reduceat. A test checks it equals datasketch's
    MinHash.update_batch fed the same shingle hashes by an independent pure-Python hash, value for
    value, and that the share of equal values estimates the exact Jaccard similarity."""

    def __init__(self, params: LshParams):
        self.params = params
        self._permutations = permutations(params.num_perm)
        used = params.bands * params.rows  # permutations past the last band never reach a key
        self._a = self._permutations[0][:used][:, None]  # (permutations, 1)
        self._b = self._permutations[1][:used][:, None]
        self._band_prefix = np.array([[band >> 8, band & 0xFF] for band in range(params.bands)], dtype=np.uint8)

    def signatures(self, texts: Sequence[str], tokens: Optional[Sequence[List[str]]] = None,
                   word_hashes: Optional[WordHashes] = None) -> np.ndarray:
        """(len(texts), bands * rows) uint32: the first bands * rows values of each text's signature."""
        tokens = [words(t) for t in texts] if tokens is None else tokens
        out = np.empty((len(texts), self._a.shape[0]), dtype=np.uint32)
        if not len(texts):
            return out
        grams, counts = shingle_hashes(texts, tokens, self.params.shingle_words, word_hashes)
        hv = _fmix32(grams.astype(np.uint32))[None, :]  # the low 32 bits
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

    def band_blobs(self, texts: Sequence[str], tokens: Optional[Sequence[List[str]]] = None,
                   word_hashes: Optional[WordHashes] = None) -> np.ndarray:
        """(len(texts), bands * BAND_KEY_BYTES) uint8: each text's band keys (`band_keys`) end to end."""
        return self.blobs_of(self.signatures(texts, tokens, word_hashes))

    def blobs_of(self, signatures: np.ndarray) -> np.ndarray:
        rows, bands = self.params.rows, self.params.bands
        digests = band_digests(signatures.reshape(len(signatures), bands, rows))  # (texts, bands)
        out = np.empty((len(signatures), bands, BAND_KEY_BYTES), dtype=np.uint8)
        out[:, :, :2] = self._band_prefix
        out[:, :, 2:] = digests.astype(">u8").view(np.uint8).reshape(len(signatures), bands, 8)
        return out.reshape(len(signatures), bands * BAND_KEY_BYTES)

    def band_keys(self, signature: np.ndarray) -> List[bytes]:
        """One bucket key per band: the band's index (2 bytes, big-endian) and a 64-bit digest of its rows' values."""
        used = self.params.bands * self.params.rows
        blob = self.blobs_of(np.asarray(signature, dtype=np.uint32)[None, :used])[0].tobytes()
        return [blob[i:i + BAND_KEY_BYTES] for i in range(0, len(blob), BAND_KEY_BYTES)]

    def signature(self, text: str) -> np.ndarray:
        """The signature of one text (every permutation) by datasketch's own MinHash, fed the shingle
        set's hashes computed one by one in Python (`reference_shingle_hash`): what `signatures` must equal."""
        from datasketch import MinHash  # the reference only: workers do not import datasketch (nor scipy)

        sketch = MinHash(num_perm=self.params.num_perm, seed=SEED, permutations=self._permutations, scheme=SCHEME,
                         hashfunc=lambda shingle: reference_shingle_hash(shingle, self.params.shingle_words) & 0xFFFFFFFF)
        sketch.update_batch(sorted(shingles(text, self.params.shingle_words)))
        return sketch.hashvalues

    def passage_band_keys(self, text: str) -> List[bytes]:
        return self.band_keys(self.signature(text))

