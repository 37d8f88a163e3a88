"""A source with fewer distinct pairs than --batch_size gives short batches (issue 15): training goes on,
alone and under several ranks, which share such a batch equally or all skip it; none waits alone."""

import json
import os
import time

import pytest
import torch
import torch.multiprocessing as mp

from model.distributed import DistContext
from model.pairs_io import pairs_from_texts, write_pair_version
from model.train import train
from tests.model.conftest import make_texts
from tests.model.test_distributed import NO_DROPOUT, free_port


def short_source(path, source, n, seed):
    """A version of n distinct pairs."""
    return write_pair_version(path / source / "v1", pairs_from_texts(source, make_texts(n, seed=seed)))


def args_for(pairs, output, config, *extra):
    return ["--pairs", str(pairs), "--output", str(output), "--init_config", str(config), "--batch_size", "8",
            "--chunk_size", "2", "--max_steps", "3", "--log_every", "1", "--save_every", "3",
            "--query_max_length", "16", "--passage_max_length", "24", "--lr", "1e-3", "--warmup_steps", "1",
            "--device", "cpu", "--no_progress", *extra]


def read_log(output):
    return [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("short")
    config = root / "bert.json"
    config.write_text(json.dumps(NO_DROPOUT))
    short_source(root / "six", "six", 6, seed=21)  # 6 distinct pairs for a batch of 8
    short_source(root / "five", "five", 5, seed=22)  # 5: odd, one row left out under 2 ranks
    short_source(root / "two", "two", 2, seed=23)  # 2: fewer than 3 ranks
    short_source(root / "two", "many", 40, seed=24)
    return root, config


def test_rows_of_a_short_batch_are_shared_equally_or_skipped():
    shares = lambda n, world: [DistContext(rank=r, world_size=world).rows_of_batch(n) for r in range(world)]
    assert shares(8, 2) == [slice(0, 4), slice(4, 8)]
    assert shares(5, 2) == [slice(0, 2), slice(2, 4)]  # row 4 left out on both ranks
    assert shares(2, 2) == [slice(0, 1), slice(1, 2)]
    assert shares(2, 3) == [None, None, None]  # every rank skips it
    assert shares(7, 4) == [slice(0, 1), slice(1, 2), slice(2, 3), slice(3, 4)]
    assert DistContext().rows_of_batch(2) == slice(0, 2)


def test_one_process_trains_on_a_source_smaller_than_the_batch(setup, tmp_path):
    """Before issue 15 this raised: Expected input batch_size (6) to match target batch_size (8)."""
    root, config = setup
    summary = train(args_for(root / "six", tmp_path / "run", config))
    log = read_log(tmp_path / "run")
    assert summary["step"] == 3 and [r["batch_rows"] for r in log] == [6, 6, 6]
    assert log[-1]["short_batches"] == 3 and log[-1]["skipped_steps"] == 0
    assert all(r["loss"] == r["loss"] for r in log)  # not NaN


def test_the_log_says_what_each_source_gave_and_warns_of_a_source_under_one_batch(setup, tmp_path, caplog):
    """Issue 28.6: Common Crawl's 49 pairs at batch 64 made one short batch per epoch, silently."""
    root, config = setup
    with caplog.at_level("WARNING", logger="model.train"):
        train(args_for(root / "two", tmp_path / "run", config, "--source_weights", "two=1", "many=1", "--max_steps",
                       "6", "--save_every", "6", "--batch_size", "6"))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("'two' has 2 pairs, fewer than one batch of 6" in w for w in warnings)
    assert not any("'many'" in w for w in warnings)
    log = read_log(tmp_path / "run")
    given = log[-1]["batches_by_source"]
    assert set(given) == {"two", "many"} and sum(given.values()) == 6 and given["two"] > 0
    assert given["two"] == sum(1 for r in log if r["source"] == "two")


def _worker(rank, world, port, root, config):
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from model.distributed import init_distributed

    init_distributed("cpu")  # one group for every run below: train() uses it and leaves it be
    if world == 2:
        runs = [("six", []), ("five", [])]
    else:
        runs = [("two", ["--source_weights", "two=1", "many=1", "--max_steps", "4", "--save_every", "4",
                         "--batch_size", "6"])]
    for name, extra in runs:
        train(args_for(root / name, root / f"ranks{world}-{name}", config, *extra))
    torch.distributed.destroy_process_group()


def spawn(world, root, config, limit=300.0):
    """Run the ranks; a rank that waits on the others for ever fails the test instead of hanging it."""
    context = mp.start_processes(_worker, args=(world, free_port(), root, config), nprocs=world, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + limit
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"{world} ranks still running after {limit:.0f} s: a rank is waiting on the others")


@pytest.fixture(scope="module")
def two_ranks(setup):
    root, config = setup
    spawn(2, root, config)
    return root


def test_two_ranks_share_a_short_batch_and_match_one_rank(setup, two_ranks, tmp_path):
    root, config = setup
    train(args_for(root / "six", tmp_path / "single", config))
    two, one = read_log(two_ranks / "ranks2-six"), read_log(tmp_path / "single")
    assert [r["batch_rows"] for r in two] == [6, 6, 6]
    for a, b in zip(two, one):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1e-6)  # a mean of per-rank means


def test_two_ranks_leave_out_the_odd_row_of_a_short_batch(two_ranks):
    log = read_log(two_ranks / "ranks2-five")
    assert [r["step"] for r in log] == [1, 2, 3] and {r["batch_rows"] for r in log} == {4}


def test_three_ranks_skip_a_batch_too_short_to_share_and_finish(setup):
    """Source "two" cannot give 3 ranks a row each: its batches are skipped on all ranks, not waited on."""
    root, config = setup
    spawn(3, root, config)
    log = read_log(root / "ranks3-two")
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert {r["source"] for r in log} == {"many"} and log[-1]["skipped_steps"] > 0
    state = torch.load(root / "ranks3-two" / "checkpoints" / "step-00000004.pt", weights_only=False)
    assert len(state["rng"]) == 3
