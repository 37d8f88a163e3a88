"""W ranks x B/W rows must give the loss and gradients of 1 rank x B rows (gloo, 2 CPU processes)."""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from model.distributed import DistContext, gather_with_grad, init_distributed, sync_context, wrap_model
from model.encoder import build_random_encoder
from model.gradcache import grad_cache_step, plain_step, split_into_chunks
from model.losses import InfoNCELoss
from model.pairs_io import pairs_from_texts, write_pair_version
from model.train import train
from tests.model.conftest import TINY_BERT, TINY_SETTINGS, make_texts

BATCH = 8
WORLD = 2
LOSS = InfoNCELoss(scale=20.0, symmetric=True)
NO_DROPOUT = dict(TINY_BERT, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def contrastive_step(ctx: DistContext, chunk_size, use_cache):
    """One step on this rank's rows of the shared global batch; returns (mean loss, averaged grads)."""
    encoder = build_random_encoder(NO_DROPOUT, settings=TINY_SETTINGS, seed=0)
    model = wrap_model(encoder, ctx)
    rows = ctx.local_rows(BATCH)
    items = make_texts(BATCH, seed=5)[rows]
    views = [split_into_chunks(encoder.tokenize([i[0] for i in items], "query"), chunk_size),
             split_into_chunks(encoder.tokenize([i[1] for i in items], "passage"), chunk_size)]

    def loss_fn(embeddings):
        q, p = (gather_with_grad(e, ctx) for e in embeddings)
        return LOSS(q, p, rows=rows)

    if use_cache:
        out = grad_cache_step(model, views, loss_fn, ctx.device, sync=sync_context(model))
    else:
        out = plain_step(model, views, loss_fn, ctx.device)
    loss = out.loss.clone()
    if ctx.enabled:
        torch.distributed.all_reduce(loss)
        loss /= ctx.world_size
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    return loss.item(), grads


def train_args(pairs, output, config):
    return ["--pairs", str(pairs), "--output", str(output), "--init_config", str(config),
            "--batch_size", "8", "--chunk_size", "2", "--max_steps", "4", "--save_every", "2",
            "--log_every", "1", "--query_max_length", "16", "--passage_max_length", "24",
            "--lr", "1e-3", "--warmup_steps", "1", "--device", "cpu", "--no_progress"]


def _worker(rank, port, out_dir, pairs, config):
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    ctx = init_distributed("cpu")
    results = {}
    for name, chunk, cache in (("cached", 2, True), ("plain", None, False)):
        results[name] = contrastive_step(ctx, chunk, cache)
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    # The whole loop, in the same process group (train() uses the group it finds and leaves it be;
    # a second group on the same port could race with the first one's teardown).
    train(train_args(pairs, os.path.join(out_dir, "train"), config))
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    pairs = write_pair_version(out / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", make_texts(40, seed=9)))
    config = out / "bert.json"
    config.write_text(json.dumps(NO_DROPOUT))
    mp.spawn(_worker, args=(free_port(), str(out), str(pairs), str(config)), nprocs=WORLD, join=True)
    return {"steps": [torch.load(out / f"rank{r}.pt") for r in range(WORLD)], "dir": out}


@pytest.mark.parametrize("mode", ["cached", "plain"])
def test_two_ranks_match_one_rank(rank_results, mode):
    single_loss, single_grads = contrastive_step(DistContext(), None, False)
    for loss, grads in (r[mode] for r in rank_results["steps"]):
        assert loss == pytest.approx(single_loss, abs=1e-6)
        assert grads.keys() == single_grads.keys()
        for name in grads:
            torch.testing.assert_close(grads[name], single_grads[name], atol=1e-6, rtol=1e-4, msg=name)


def test_without_gather_the_ranks_would_differ(rank_results):
    """Control: each rank alone (its 4 rows, 4 negatives) has another loss than the 8-row batch."""
    single_loss, _ = contrastive_step(DistContext(), None, False)
    encoder = build_random_encoder(NO_DROPOUT, settings=TINY_SETTINGS, seed=0)
    items = make_texts(BATCH, seed=5)[:BATCH // 2]
    with torch.no_grad():
        q = encoder.encode([i[0] for i in items], "query")
        p = encoder.encode([i[1] for i in items], "passage")
    assert LOSS(q, p).item() != pytest.approx(single_loss, abs=1e-3)


def test_local_rows_split_the_global_batch():
    assert DistContext(rank=1, world_size=2).local_rows(8) == slice(4, 8)
    with pytest.raises(ValueError):
        DistContext(rank=0, world_size=3).local_rows(8)


def test_training_loop_on_two_ranks_matches_one_rank(rank_results, tmp_path):
    """The whole loop (data slicing, gather, DDP, clipping, AdamW, checkpoint) agrees across layouts."""
    out = rank_results["dir"]
    train(train_args(out / "pairs", tmp_path / "single", out / "bert.json"))
    log = lambda d: [json.loads(l) for l in (d / "train_log.jsonl").read_text().splitlines()]
    two, one = log(out / "train"), log(tmp_path / "single")
    assert [r["step"] for r in two] == [1, 2, 3, 4]
    for a, b in zip(two, one):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["accuracy"] == b["accuracy"]
    state_two = torch.load(out / "train" / "checkpoints" / "step-00000004.pt", weights_only=False)
    state_one = torch.load(tmp_path / "single" / "checkpoints" / "step-00000004.pt", weights_only=False)
    assert len(state_two["rng"]) == 2 and len(state_one["rng"]) == 1
    for name, value in state_one["model"].items():
        torch.testing.assert_close(state_two["model"][name], value, atol=1e-5, rtol=1e-4, msg=name)
