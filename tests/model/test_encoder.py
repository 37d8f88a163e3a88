import torch

from model.encoder import EncoderSettings, mean_pool, read_settings


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_embedding_does_not_depend_on_batch_padding(tiny_encoder):
    tiny_encoder.eval()
    with torch.no_grad():
        alone = tiny_encoder.encode(["red apple"], "passage")
        padded = tiny_encoder.encode(["red apple", "a much longer passage about rivers and mountains"], "passage")
    assert torch.allclose(alone[0], padded[0], atol=1e-5)
    assert torch.allclose(padded.norm(dim=1), torch.ones(2), atol=1e-6)


def test_prefixes_and_separate_max_lengths(tiny_encoder):
    tok = tiny_encoder.tokenizer
    q = tiny_encoder.tokenize(["apple"], "query")["input_ids"][0].tolist()
    assert tok.decode(q, skip_special_tokens=True) == "query : apple"
    long_text = " ".join(["apple"] * 100)
    assert tiny_encoder.tokenize([long_text], "query")["input_ids"].shape[1] == 16
    assert tiny_encoder.tokenize([long_text], "passage")["input_ids"].shape[1] == 24
    tiny_encoder.settings = EncoderSettings(query_prefix="", passage_prefix="", query_max_length=8)
    q = tiny_encoder.tokenize(["apple"], "query")["input_ids"][0].tolist()
    assert tok.decode(q, skip_special_tokens=True) == "apple"


def test_pooler_is_frozen_and_everything_else_trains(tiny_encoder):
    frozen = {n for n, p in tiny_encoder.named_parameters() if not p.requires_grad}
    assert frozen and all(".pooler." in n for n in frozen)


def test_folder_without_our_settings_gets_no_prefix(tmp_path):
    (tmp_path / "config_sentence_transformers.json").write_text('{"__version__": {}}')
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 200}')
    s = read_settings(tmp_path)
    assert (s.query_prefix, s.passage_prefix, s.query_max_length) == ("", "", 200)


def test_sdpa_attention_gives_the_eager_embeddings_with_padding():
    """The fast kernel must mask padding exactly as the reference: same vectors for padded rows."""
    from model.encoder import attention_of, build_random_encoder
    from tests.model.conftest import TINY_BERT, TINY_SETTINGS, make_texts

    sdpa = build_random_encoder(TINY_BERT, settings=TINY_SETTINGS, seed=3).eval()
    eager = build_random_encoder(TINY_BERT, settings=TINY_SETTINGS, seed=3, attention="eager").eval()
    assert (attention_of(sdpa.backbone), attention_of(eager.backbone)) == ("sdpa", "eager")
    texts = [p[: 5 + 9 * i] for i, (_, p, _, _) in enumerate(make_texts(6, seed=6))]  # very different lengths
    with torch.no_grad():
        batch = sdpa.tokenize(texts, "passage")
        assert (batch["attention_mask"] == 0).any()  # padding present
        fast = sdpa(batch["input_ids"], batch["attention_mask"])
        reference = eager(batch["input_ids"], batch["attention_mask"])
        alone = torch.cat([sdpa.encode([t], "passage") for t in texts])
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast, alone, atol=1e-5, rtol=1e-4)
