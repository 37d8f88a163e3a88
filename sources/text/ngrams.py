"""Words and word n-grams: the one tokenisation behind near-duplicate shingles and decontamination.

A word is a run of Unicode word characters in the casefolded text, so punctuation, case and
spacing never make two texts differ ("B. F. Skinner" and "b f skinner" are the same three words).
N-grams are hashed to 64 bits (blake2b) so that large sets of them (every 13-gram of an
evaluation corpus) are compact sorted numpy arrays, not Python sets of strings.
"""

import hashlib
import re
from typing import List, Tuple

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


COPY_MIN_WORDS = 8
# What may surround a copied run and goes with it: opening quotes before it; closing quotes and
# the run's own end punctuation after it ("... Do you have a theory?" Uh, ...).
_COPY_OPENERS = "\"'“‘«(["
_COPY_CLOSERS = "\"'”’»)].,;:!?…"


def drop_copied_runs(text: str, source: str, min_words: int = COPY_MIN_WORDS) -> Tuple[str, int]:
    """(text without every run of `min_words`+ words it shares with `source`, words removed).

    Why: a reply that quotes its parent inline ("..." or no marks at all, as 2005-era Reddit did)
    repeats its own query, a lexical shortcut for a contrastive model. Runs are found on
    sources.text.ngrams' words (case and punctuation do not matter); the quote marks around a run and
    its end punctuation go with it. Linear in both texts.
    """
    grams = set(word_ngrams(words(source), min_words))
    if not grams:
        return text, 0
    found = list(_WORD.finditer(text))
    tokens = [m.group().casefold() for m in found]
    covered = bytearray(len(tokens))
    for i in range(len(tokens) - min_words + 1):
        if " ".join(tokens[i:i + min_words]) in grams:
            covered[i:i + min_words] = b"\x01" * min_words
    if not any(covered):
        return text, 0
    pieces, last, removed, i = [], 0, 0, 0
    while i < len(tokens):
        if not covered[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and covered[j + 1]:
            j += 1
        start, end = found[i].start(), found[j].end()
        while start > last and text[start - 1] in _COPY_OPENERS:
            start -= 1
        while end < len(text) and text[end] in _COPY_CLOSERS:
            end += 1
        pieces.append(text[last:start])
        last, removed, i = end, removed + j - i + 1, j + 1
    pieces.append(text[last:])
    return _join_around_cuts(pieces), removed


def _join_around_cuts(pieces: List[str]) -> str:
    """The pieces left by cuts, joined by one space where a cut was inside a line; the rest of
    the text (code indentation, line breaks) untouched."""
    out = ""
    for piece in pieces:
        piece = piece.lstrip(" \t") if out else piece
        out = out.rstrip(" \t")
        if out and piece and not out.endswith("\n") and not piece.startswith("\n"):
            out += " "
        out += piece
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", out).strip()
