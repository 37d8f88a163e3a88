"""Two sources' pairs with planted duplicates and evaluation leaks, and the truth about each plant.

For the corpus job's tests and benchmark: passages are random words from a synthetic vocabulary
(unrelated passages share no 5-gram), so every near-duplicate the job finds is one we planted.
Plants, each recorded in `Truth`:
- exact: the same pair in the other source with case and spacing changed (duplicate_pair_text);
- repeated: the same passage under another query in the other source (repeated_passage);
- near: a copy in the other source with a share of its words replaced, and the exact Jaccard
  similarity of the two passages' shingles (near_duplicate when similar enough);
- eval: a pair whose query is an evaluation query (eval_query), or whose passage quotes 20 words
  of a judged passage (eval_ngram);
- boilerplate: many pages sharing one 200-word passage, each with its own page number (one hot
  LSH bucket: all but the best-ranked are near duplicates).
The better-ranked original (higher score) is always in the first source, so which copy survives
is known in advance.
"""

import dataclasses
import datetime as _dt
import random
from typing import Dict, List, Sequence, Tuple

from filtering.minhash import jaccard
from schemas.pairs import make_pair

SOURCES = ("reddit", "stackexchange")
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "po", "qua", "dri", "fen", "gor", "hul", "jis"]


def vocabulary(size: int = 20_000, seed: int = 7) -> List[str]:
    rng = random.Random(seed)
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


@dataclasses.dataclass
class Truth:
    exact: List[Tuple[str, str]] = dataclasses.field(default_factory=list)  # (kept pair_id, dropped pair_id)
    repeated: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
    near: List[Tuple[str, str, float, float]] = dataclasses.field(default_factory=list)  # (orig, copy, edit rate, J)
    eval_query: List[str] = dataclasses.field(default_factory=list)
    eval_ngram: List[str] = dataclasses.field(default_factory=list)
    boilerplate: List[str] = dataclasses.field(default_factory=list)  # best-ranked first


def edit_words(rng: random.Random, text: str, rate: float, vocab: Sequence[str]) -> str:
    """Replace round(rate * words) distinct positions by other vocabulary words."""
    tokens = text.split()
    for i in rng.sample(range(len(tokens)), max(1, round(rate * len(tokens)))):
        tokens[i] = rng.choice(vocab)
    return " ".join(tokens)


class _Maker:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vocab = vocabulary()
        self.pairs: Dict[str, List[dict]] = {s: [] for s in SOURCES}
        self.n = 0

    def text(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(self.vocab) for _ in range(self.rng.randint(low, high)))

    def add(self, source: str, query: str, passage: str, score: int) -> dict:
        self.n += 1
        pair = make_pair(source=source, subsource=f"{source}-sub{self.n % 3}", query=query, passage=passage,
                         query_id=f"{source}-q{self.n}", passage_id=f"{source}-p{self.n}", lang="en", score=score,
                         created_at=_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(hours=self.n))
        self.pairs[source].append(pair)
        return pair


def planted_corpus(n_plain: int, n_exact: int = 0, n_repeated: int = 0, near_rates: Sequence[float] = (),
                   near_per_rate: int = 0, eval_queries: Sequence[str] = (), judged_passages: Sequence[str] = (),
                   n_boilerplate: int = 0, seed: int = 1) -> Tuple[Dict[str, List[dict]], Truth]:
    """({source: pairs}, Truth). n_plain unrelated pairs per source; plants as the module says."""
    make, truth = _Maker(seed), Truth()
    a, b = SOURCES
    for source in SOURCES:
        for _ in range(n_plain):
            make.add(source, make.text(4, 12), make.text(40, 120), make.rng.randint(0, 50))
    for _ in range(n_exact):
        query, passage = make.text(4, 12), make.text(40, 120)
        kept = make.add(a, query, passage, 100)
        copy = make.add(b, "  " + query.upper(), passage.replace(" ", "  ").title(), 5)
        truth.exact.append((kept["pair_id"], copy["pair_id"]))
    for _ in range(n_repeated):
        passage = make.text(40, 120)
        kept = make.add(a, make.text(4, 12), passage, 100)
        copy = make.add(b, make.text(4, 12), passage, 5)
        truth.repeated.append((kept["pair_id"], copy["pair_id"]))
    for rate in near_rates:
        for _ in range(near_per_rate):
            passage = make.text(60, 120)
            near = edit_words(make.rng, passage, rate, make.vocab)
            kept = make.add(a, make.text(4, 12), passage, 100)
            copy = make.add(b, make.text(4, 12), near, 5)
            truth.near.append((kept["pair_id"], copy["pair_id"], rate, jaccard(passage, near)))
    for i, query in enumerate(eval_queries):
        pair = make.add(SOURCES[i % 2], query.upper() + "?", make.text(40, 80), 3)
        truth.eval_query.append(pair["pair_id"])
    for i, judged in enumerate(judged_passages):
        words = judged.split()
        quote = " ".join(words[:20])
        pair = make.add(SOURCES[i % 2], make.text(4, 12), f"{make.text(10, 20)} {quote} {make.text(10, 20)}", 3)
        truth.eval_ngram.append(pair["pair_id"])
    boiler = make.text(200, 200)
    for i in range(n_boilerplate):
        pair = make.add(SOURCES[i % 2], make.text(4, 12), f"{boiler} page {i}", 1_000_000 - i)
        truth.boilerplate.append(pair["pair_id"])
    return make.pairs, truth
