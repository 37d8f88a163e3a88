"""Shared fixtures for the training-stage tests: tiny real BERTs and real pair Parquet."""

import json
import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.encoder import EncoderSettings, build_random_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=64)
TINY_SETTINGS = EncoderSettings(query_max_length=16, passage_max_length=24)

WORDS = ("river mountain coffee engine violin garden planet harbor castle forest winter summer "
         "lantern bridge market pepper silver copper rocket orbit ocean desert island canyon "
         "tractor bakery museum library theater stadium airport railway doctor lawyer farmer "
         "painter sailor pilot teacher student window mirror carpet ladder hammer needle pencil "
         "bottle basket candle blanket pillow jacket helmet wallet camera guitar trumpet drum "
         "tomato potato onion garlic lemon orange banana cherry apple melon walnut almond honey").split()


def make_texts(n, seed=0, query_words=4, passage_words=14):
    """Deterministic (query, passage, qid, pid): the passage repeats the query's words among others."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        q = rng.sample(WORDS, query_words)
        p = q + rng.sample(WORDS, passage_words - query_words)
        rng.shuffle(p)
        items.append((" ".join(q), " ".join(p), f"q{i}", f"p{i}"))
    return items


@pytest.fixture
def tiny_encoder():
    return build_random_encoder(TINY_BERT, settings=TINY_SETTINGS, seed=0)


@pytest.fixture
def tiny_config_json(tmp_path):
    path = tmp_path / "tiny_bert.json"
    path.write_text(json.dumps(TINY_BERT))
    return path


@pytest.fixture
def pairs_dir(tmp_path):
    """Two sources, two shards each, several row groups: enough to exercise the batcher."""
    root = tmp_path / "pairs"
    write_pair_version(root / "alpha" / "v1", pairs_from_texts("alpha", make_texts(96, seed=1)),
                       num_shards=2, rows_per_group=16)
    write_pair_version(root / "beta" / "v1", pairs_from_texts("beta", make_texts(48, seed=2)),
                       num_shards=2, rows_per_group=10)
    return root


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core box OpenMP spinning makes them
    50x slower; one thread also keeps results independent of the machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
