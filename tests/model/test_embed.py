import copy

import numpy as np
import pyarrow.parquet as pq
import torch

from model.embed import embed_parquet_column, embed_texts, main as embed_main
from model.pairs_io import pairs_from_texts, write_pair_version
from tests.model.conftest import make_texts


def test_embed_texts_keeps_input_order_and_normalises(tiny_encoder):
    texts = ["short", "a somewhat longer text here", "mid length text", "x", "the longest text of them all, really"]
    got = embed_texts(tiny_encoder, texts, "passage", batch_size=2)
    assert got.dtype == np.float32 and got.shape == (5, 32)
    tiny_encoder.eval()
    with torch.no_grad():
        one_by_one = np.stack([tiny_encoder.encode([t], "passage")[0].numpy() for t in texts])
    np.testing.assert_allclose(got, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(embed_texts(tiny_encoder, texts, "query")[0], got[0])  # prefix differs


def test_embed_keeps_training_mode(tiny_encoder):
    tiny_encoder.train()
    embed_texts(tiny_encoder, ["a"], "query")
    assert tiny_encoder.training


def test_parquet_column_to_npy(tiny_encoder, tmp_path):
    version = write_pair_version(tmp_path / "v1", pairs_from_texts("s", make_texts(23, seed=1)),
                                 num_shards=2, rows_per_group=5)
    out = embed_parquet_column(tiny_encoder, version, "passage", tmp_path / "p.npy", dtype="float16",
                               batch_size=4, window=7, progress=False)
    got = np.load(out)
    assert got.dtype == np.float16 and got.shape == (23, 32)
    texts = [t for f in sorted(version.glob("*.parquet")) for t in pq.read_table(f)["passage"].to_pylist()]
    np.testing.assert_allclose(got, embed_texts(tiny_encoder, texts, "passage"), atol=2e-3)


def test_cli(tiny_encoder, tmp_path, capsys):
    from model.saving import save_encoder

    model = save_encoder(tiny_encoder, tmp_path / "model")
    version = write_pair_version(tmp_path / "v1", pairs_from_texts("s", make_texts(9, seed=2)))
    embed_main(["--model", str(model), "--input", str(version), "--column", "query", "--kind", "query",
                "--output", str(tmp_path / "q.npy"), "--dtype", "float32", "--device", "cpu"])
    assert np.load(tmp_path / "q.npy").shape == (9, 32)
    assert '"rows": 9' in capsys.readouterr().out


def test_tokenizing_in_threads_gives_the_same_vectors(tiny_encoder):
    texts = [p for _, p, _, _ in make_texts(50, seed=3)] + ["short", "x"]
    on_main = embed_texts(tiny_encoder, texts, "passage", batch_size=4, tokenizer_threads=0)
    in_threads = embed_texts(tiny_encoder, texts, "passage", batch_size=4, tokenizer_threads=3)
    assert np.array_equal(on_main, in_threads)


def test_longest_first_puts_similar_lengths_together():
    from model.embed import longest_first

    texts = ["aa", "a", "aaaa", "aaa", ""]
    assert longest_first(texts) == [2, 3, 0, 1, 4]


def test_two_devices_split_the_batches_and_give_the_same_vectors(tiny_encoder):
    """--devices on CPU: two replicas in two threads, each taking batches; rows stay in input order."""
    from model.embed import Embedder

    texts = [p for _, p, _, _ in make_texts(64, seed=5)]
    single = Embedder(copy.deepcopy(tiny_encoder), ["cpu"]).embed(texts, "passage", batch_size=4)
    pair = Embedder(copy.deepcopy(tiny_encoder), ["cpu", "cpu"])
    got = pair.embed(texts, "passage", batch_size=4)
    np.testing.assert_allclose(got, single, atol=1e-6)
    assert [r.batches > 0 for r in pair.replicas] == [True, True]
    assert sum(r.batches for r in pair.replicas) == 16


def test_bf16_weights_stay_close_to_float32(tiny_encoder):
    from model.embed import Embedder

    texts = [p for _, p, _, _ in make_texts(16, seed=7)]
    full = Embedder(copy.deepcopy(tiny_encoder), ["cpu"], model_dtype="float32").embed(texts)
    half = Embedder(copy.deepcopy(tiny_encoder), ["cpu"], model_dtype="bfloat16")
    assert next(half.encoder.backbone.parameters()).dtype == torch.bfloat16
    got = half.embed(texts)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * full).sum(axis=1).min() > 0.99  # cosine to the float32 vectors


def test_model_dtype_auto_is_float32_on_cpu():
    from model.embed import resolve_model_dtype

    assert resolve_model_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_model_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_model_dtype("float32", torch.device("cuda")) == torch.float32


def test_compiled_encoder_gives_the_same_vectors(tiny_encoder):
    """The --compile wiring (torch.compile's eager backend here: inductor needs a compiler and time)."""
    from model.embed import Embedder

    texts = [p for _, p, _, _ in make_texts(12, seed=9)]
    plain = Embedder(copy.deepcopy(tiny_encoder), ["cpu"]).embed(texts, batch_size=4)
    compiled = Embedder(copy.deepcopy(tiny_encoder), ["cpu"], compile="eager")
    np.testing.assert_allclose(compiled.embed(texts, batch_size=4), plain, atol=1e-6)
    assert compiled.encoder.backbone._compiled_call_impl is not None


def test_cli_devices(tiny_encoder, tmp_path, capsys):
    from model.saving import save_encoder

    model = save_encoder(tiny_encoder, tmp_path / "model")
    version = write_pair_version(tmp_path / "v1", pairs_from_texts("s", make_texts(9, seed=2)))
    embed_main(["--model", str(model), "--input", str(version), "--output", str(tmp_path / "p.npy"),
                "--dtype", "float32", "--devices", "cpu", "cpu"])
    expected = embed_texts(tiny_encoder, pq.read_table(next(version.glob("*.parquet")))["passage"].to_pylist(),
                           "passage")
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-5)
    assert '"devices": ["cpu", "cpu"]' in capsys.readouterr().out
