import json

import numpy as np
import pytest
import torch

from model.embed import embed_texts, load_encoder
from model.encoder import default_model_path
from model.saving import save_encoder

TEXTS = ["what is the capital of france", "Paris is the capital and largest city of France.",
         "hops give beer its bitterness", "x"]


def test_saved_model_loads_in_sentence_transformers_with_prompts(tiny_encoder, tmp_path):
    from sentence_transformers import SentenceTransformer

    path = save_encoder(tiny_encoder, tmp_path / "model")
    st = SentenceTransformer(str(path), device="cpu")
    ours = load_encoder(path, "cpu")
    assert ours.settings == tiny_encoder.settings
    for kind in ("query", "passage"):
        mine = embed_texts(ours, TEXTS, kind)
        theirs = st.encode(TEXTS, prompt_name=kind, convert_to_numpy=True)
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    prompts = json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}


def test_saved_model_loads_with_automodel(tiny_encoder, tmp_path):
    from transformers import AutoModel

    path = save_encoder(tiny_encoder, tmp_path / "model")
    backbone = AutoModel.from_pretrained(str(path))
    for name, value in tiny_encoder.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[name], value), name


def test_resaving_replaces_the_folder(tiny_encoder, tmp_path):
    path = save_encoder(tiny_encoder, tmp_path / "model")
    (path / "stale.txt").write_text("old")
    save_encoder(tiny_encoder, path)
    assert not (path / "stale.txt").exists()
    assert not (tmp_path / "model.tmp").exists()


def test_a_failed_save_leaves_the_saved_model_whole(tiny_encoder, tmp_path):
    """Writing fails midway (a setting JSON cannot hold): the folder still holds the model saved before."""
    from dataclasses import replace

    from model.encoder import TextEncoder

    path = save_encoder(tiny_encoder, tmp_path / "model")
    broken = TextEncoder(tiny_encoder.backbone, tiny_encoder.tokenizer,
                         replace(tiny_encoder.settings, query_prefix=object()))
    with pytest.raises(TypeError):
        save_encoder(broken, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no half-saved folder beside it
    assert load_encoder(path, "cpu").settings == tiny_encoder.settings


def test_bundled_minilm_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    ours = load_encoder(None, "cpu")
    assert (ours.settings.query_prefix, ours.settings.passage_prefix) == ("", "")
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    np.testing.assert_allclose(embed_texts(ours, TEXTS, "passage"), st.encode(TEXTS), atol=1e-5)
