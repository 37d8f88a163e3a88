"""filtering.filter_pairs under crashes and misuse (issue 9): bad --version, --overwrite that fails,
two filters into one version, two workers on one shard, kill -9 mid-run."""

import json
import os
import shutil
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from filtering import filter_pairs as F  # noqa: E402
from model.encoder import EncoderSettings, build_random_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from model.saving import save_encoder  # noqa: E402
from tests.model.conftest import TINY_BERT, make_texts  # noqa: E402
from tests.model.processes import kill_9, kill_moment_rng, start_command, wait_until  # noqa: E402

SETTINGS = EncoderSettings(query_max_length=16, passage_max_length=24)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As the child processes (tests.model.processes): results compared bitwise across processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two models, six input shards, and an uninterrupted single-worker version to compare with."""
    root = tmp_path_factory.mktemp("filter")
    for name, seed in (("model", 0), ("other_model", 1)):
        save_encoder(build_random_encoder(TINY_BERT, settings=SETTINGS, seed=seed), root / name)
    write_pair_version(root / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", make_texts(600, seed=1)), num_shards=4)
    write_pair_version(root / "pairs" / "beta" / "v1", pairs_from_texts("beta", make_texts(300, seed=2)), num_shards=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = run(root, "reference")
    finally:
        torch.set_num_threads(threads)
    assert reference["complete"]
    return root


def argv(root, version, *extra):
    return ["--model", str(root / "model"), "--pairs", str(root / "pairs"), "--output", str(root / "out"),
            "--version", version, "--pool_size", "100", "--device", "cpu", "--backend", "numpy", *extra]


def run(root, version, *extra):
    return F.run(F.build_parser().parse_args(argv(root, version, *extra)))


def version_dir(root, version):
    return root / "out" / F.DATASET / version


def final_files(folder):
    """Files under their final names (temp files of writers are hidden: '.<name>.tmp-...')."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def file_bytes(folder):
    """Every final file's bytes but the manifest's (it holds its creation time)."""
    return {name: (folder / name).read_bytes() for name in final_files(folder) if name != "manifest.json"}


def assert_same_as_reference(root, version):
    got, reference = version_dir(root, version), version_dir(root, "reference")
    assert final_files(got) == final_files(reference)
    assert file_bytes(got) == file_bytes(reference)
    counts = lambda v: json.loads((v / "manifest.json").read_text())["counts"]
    assert counts(got) == counts(reference)


def assert_every_final_file_is_whole(folder):
    for name in final_files(folder):
        path = folder / name
        if name.endswith(".parquet"):
            pq.read_table(path)
        elif name.endswith(".npy"):
            np.load(path)
        else:
            json.loads(path.read_text())


def test_a_version_outside_the_output_root_is_refused_and_nothing_deleted(setup, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("data.parquet", "vectors.npy", "manifest.json"):
        (victim / name).write_text("precious")
    with pytest.raises(SystemExit) as exit_info:
        F.main(argv(setup, str(victim), "--overwrite"))
    lines = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "argument --version: bad version" in lines[0]
    assert sorted(os.listdir(victim)) == ["data.parquet", "manifest.json", "vectors.npy"]


def test_a_failed_overwrite_deletes_nothing(setup, tmp_path):
    """--overwrite with a model that does not load: the complete version stays as it was."""
    shutil.copytree(version_dir(setup, "reference"), version_dir(setup, "kept"))
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(Exception):
        run(setup, "kept", "--overwrite", "--model", str(broken))
    assert_same_as_reference(setup, "kept")


def test_two_filters_into_one_version_are_refused(setup, capsys):
    """A second worker with another --k or --model would mix two filters' shards in one version."""
    first = run(setup, "mixed", "--shard", "0/2")
    assert not first["complete"]
    before = final_files(version_dir(setup, "mixed"))
    with pytest.raises(SystemExit, match=r"another --k 2 \(this run: 3\)"):
        run(setup, "mixed", "--shard", "1/2", "--k", "3")
    with pytest.raises(SystemExit, match="another --model"):
        run(setup, "mixed", "--shard", "1/2", "--model", str(setup / "other_model"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:  # the command refuses it while parsing, in one line
        F.main(argv(setup, "mixed", "--shard", "1/2", "--k", "3"))
    lines = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "--version mixed: this version was started" in lines[0]
    assert final_files(version_dir(setup, "mixed")) == before
    assert run(setup, "mixed", "--shard", "1/2")["complete"]  # the same options are welcome
    assert_same_as_reference(setup, "mixed")


def test_two_workers_on_the_same_shards_write_the_reference_version(setup):
    workers = [start_command("filtering.filter_pairs", argv(setup, "twins")) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()[-2000:]
    assert_same_as_reference(setup, "twins")


def test_kill_9_mid_run_then_rerun_gives_the_reference_version(setup):
    rng = kill_moment_rng()
    folder = version_dir(setup, "killed")
    written = rng.randint(1, 9)  # options, pool, vectors, then ranks+pairs per shard: 16 files in all
    process = start_command("filtering.filter_pairs", argv(setup, "killed"))
    wait_until(lambda: folder.is_dir() and len(final_files(folder)) >= written, process)
    time.sleep(rng.uniform(0, 0.01))
    kill_9(process)

    assert not (folder / "manifest.json").exists()
    assert_every_final_file_is_whole(folder)
    assert run(setup, "killed")["complete"]
    assert_same_as_reference(setup, "killed")
