"""Perplexity of a passage under an n-gram language model: E5 (after CCNet) drops high-perplexity web text.

The scorer is pluggable: anything with `perplexity(text) -> float`. The one shipped is KenLM's
(`pip install kenlm`, an sdist that compiles in a minute; optional, only `--lm_model` needs it),
loaded once per worker process (`load_scorer` caches by path) and shared by every page it scores.

Text is normalised the same way for training and scoring (`normalize_for_lm`: lowercase, digits
as 0, words and punctuation as space-separated tokens, one sentence per line), so a model is made
with KenLM's own tools from any English text, e.g. a Wikipedia dump:

    python -m sources.text.perplexity < wiki.txt > wiki.tok         # the normalisation, line by line
    lmplz -o 5 --prune 0 0 1 < wiki.tok > en.arpa                # KenLM (github.com/kpu/kenlm)
    build_binary en.arpa en.binary                                # faster to load; .arpa works too
    python -m pipelines.commoncrawl ... --lm_model en.binary --max_perplexity 1000

The perplexity of a passage is over all its sentences together: 10 ** (-(sum of log10
probabilities) / (tokens + sentence ends)), as CCNet computes it per document.
"""

import functools
import re
import sys
import unicodedata
from typing import Protocol

from sources.text.web_text import sentences

_TOKEN = re.compile(r"\w+(?:['\-]\w+)*|[^\w\s]", re.UNICODE)
_DIGIT = re.compile(r"\d")


class Scorer(Protocol):
    def perplexity(self, text: str) -> float: ...


def normalize_for_lm(text: str) -> str:
    """One sentence per line, lowercased, NFKC, digits as 0, tokens separated by single spaces."""
    out = []
    for sentence in sentences(unicodedata.normalize("NFKC", text)):
        tokens = _TOKEN.findall(_DIGIT.sub("0", sentence.lower()))
        if tokens:
            out.append(" ".join(tokens))
    return "\n".join(out)


class KenLMScorer:
    """A KenLM model (ARPA or KenLM binary) scoring normalised text."""

    def __init__(self, path: str):
        try:
            import kenlm
        except ImportError as exc:  # the flag names a model, so the module must be there
            raise RuntimeError("--lm_model needs the kenlm module: pip install kenlm") from exc
        self.path = path
        self._model = kenlm.Model(path)

    def perplexity(self, text: str) -> float:
        log10, tokens = 0.0, 0
        for line in normalize_for_lm(text).split("\n"):
            if line:
                log10 += self._model.score(line, bos=True, eos=True)
                tokens += len(line.split()) + 1  # the sentence end is predicted too
        return 10.0 ** (-log10 / tokens) if tokens else float("inf")


@functools.lru_cache(maxsize=4)
def load_scorer(path: str) -> Scorer:
    """The model at `path`, loaded once per process (Beam workers score every page with one copy)."""
    return KenLMScorer(path)


def main() -> int:
    """stdin -> normalised training text on stdout, for lmplz."""
    for line in sys.stdin:
        normalized = normalize_for_lm(line)
        if normalized:
            sys.stdout.write(normalized + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
