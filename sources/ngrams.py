"""Words and word n-grams: the one tokenisation behind near-duplicate shingles and decontamination.

A word is a run of Unicode word characters in the casefolded text, so punctuation, case and
spacing never make two texts differ ("B. F. Skinner" and "b f skinner" are the same three words).
N-grams are hashed to 64 bits (blake2b) so that large sets of them (every 13-gram of an
evaluation corpus) are compact sorted numpy arrays, not Python sets of strings.
"""

import hashlib
import re
from typing import List

import numpy as np

_WORD = re.compile(r"\w+")


def words(text: str) -> List[str]:
    return _WORD.findall(text.casefold())


def normalized_words(text: str) -> str:
    """The text as its words joined by single spaces: what "normalised exact match" compares."""
    return " ".join(words(text))


def word_ngrams(tokens: List[str], n: int) -> List[str]:
    """Every run of n consecutive words, as one string; none when the text has fewer than n words."""
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Sorted, distinct 64-bit hashes of the text's word n-grams (empty under n words)."""
    grams = word_ngrams(words(text), n)
    return np.unique(np.fromiter((hash64(g) for g in grams), dtype=np.uint64, count=len(grams)))
