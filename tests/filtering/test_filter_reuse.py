"""The filter embeds each distinct text once (issue 28): a pair passage the pool holds, by exact text,
takes the pool's vector, and repeated texts of a shard are embedded once. Same kept pairs as
embedding everything."""

import os

import numpy as np
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from filtering import filter_pairs  # noqa: E402
from filtering.consistency import ConsistencyPool, consistency_filter  # noqa: E402
from filtering.text_hash import text_hashes  # noqa: E402
from model.embed import Embedder, load_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from tests.filtering.conftest import tiny_model  # noqa: E402
from tests.model.conftest import make_texts  # noqa: E402



pytestmark = pytest.mark.usefixtures("one_torch_thread")


def corpus_items():
    """Pairs with repeats: passages shared by several queries (in one shard and across shards), a
    query asked twice, and a passage that differs from another only in case (same normalised hash)."""
    items = make_texts(40, seed=7)
    items += [(f"{q} again", p, f"{qi}-again", f"{pi}-again") for q, p, qi, pi in items[:8]]
    items += [(items[3][0], items[12][1] + " extra", "q-repeat", "p-repeat")]
    items += [("case query", items[20][1].upper(), "q-case", "p-case")]
    return items


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("reuse")
    tiny_model(root / "model")
    write_pair_version(root / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", corpus_items()), num_shards=3)
    return root


class CountingEmbedder:
    """The real embedder, recording every text it is asked to embed (the model is not mocked)."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.asked = {"query": [], "passage": []}

    def __getattr__(self, name):
        return getattr(self.embedder, name)

    def embed(self, texts, kind="passage", batch_size=128, progress=False):
        self.asked[kind] += list(texts)
        return self.embedder.embed(texts, kind, batch_size, progress)


def run_counting(root, version, monkeypatch, pool_size=1000, **switches):
    """filter_pairs.run with the real embedder wrapped in a CountingEmbedder; (result, embedder)."""
    made = []

    def counting_embedder(args):
        made.append(CountingEmbedder(original(args)))
        return made[-1]

    original = filter_pairs.embedder_from_args
    monkeypatch.setattr(filter_pairs, "embedder_from_args", counting_embedder)
    args = filter_pairs.build_parser().parse_args(
        ["--model", str(root / "model"), "--pairs", str(root / "pairs"), "--output", str(root / "out"),
         "--version", version, "--pool_size", str(pool_size), "--device", "cpu", "--backend", "numpy",
         "--batch_size", "16"])
    result = filter_pairs.run(args, **switches)
    assert result["complete"]
    return result, made[0]


def read_pairs(root):
    """(pair_ids, queries, passages) per input shard, in shard order."""
    shards = filter_pairs.input_shards([str(root / "pairs")])
    return [pq.read_table(s.path).select(["pair_id", "query", "passage"]).to_pydict() for s in shards]


def shard_files(version_dir, prefix):
    return sorted(name for name in os.listdir(version_dir) if name.startswith(prefix))


def kept_ids(version_dir):
    ids = []
    for name in shard_files(version_dir, "pairs-"):
        ids += pq.read_table(os.path.join(version_dir, name)).column("pair_id").to_pylist()
    return sorted(ids)


def reference_kept_ids(root, version_dir):
    """Kept pair ids when every pool passage, query and pair passage goes through the model."""
    embedder = Embedder(load_encoder(str(root / "model"), "cpu"), ["cpu"])
    pool_texts = pq.read_table(os.path.join(version_dir, "pool.parquet")).column("passage").to_pylist()
    pool = ConsistencyPool.build(embedder.embed(pool_texts, "passage", 16), text_hashes(pool_texts), backend="numpy")
    kept = []
    for shard in read_pairs(root):
        result = consistency_filter(embedder.embed(shard["query"], "query", 16),
                                    embedder.embed(shard["passage"], "passage", 16),
                                    text_hashes(shard["passage"]), pool, k=2)
        kept += [pair_id for pair_id, keep in zip(shard["pair_id"], result.keep) if keep]
    return sorted(kept)


def test_each_distinct_text_is_embedded_once_when_the_pool_holds_the_passages(setup, monkeypatch):
    result, embedder = run_counting(setup, "once", monkeypatch)
    shards = read_pairs(setup)
    passages = [p for shard in shards for p in shard["passage"]]
    queries = [q for shard in shards for q in shard["query"]]
    pool_texts = pq.read_table(os.path.join(result["version_dir"], "pool.parquet")).column("passage").to_pylist()
    assert len(pool_texts) == len(set(text_hashes(passages)))  # the pool holds every passage (by hash)
    assert len(set(passages)) == len(pool_texts) + 1  # the case variant: same hash, another exact text

    assert sorted(embedder.asked["passage"]) == sorted(set(passages))  # pool + the case variant, once each
    assert len(embedder.asked["query"]) == sum(len(set(shard["query"])) for shard in shards)
    timings = result["timings"]
    assert timings["pairs"] == len(passages) == 50
    assert timings["passages_embedded"] == 1  # the case variant is not the pool's text
    assert timings["passages_embedded"] + timings["passages_reused_from_pool"] + timings["passages_repeated"] == 50
    assert timings["queries_embedded"] + timings["queries_repeated"] == len(queries)


def test_reusing_vectors_keeps_the_same_pairs_as_embedding_everything(setup, monkeypatch):
    reused, _ = run_counting(setup, "reused", monkeypatch)
    everything, embedder = run_counting(setup, "everything", monkeypatch, reuse_vectors=False)
    pool_texts = pq.read_table(os.path.join(everything["version_dir"], "pool.parquet")).column("passage")
    assert len(embedder.asked["passage"]) == len(pool_texts) + 50  # the pool, then every pair passage again
    assert everything["timings"]["passages_embedded"] == 50 and everything["timings"]["passages_reused_from_pool"] == 0

    expected = reference_kept_ids(setup, reused["version_dir"])
    assert 0 < len(expected) < 50
    assert kept_ids(reused["version_dir"]) == kept_ids(everything["version_dir"]) == expected
    for name in shard_files(reused["version_dir"], "ranks-"):
        new, old = (pq.read_table(os.path.join(r["version_dir"], name)).to_pydict() for r in (reused, everything))
        assert new["rank"] == old["rank"] and new["keep"] == old["keep"]
        np.testing.assert_allclose(new["pair_score"], old["pair_score"], atol=1e-5)


def test_a_small_pool_lends_only_the_passages_it_holds(setup, monkeypatch):
    result, embedder = run_counting(setup, "small", monkeypatch, pool_size=10)
    pool_texts = set(pq.read_table(os.path.join(result["version_dir"], "pool.parquet")).column("passage").to_pylist())
    distinct_per_shard = [set(shard["passage"]) for shard in read_pairs(setup)]
    timings = result["timings"]
    assert timings["passages_reused_from_pool"] == sum(len(texts & pool_texts) for texts in distinct_per_shard)
    assert timings["passages_embedded"] == sum(len(texts - pool_texts) for texts in distinct_per_shard)
    assert len(embedder.asked["passage"]) == len(pool_texts) + timings["passages_embedded"]
    assert kept_ids(result["version_dir"]) == reference_kept_ids(setup, result["version_dir"])


def test_embed_once_looks_up_exact_text_not_the_normalised_hash(setup):
    embedder = CountingEmbedder(Embedder(load_encoder(str(setup / "model"), "cpu"), ["cpu"]))
    pool_texts = ["Apple pie recipe", "river bridge"]
    known = filter_pairs.KnownVectors(pool_texts, embedder.embed(pool_texts, "passage", 16))
    embedder.asked["passage"].clear()
    texts = ["apple pie recipe", "river bridge", "Apple pie recipe", "apple pie recipe", "new text"]
    vectors, counts = filter_pairs.embed_once(embedder, texts, "passage", 16, known)

    assert embedder.asked["passage"] == ["apple pie recipe", "new text"]  # a case variant is not the pool's text
    assert counts == filter_pairs.EmbedCounts(embedded=2, reused=2, repeated=1)
    assert np.array_equal(vectors[1], known.vectors[1]) and np.array_equal(vectors[2], known.vectors[0])
    assert np.array_equal(vectors[0], vectors[3])
    np.testing.assert_allclose(vectors, embedder.embedder.embed(texts, "passage", 16), atol=1e-5)
