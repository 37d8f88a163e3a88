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
