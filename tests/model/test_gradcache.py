"""GradCache must give the loss and gradients of the plain computation, dropout included."""

import pytest
import torch

from model.gradcache import grad_cache_step, plain_step, split_into_chunks
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
    q = tiny_encoder.tokenize(["a", "b c d e f g", "h"], "query")
    chunks = split_into_chunks(q, 2)
    assert [c["input_ids"].shape[0] for c in chunks] == [2, 1]
    assert chunks[1]["input_ids"].shape[1] == 5  # [CLS] query : h [SEP], not the batch width
    assert q["input_ids"].shape[1] > 5
    assert torch.equal(chunks[0]["input_ids"], q["input_ids"][:2])


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
