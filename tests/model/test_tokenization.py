"""model.tokenization gives the tensors of the transformers call, also from several threads at once."""

from concurrent.futures import ThreadPoolExecutor

import torch

from model.tokenization import BatchTokenizer
from tests.model.conftest import make_texts

ODD_TEXTS = ["", "   ", "Ünïcödé façade — naïve café", "日本語のテキスト", "emoji 🙂 and tabs\tand\nnewlines",
             "x" * 500, " ".join(["word"] * 300), "MiXeD CaSe, punctuation!?;:", "a"]


def transformers_call(tokenizer, texts, max_length):
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype == torch.int64, key
        assert torch.equal(a[key], b[key]), key


def test_same_tensors_as_the_transformers_call(tiny_encoder):
    fast = BatchTokenizer(tiny_encoder.tokenizer)
    assert fast.is_fast
    texts = ODD_TEXTS + [p for _, p, _, _ in make_texts(20, seed=4)]
    for max_length in (4, 16, 64, 512):
        assert_same(fast(texts, max_length), transformers_call(tiny_encoder.tokenizer, texts, max_length))
    assert fast(["one"], 8)["input_ids"].shape == (1, 3)  # [CLS] one [SEP]: padded to the longest only


def test_encoder_tokenize_goes_through_it_with_prefixes(tiny_encoder):
    texts = [q for q, _, _, _ in make_texts(5, seed=2)]
    got = tiny_encoder.tokenize(texts, "query")
    expected = transformers_call(tiny_encoder.tokenizer, ["query: " + t for t in texts], 16)
    assert_same(got, expected)


def test_threads_sharing_one_tokenizer_get_what_one_thread_gets(tiny_encoder):
    fast = BatchTokenizer(tiny_encoder.tokenizer)
    batches = [[p for _, p, _, _ in make_texts(32, seed=s)] for s in range(16)]
    lengths = [8, 24, 64, 24] * 4  # configured copies are made lazily, from several threads
    alone = [fast(b, n) for b, n in zip(batches, lengths)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda args: BatchTokenizer.__call__(fast, *args), zip(batches, lengths)))
    for a, b in zip(alone, together):
        assert_same(a, b)


def test_empty_batch():
    from transformers import AutoTokenizer

    from model.encoder import default_model_path

    fast = BatchTokenizer(AutoTokenizer.from_pretrained(str(default_model_path())))
    assert fast([], 8)["input_ids"].shape == (0, 0)
