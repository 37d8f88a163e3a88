"""filtering.filter_pairs under crashes and misuse (issues 9 and 15): bad --version, --overwrite that
fails, two filters into one version, two workers on one shard, kill -9 mid-run, several --shard workers
at once (one clears, one builds the pool, none deletes another's output)."""

import json
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from filtering import filter_pairs  # noqa: E402
from model.embed import Embedder, load_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from tests.filtering.conftest import tiny_model  # noqa: E402
from tests.model.conftest import make_texts  # noqa: E402
from tests.model.processes import finish, kill_9, kill_moment_rng, start_command, wait_until  # noqa: E402



pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two models, six input shards, and an uninterrupted single-worker version to compare with."""
    root = tmp_path_factory.mktemp("filter")
    for name, seed in (("model", 0), ("other_model", 1)):
        tiny_model(root / name, seed)
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
    return filter_pairs.run(filter_pairs.build_parser().parse_args(argv(root, version, *extra)))


def version_dir(root, version):
    return root / "out" / filter_pairs.DATASET / version


def final_files(folder):
    """Files under their final names (temp files of writers are hidden: '.<name>.tmp-...')."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def file_bytes(folder):
    """Every final file's bytes but the manifest's (it holds its creation time) and the card's (it names
    its version), whose own reruns are checked in tests/schemas/test_dataset_card.py."""
    return {name: (folder / name).read_bytes() for name in final_files(folder)
            if name not in ("manifest.json", "README.md")}


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
        filter_pairs.main(argv(setup, str(victim), "--overwrite"))
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
        filter_pairs.main(argv(setup, "mixed", "--shard", "1/2", "--k", "3"))
    lines = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "--version mixed: this version was started" in lines[0]
    assert final_files(version_dir(setup, "mixed")) == before
    assert run(setup, "mixed", "--shard", "1/2")["complete"]  # the same options are welcome
    assert_same_as_reference(setup, "mixed")


def test_two_workers_on_the_same_shards_write_the_reference_version(setup):
    # --overwrite: a worker that starts after the other finished the whole version would otherwise be
    # refused ("a complete version"); with the same options it keeps the other's outputs.
    workers = [start_command("filtering.filter_pairs", argv(setup, "twins", "--overwrite")) for _ in range(2)]
    for worker in workers:
        err = finish(worker)
        assert worker.returncode == 0, err[-2000:]
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


def started_together(*argvs):
    """Start one filter process per argv at once; (return code, stderr) of each once all finished."""
    workers = [start_command("filtering.filter_pairs", argv) for argv in argvs]
    results = []
    for worker in workers:
        err = finish(worker)
        results.append((worker.returncode, err))
    return results


def test_two_workers_at_once_with_overwrite_give_the_one_worker_version(setup):
    """Both start with --overwrite over a version begun with another --k: one clears it, once; one
    builds the pool while the other waits; together they write the single worker's version."""
    run(setup, "pair", "--k", "3", "--shard", "0/2")
    results = started_together(argv(setup, "pair", "--shard", "0/2", "--overwrite"),
                               argv(setup, "pair", "--shard", "1/2", "--overwrite"))
    for code, err in results:
        assert code == 0, err[-2000:]
    logs = "".join(err for _, err in results)
    assert logs.count("--overwrite: clearing") == 1, logs[-3000:]
    assert logs.count("built the pool") == 1, logs[-3000:]
    assert_same_as_reference(setup, "pair")


def test_overwrite_never_deletes_another_workers_finished_output(setup):
    run(setup, "peer", "--shard", "0/2")
    folder = version_dir(setup, "peer")
    finished = {name: os.stat(folder / name).st_ino for name in final_files(folder)}
    assert run(setup, "peer", "--shard", "1/2", "--overwrite")["complete"]
    for name, inode in finished.items():
        assert os.stat(folder / name).st_ino == inode, f"{name} was rewritten"
    assert_same_as_reference(setup, "peer")


class CountingEmbedder(Embedder):
    """The real embedder, counting how often it embeds (how many times the pool was built)."""

    calls = 0

    def embed(self, texts, kind="passage", batch_size=128, progress=False):
        type(self).calls += 1
        return super().embed(texts, kind, batch_size, progress)


def test_the_pool_is_built_once_while_the_other_worker_waits(setup, tmp_path):
    options = {"a": 1}
    shards = filter_pairs.input_shards([str(setup / "pairs")])
    embedder = CountingEmbedder(load_encoder(str(setup / "model"), "cpu"), ["cpu"])
    start = threading.Barrier(2)

    def worker(_):
        start.wait()
        return filter_pairs.obtain_pool(tmp_path, shards, 100, embedder, 32, options)

    with ThreadPoolExecutor(2) as pool:
        (pool_a, vectors_a), (pool_b, vectors_b) = pool.map(worker, range(2))
    assert CountingEmbedder.calls == 1
    assert list(pool_a.entries) == list(pool_b.entries) and np.array_equal(vectors_a, vectors_b)
    assert not (tmp_path / filter_pairs.POOL_CLAIM_NAME).exists()
    assert filter_pairs.read_ready_pool(tmp_path, {"a": 2}, embedder.dim) is None  # built for other options: not reused


def test_a_dead_workers_pool_claim_is_taken_over(setup, tmp_path, caplog):
    from model import run_lock
    from tests.model.test_train_reliability import dead_pid

    stale = run_lock.Owner(dead_pid(), run_lock.Owner.this_process().host, "2026-01-01T00:00:00Z")
    (tmp_path / filter_pairs.POOL_CLAIM_NAME).write_bytes(stale.to_bytes())
    embedder = Embedder(load_encoder(str(setup / "model"), "cpu"), ["cpu"])
    with caplog.at_level(logging.INFO):
        pool, _ = filter_pairs.obtain_pool(
            tmp_path, filter_pairs.input_shards([str(setup / "pairs")]), 50, embedder, 32, {"a": 1}
        )
    assert len(pool) == 50 and "taking over" in caplog.text and str(stale.pid) in caplog.text


def test_outputs_without_recorded_options_are_not_reused(setup):
    shutil.copytree(version_dir(setup, "reference"), version_dir(setup, "unknown"))
    (version_dir(setup, "unknown") / "manifest.json").unlink()
    (version_dir(setup, "unknown") / filter_pairs.OPTIONS_NAME).unlink()
    with pytest.raises(SystemExit, match="holds outputs but no record of the options"):
        run(setup, "unknown")
    assert run(setup, "unknown", "--overwrite")["complete"]
    assert_same_as_reference(setup, "unknown")


def test_only_temp_files_of_dead_writers_are_removed(setup):
    from model import atomic
    from tests.model.test_train_reliability import dead_pid

    folder = version_dir(setup, "temps")
    folder.mkdir(parents=True)
    dead = folder / f".ranks-00000-of-00006.parquet{atomic.TMP_MARK}{atomic.host_tag()}-{dead_pid()}-00aa"
    live = atomic.temp_sibling(folder / "pairs-00001-of-00006.parquet")  # this process: alive
    elsewhere = folder / f".pool.parquet{atomic.TMP_MARK}00000000-1-00bb"  # another host's writer
    for path in (dead, live, elsewhere):
        path.write_bytes(b"partial")
    filter_pairs.settle_options(folder, {"k": 2}, overwrite=False)
    assert not dead.exists() and live.exists() and elsewhere.exists()


def test_the_corpus_jobs_pool_is_used_instead_of_a_new_scan(tmp_path, caplog):
    """A corpus version (pipelines/ccpairs.py) carries pool.parquet; the filter takes its smallest hashes."""
    from filtering.pool import sample_pool
    from schemas import versions

    corpus = tmp_path / "ccpairs" / "v1"
    write_pair_version(corpus, pairs_from_texts("alpha", make_texts(80, seed=3)), num_shards=2)
    shards = filter_pairs.input_shards([str(corpus)])
    drawn = sample_pool([str(s.path) for s in shards], 60)
    versions.write_table(corpus / "pool.parquet", drawn.to_table())
    manifest = versions.read_manifest(corpus)
    manifest.update(pool={"path": "pool.parquet", "rows": len(drawn)}, options={"pool_size": 60})
    versions.write_manifest(corpus, manifest)
    with caplog.at_level(logging.INFO):
        assert filter_pairs.corpus_pool(shards, 40).entries == sample_pool([str(s.path) for s in shards], 40).entries
    assert "using the corpus job's pool" in caplog.text
    assert filter_pairs.corpus_pool(shards, 70) is None  # the job drew 60 of more: a bigger pool needs a new scan
    versions.write_table(corpus / "pool.parquet", sample_pool([str(s.path) for s in shards], 1000).to_table())
    manifest.update(pool={"path": "pool.parquet", "rows": 80}, options={"pool_size": 1000})
    versions.write_manifest(corpus, manifest)
    assert len(filter_pairs.corpus_pool(shards, 5000)) == 80  # all 80 distinct passages: the whole sample
