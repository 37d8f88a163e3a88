"""Issue 9's findings, each as the input or the crash that broke a promise, run through the real jobs."""

import io
import json
import os
import pathlib
import subprocess
import sys

import pytest
import zstandard

import sources.stackexchange
from pipelines import reddit, sink, stackexchange
from schemas import versions
from sources.demo_inputs.reddit import write_zst_ndjson
from sources.demo_inputs.stackexchange import generate_rows, posts_xml, write_bytes
from sources.formats.readers import InputReadError, RawLine, TruncatedTail, iter_lines
from sources.text.markdown import clean_markdown
from tests.pipelines.conftest import comment_body

ROOT = pathlib.Path(__file__).resolve().parents[2]


def sub(i=1, **kw):
    return dict({"id": f"s{i}", "title": f"How do you brew coffee at home, part {i}?", "selftext": "", "author": "op",
                 "score": 3, "created_utc": 1000, "subreddit": "coffee"}, **kw)


def com(cid, parent="t3_s1", **kw):
    return dict({"id": cid, "body": comment_body(cid), "parent_id": parent, "author": "u", "score": 5,
                 "created_utc": 2000, "subreddit": "coffee"}, **kw)


def run(module, inputs, out, *extra):
    argv = [a for i in inputs for a in ("--input", str(i))] + ["--output", str(out), "--version", "v1", *extra]
    version = module.run(argv)
    return version, json.loads(pathlib.Path(version, "manifest.json").read_text())


def test_finding_1_hostile_values_are_rejects_and_the_job_goes_on(tmp_path):
    write_zst_ndjson(str(tmp_path / "RC.zst"), [sub(), com("a"), com("b", parent="t1_a")], [
        b'{"id": "x1", "body": "ok ok ok ok ok ok ok ok", "parent_id": "t3_s1", "score": 99999999999999999999}',
        b'{"id": "x2", "body": "ok ok ok ok ok ok ok ok", "parent_id": "t3_s1", "created_utc": 1e15}',
        b'{"id": "x3", "body": "ok ok ok ok ok ok ok ok \\ud83d", "parent_id": "t3_s1"}',
        b'{"id": "x4", "body": "ok ok ok ok ok ok ok ok", "parent_id": "t3_s1", "score": "\xd9\xa1\xd9\xa2"}',
        b'{"id": "x5", "body": "a comment that answers itself", "parent_id": "t1_x5"}',
    ])
    _, manifest = run(reddit, [tmp_path / "RC.zst"], tmp_path / "out", "--any_language")
    assert manifest["counts"]["records_rejected"] == {"value_out_of_range": 2, "invalid_utf8": 1,
                                                       "bad_field_type": 1, "self_reference": 1}
    assert manifest["counts"]["pairs"] == 2

    rows = generate_rows(3, seed=1)
    rows[1]["Score"] = "99999999999999999999"
    rows[2]["Id"] = "\u0661\u0662"  # Arabic-Indic digits: int() would read 12
    write_bytes(str(tmp_path / "se" / "beer.stackexchange.com" / "Posts.xml"), b"".join(posts_xml(rows)))
    _, manifest = run(stackexchange, [tmp_path / "se" / "*" / "Posts.xml"], tmp_path / "out")
    assert manifest["counts"]["records_rejected"] == {"value_out_of_range": 1, "bad_field_type": 1}


def test_finding_2_unclosed_markers_clean_in_linear_time_through_the_job(tmp_path):
    hostile = "**a " * 250_000  # 289 bytes of zstd; the old bold regex took minutes on it
    dump = zstandard.ZstdCompressor(level=19).compress(json.dumps(com("h", body=hostile)).encode() + b"\n")
    (tmp_path / "RC.zst").write_bytes(dump)
    assert len(dump) < 1000
    _, manifest = run(reddit, [tmp_path / "RC.zst"], tmp_path / "out")
    assert manifest["counts"]["records_read"] == 1
    assert clean_markdown("**bold** and ~~gone~~ >!spoiler!<") == "bold and gone spoiler"


def test_findings_4_5_a_second_writer_fails_and_a_failed_overwrite_keeps_the_old_version(tmp_path, monkeypatch):
    write_zst_ndjson(str(tmp_path / "RC.zst"), [sub(), com("a")])
    version, _ = run(reddit, [tmp_path / "RC.zst"], tmp_path / "out")
    before = {p.name: p.read_bytes() for p in pathlib.Path(version).iterdir()}

    held = versions.claim_version(version, overwrite=True)  # a live run (this process) is writing it
    with pytest.raises(versions.VersionBusy, match="being written by another run"):
        run(reddit, [tmp_path / "RC.zst"], tmp_path / "out", "--overwrite")
    versions.release(held)

    def crash(self, *args, **kwargs):
        raise RuntimeError("the machine died before publishing")

    monkeypatch.setattr(sink._PublishVersion, "process", crash)
    with pytest.raises(Exception, match="machine died"):
        run(reddit, [tmp_path / "RC.zst"], tmp_path / "out", "--overwrite")
    assert {p.name: p.read_bytes() for p in pathlib.Path(version).iterdir()} == before
    assert sorted(p.name for p in (tmp_path / "out" / "reddit").iterdir()) == ["v1"]  # claim and staging gone


def test_finding_4_two_concurrent_writers_give_one_clean_version(tmp_path):
    records = [sub(i) for i in range(40)] + [com(f"c{i}", parent=f"t3_s{i % 40}") for i in range(400)]
    write_zst_ndjson(str(tmp_path / "RC.zst"), records)
    argv = [sys.executable, "-m", "pipelines.reddit", "--input", str(tmp_path / "RC.zst"), "--output",
            str(tmp_path / "out"), "--version", "v1", "--any_language"]
    # Logs go to files, not pipes: a run whose log outgrew a pipe nobody reads until it exits would hang.
    logs = [tmp_path / f"run{i}.log" for i in range(2)]
    with open(logs[0], "w") as first, open(logs[1], "w") as second:
        runs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log) for log in (first, second)]
        codes_in_order = [p.wait(timeout=300) for p in runs]
    results = [(code, log.read_text()) for code, log in zip(codes_in_order, logs)]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0
    if codes[1] != 0:  # the usual case: the second launch met the first one's claim (or its version)
        loser = [err for code, err in results if code != 0][0]
        assert ("being written by another run" in loser or "is a complete version" in loser), loser
        assert loser.strip().splitlines()[-1].startswith("python -m pipelines.reddit: error:")
    version = tmp_path / "out" / "reddit" / "v1"
    manifest = versions.read_manifest(version)
    assert [s.path for s in versions.pair_shards(version)] and manifest["counts"]["pairs"] == 40
    assert sorted(p.name for p in (tmp_path / "out" / "reddit").iterdir()) == ["v1"]


class FailingReads(io.RawIOBase):
    """A file whose reads fail after some bytes, as a network read can."""

    def __init__(self, data: bytes, fail_after: int):
        self._data, self._pos, self._fail_after = data, 0, fail_after

    def readable(self):
        return True

    def read(self, size=-1):
        if self._pos >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        size = len(self._data) if size < 0 else size
        chunk = self._data[self._pos:min(self._pos + size, self._fail_after)]
        self._pos += len(chunk)
        return chunk


def test_finding_7_a_read_error_is_not_data_but_a_cut_stream_is(tmp_path):
    import bz2
    import random

    rng = random.Random(0)
    data = b"".join(b'{"n": %d, "r": "%s"}\n' % (i, rng.randbytes(16).hex().encode()) for i in range(2000))
    assert len(bz2.compress(data)) > 6000
    with pytest.raises(InputReadError):
        list(iter_lines(FailingReads(data, 5000), "plain.jsonl", chunk_bytes=1024))
    with pytest.raises(InputReadError):
        list(iter_lines(FailingReads(bz2.compress(data), 3000), "x.jsonl.bz2", chunk_bytes=1024))
    cut = list(iter_lines(io.BytesIO(bz2.compress(data)[:3000]), "x.jsonl.bz2", chunk_bytes=1024))
    assert isinstance(cut[-1], TruncatedTail) and all(isinstance(i, RawLine) for i in cut[:-1])


def test_findings_7_10_shrunk_empty_and_utf16_files_are_counted_rejects(tmp_path):
    rows = generate_rows(40, seed=2)
    big = write_bytes(str(tmp_path / "se" / "beer.stackexchange.com" / "Posts.xml"), b"".join(posts_xml(rows)))
    write_bytes(str(tmp_path / "se" / "coffee.stackexchange.com" / "Posts.xml"), b"")
    utf16 = b"".join(posts_xml(generate_rows(3, seed=3), bom=False)).decode("utf-8").encode("utf-16")
    write_bytes(str(tmp_path / "se" / "tea.stackexchange.com" / "Posts.xml"), utf16)
    from pipelines.splits import plan_read_units

    planned = plan_read_units([{"path": big, "bytes": os.path.getsize(big)}], 4096)
    assert len(planned) > 2
    with open(big, "r+b") as handle:  # the file shrinks after planning: its last ranges come up short
        handle.truncate(os.path.getsize(big) - 5000)

    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.read import ReadSource

    files = [{"path": big, "bytes": os.path.getsize(big) + 5000},
             {"path": str(tmp_path / "se" / "coffee.stackexchange.com" / "Posts.xml"), "bytes": 0},
             {"path": str(tmp_path / "se" / "tea.stackexchange.com" / "Posts.xml"), "bytes": len(utf16)}]
    config = sources.stackexchange.StackExchangeConfig()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = p | ReadSource("stackexchange", plan_read_units(files, 4096), stackexchange.ReadPostsXml(),
                              stackexchange._Parser(config))
        reasons = read["rejects"] | beam.Map(lambda r: (r["reason"], r["input_file"].split("/")[-2]))
        from apache_beam.testing.util import assert_that, equal_to

        assert_that(reasons | "Distinct" >> beam.Distinct(), equal_to([
            ("truncated_input", "beer.stackexchange.com"),  # ranges past the new end: read 0 of their bytes
            ("invalid_xml", "beer.stackexchange.com"),  # the row the truncation cut in half
            ("empty_file", "coffee.stackexchange.com"), ("not_utf8_file", "tea.stackexchange.com")]))


@pytest.mark.parametrize("delay", [0.8, 1.4, 2.0])  # the job takes ~2.5 s here: before, during, near its end
def test_kill_9_at_any_moment_leaves_no_torn_version_and_a_rerun_finishes(tmp_path, delay):
    import signal
    import time

    records = [sub(i) for i in range(300)] + [com(f"c{i}", parent=f"t3_s{i % 300}") for i in range(3000)]
    write_zst_ndjson(str(tmp_path / "RC.zst"), records)
    argv = [sys.executable, "-m", "pipelines.reddit", "--input", str(tmp_path / "RC.zst"), "--output",
            str(tmp_path / "out"), "--version", "v1", "--any_language", "--num_shards", "3"]
    victim = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    version = tmp_path / "out" / "reddit" / "v1"
    if version.exists():  # killed after publishing: then it is whole
        assert versions.is_complete(version) and versions.pair_shards(version)
    else:
        assert not any(p.name.startswith("pairs-") for p in (tmp_path / "out").rglob("*") if p.parent == version)
    again = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if version.exists() and again.returncode != 0:
        assert "is a complete version" in again.stderr  # the killed run had finished
    else:
        assert again.returncode == 0, again.stderr[-2000:]
    clean, _ = run(reddit, [tmp_path / "RC.zst"], tmp_path / "clean", "--any_language", "--num_shards", "3")
    for shard in versions.pair_shards(clean):
        assert (version / os.path.basename(shard.path)).read_bytes() == pathlib.Path(shard.path).read_bytes()
    assert sorted(p.name for p in (tmp_path / "out" / "reddit").iterdir()) == ["v1"]


def test_case_8_kill_9_at_every_step_of_the_corpus_jobs_publish_keeps_the_version(tmp_path):
    """Issue 22, case 8 ("a kill -9 at any point of publish leaves the version readable"): the corpus job
    replacing its version with --overwrite is killed (CCPAIRS_PUBLISH_CRASH_AT: os._exit between two steps
    of publish) at each step in turn. After each kill the version reads whole through schemas.versions,
    as the one it was before (or the new one, once swapped), with the user's own file; the next run
    takes over and finishes, and nothing but the version is left in the folder."""
    from pipelines import ccpairs
    from sources.demo_inputs.corpus import planted_corpus

    pairs, _ = planted_corpus(n_plain=20)
    made = {source: versions.write_pair_version(tmp_path / source / "v1", rows, dataset=source)
            for source, rows in pairs.items()}
    only_reddit, both = [made["reddit"]], [made["reddit"], made["stackexchange"]]

    def argv(inputs):
        return [a for d in inputs for a in ("--input", d)] + [
            "--output", str(tmp_path / "out"), "--version", "c1", "--overwrite", "--no_report", "--pool_size", "10"]

    version = tmp_path / "out" / "ccpairs" / "c1"
    ccpairs.run(argv(only_reddit))
    (version / "NOTES.txt").write_text("mine")
    visible = only_reddit
    for step, wanted in [("staged", both), ("kept", both), ("swapped", both), ("cleaned", only_reddit)]:
        killed = subprocess.run([sys.executable, "-m", "pipelines.ccpairs", *argv(wanted)], cwd=ROOT, timeout=300,
                                env=dict(os.environ, **{versions.CRASH_AT_ENV: step}), capture_output=True, text=True)
        assert killed.returncode == 137, killed.stderr[-2000:]
        if step in ("swapped", "cleaned"):
            visible = wanted
        manifest = versions.read_manifest(version)
        assert [entry["path"] for entry in manifest["inputs"]] == visible, step
        assert versions.read_pairs(version).num_rows == manifest["counts"]["pairs"] > 0
        assert (version / "NOTES.txt").read_text() == "mine"
        assert versions.list_versions(tmp_path / "out", "ccpairs") == ["c1"]
    ccpairs.run(argv(both))
    assert [entry["path"] for entry in versions.read_manifest(version)["inputs"]] == both
    assert (version / "NOTES.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "out" / "ccpairs").iterdir()) == ["c1"]
