"""GradCache must give the loss and gradients of the plain computation, dropout included."""

import pytest
import torch

from model.gradcache import grad_cache_step, in_row_order, plain_step, split_into_chunks
from model.losses import InfoNCELoss
from tests.model.conftest import make_texts

CPU = torch.device("cpu")
LOSS = InfoNCELoss(scale=20.0, symmetric=True)


def views_for(encoder, n=10, chunk=None):
    items = make_texts(n, seed=3)
    q = encoder.tokenize([i[0] for i in items], "query")
    p = encoder.tokenize([i[1] for i in items], "passage")
    return [split_into_chunks(q, chunk), split_into_chunks(p, chunk)]


def loss_fn(embeddings):
    return LOSS(embeddings[0], embeddings[1])


def grads(encoder):
    return {n: p.grad.detach().clone() for n, p in encoder.named_parameters() if p.grad is not None}


def run(step, encoder, views, seed=0):
    encoder.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    out = step(encoder, views, loss_fn, CPU)
    return out.loss.item(), grads(encoder), torch.get_rng_state()


def assert_same_grads(a, b, atol):
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=1e-4, msg=name)


def test_chunks_trim_padding_and_keep_rows(tiny_encoder):
    q = tiny_encoder.tokenize(["a", "b c d e f g", "h i j k", "l"], "query")
    chunks = split_into_chunks(q, 2)
    assert [c["input_ids"].shape[0] for c in chunks] == [2, 2]
    assert [c["rows"].tolist() for c in chunks] == [[1, 2], [0, 3]]  # longest first, ties in batch order
    assert [c["input_ids"].shape[1] for c in chunks] == [10, 5]  # each chunk padded to its own longest
    for chunk in chunks:
        width = chunk["input_ids"].shape[1]
        assert torch.equal(chunk["input_ids"], q["input_ids"][chunk["rows"], :width])
        assert torch.equal(q["attention_mask"][chunk["rows"], width:].sum(), torch.tensor(0))


def test_sorted_chunks_pad_less_than_batch_order(tiny_encoder):
    """Alternating short and long texts: in batch order every chunk pads to a long one."""
    texts = [("x " * (1 + 10 * (i % 2))).strip() for i in range(8)]
    q = tiny_encoder.tokenize(texts, "query")
    padded = sum(c["input_ids"].numel() for c in split_into_chunks(q, 2))
    unsorted = sum(q["input_ids"][i:i + 2].numel() for i in range(0, 8, 2))
    assert padded < unsorted


def test_embeddings_come_back_in_batch_order(tiny_encoder):
    tiny_encoder.eval()
    items = make_texts(7, seed=8)
    q = tiny_encoder.tokenize([("w " * (1 + i % 3)) + i_[0] for i, i_ in enumerate(items)], "query")
    with torch.no_grad():
        whole = tiny_encoder(q["input_ids"], q["attention_mask"])
        parts = [tiny_encoder(c["input_ids"], c["attention_mask"]) for c in split_into_chunks(q, 3)]
    torch.testing.assert_close(in_row_order(parts, split_into_chunks(q, 3)), whole, atol=1e-5, rtol=1e-4)


def test_grad_cache_equals_one_full_batch_forward_without_dropout(tiny_encoder):
    tiny_encoder.eval()  # no dropout: a full-batch forward and chunked forwards must agree
    full_loss, full_grads, _ = run(plain_step, tiny_encoder, views_for(tiny_encoder, chunk=None))
    cached_loss, cached_grads, _ = run(grad_cache_step, tiny_encoder, views_for(tiny_encoder, chunk=3))
    assert cached_loss == pytest.approx(full_loss, abs=1e-5)
    assert_same_grads(cached_grads, full_grads, atol=1e-5)


def test_grad_cache_replays_dropout_exactly(tiny_encoder):
    tiny_encoder.train()
    views = views_for(tiny_encoder, chunk=4)
    plain_loss, plain_grads, plain_rng = run(plain_step, tiny_encoder, views, seed=7)
    cached_loss, cached_grads, cached_rng = run(grad_cache_step, tiny_encoder, views, seed=7)
    assert cached_loss == pytest.approx(plain_loss, abs=1e-6)
    assert_same_grads(cached_grads, plain_grads, atol=1e-6)
    assert torch.equal(cached_rng, plain_rng)  # the RNG stream continues as if no replay happened


def test_dropout_really_changes_gradients(tiny_encoder):
    """Control for the test above: other dropout masks give other gradients, so equality is not free."""
    tiny_encoder.train()
    views = views_for(tiny_encoder, chunk=4)
    _, a, _ = run(plain_step, tiny_encoder, views, seed=7)
    _, b, _ = run(plain_step, tiny_encoder, views, seed=8)
    assert any(not torch.allclose(a[n], b[n], atol=1e-4) for n in a)


def test_replay_happens_under_the_sync_context_once_per_chunk(tiny_encoder):
    calls = []

    class Recorder:
        def __init__(self, last):
            self.last = last

        def __enter__(self):
            calls.append(self.last)

        def __exit__(self, *exc):
            return False

    views = views_for(tiny_encoder, chunk=4)  # 10 rows -> 3 chunks per view
    grad_cache_step(tiny_encoder, views, loss_fn, CPU, sync=Recorder)
    assert calls == [False] * 5 + [True]
