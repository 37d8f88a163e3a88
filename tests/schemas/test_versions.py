"""The version folder: written atomically, read one way, complete only with a readable manifest."""

import argparse
import io
import json
import logging
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from schemas import versions
from schemas.cli import version_name
from schemas.manifest import MANIFEST_NAME
from schemas.pairs import PAIR_SCHEMA, make_pair


def pairs(n, source="reddit"):
    return [make_pair(source=source, subsource="s", query=f"question {i}?", passage=f"answer number {i}.",
                      query_id=f"q{i}", passage_id=f"p{i}") for i in range(n)]


def files_in(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("as_uri", [False, True], ids=["plain-path", "file-uri"])
def test_round_trip(tmp_path, as_uri):
    output = tmp_path.as_uri() if as_uri else str(tmp_path)
    written = pairs(7)
    version = versions.version_path(output, "reddit", "20261122T113000Z")
    assert versions.write_pair_version(version, written, num_shards=3, rows_per_group=2) == version
    assert files_in(tmp_path / "reddit" / "20261122T113000Z") == [
        MANIFEST_NAME, "pairs-00000-of-00003.parquet", "pairs-00001-of-00003.parquet", "pairs-00002-of-00003.parquet"]

    manifest = versions.read_manifest(version)
    assert manifest["dataset"] == "reddit" and manifest["version"] == "20261122T113000Z"
    shards = versions.pair_shards(version)
    assert [s.rows for s in shards] == [3, 2, 2] and shards[0].row_group_rows == (2, 1)
    assert all(s.path.startswith(output) and s.source == "reddit" and s.size > 0 for s in shards)
    table = versions.read_pairs(version)
    assert table.schema.equals(PAIR_SCHEMA)
    assert sorted(table.column("pair_id").to_pylist()) == sorted(p["pair_id"] for p in written)
    assert versions.find_version_dirs(output) == [version]
    assert versions.list_versions(output, "reddit") == ["20261122T113000Z"]


def test_shards_are_byte_identical_to_plain_zstd_parquet(tmp_path):
    rows = pairs(5)
    versions.write_rows(tmp_path / "a.parquet", rows, PAIR_SCHEMA)
    versions.write_rows(tmp_path / "b.parquet", rows, PAIR_SCHEMA)
    expected = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=PAIR_SCHEMA), expected, compression="zstd")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes() == expected.getvalue()


def test_a_failed_manifest_write_keeps_the_old_manifest(tmp_path, monkeypatch):
    version = versions.write_pair_version(tmp_path / "v1", pairs(3))
    before = (tmp_path / "v1" / MANIFEST_NAME).read_bytes()
    manifest = versions.read_manifest(version)

    with pytest.raises(TypeError):  # a value JSON cannot hold: fails before anything is written
        versions.write_manifest(version, dict(manifest, options={"bad": {1, 2}}))

    def crash(src, dst):  # the process dies between writing the temporary file and the rename
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        versions.write_manifest(version, dict(manifest, version="changed"))
    with pytest.raises(OSError, match="simulated crash"):
        versions.write_manifest(tmp_path / "fresh", manifest)
    monkeypatch.undo()

    assert (tmp_path / "v1" / MANIFEST_NAME).read_bytes() == before
    assert files_in(tmp_path / "v1") == [MANIFEST_NAME, "pairs-00000-of-00001.parquet"]  # no temp files left
    assert files_in(tmp_path / "fresh") == []
    assert not versions.is_complete(tmp_path / "fresh")


@pytest.mark.parametrize("content", [b"", b"  \n", b'{"dataset": "reddit", "shar', b"[1, 2]"],
                         ids=["empty", "blank", "torn", "not-a-manifest"])
def test_a_corrupt_manifest_is_a_clear_error_and_skipped_when_walking(tmp_path, content, caplog):
    versions.write_pair_version(tmp_path / "reddit" / "v1", pairs(3))
    broken = versions.write_pair_version(tmp_path / "reddit" / "v2", pairs(4))
    (tmp_path / "reddit" / "v2" / MANIFEST_NAME).write_bytes(content)

    with pytest.raises(versions.CorruptManifestError, match=r"v2.manifest\.json"):
        versions.read_manifest(broken)
    assert not versions.is_complete(broken)
    with pytest.raises(versions.CorruptManifestError):
        versions.find_version_dirs(broken)  # named directly: refused
    with caplog.at_level(logging.WARNING):
        found = versions.find_version_dirs(tmp_path)  # found while walking: skipped
    assert found == [str(tmp_path / "reddit" / "v1")]
    assert "skipping" in caplog.text and "v2" in caplog.text
    assert versions.list_versions(tmp_path, "reddit") == ["v1"]


def test_a_version_without_manifest_is_incomplete(tmp_path, caplog):
    versions.write_pair_version(tmp_path / "reddit" / "v1", pairs(3))
    versions.write_pair_version(tmp_path / "reddit" / "v2", pairs(3))
    (tmp_path / "reddit" / "v2" / MANIFEST_NAME).unlink()
    with pytest.raises(versions.IncompleteVersionError, match="no manifest.json"):
        versions.read_manifest(tmp_path / "reddit" / "v2")
    with pytest.raises(versions.IncompleteVersionError, match="no manifest.json"):
        versions.find_version_dirs(tmp_path / "reddit" / "v2")
    with caplog.at_level(logging.WARNING):
        assert versions.find_version_dirs(tmp_path / "reddit") == [str(tmp_path / "reddit" / "v1")]
    assert "incomplete" in caplog.text
    with pytest.raises(FileNotFoundError):
        versions.find_version_dirs(tmp_path / "nowhere")


def test_list_and_latest_versions_ignore_incomplete_ones(tmp_path):
    for name in ("20261121T090000Z", "20261122T113000Z", "20261123T000000Z"):
        versions.write_pair_version(versions.version_path(tmp_path, "reddit", name), pairs(2))
    os.remove(os.path.join(versions.version_path(tmp_path, "reddit", "20261123T000000Z"), MANIFEST_NAME))
    assert versions.list_versions(tmp_path, "reddit") == ["20261121T090000Z", "20261122T113000Z"]
    assert versions.latest_version(tmp_path, "reddit") == "20261122T113000Z"
    assert versions.latest_version(tmp_path.as_uri(), "reddit") == "20261122T113000Z"
    assert (
        versions.list_versions(tmp_path, "stackexchange") == []
        and versions.latest_version(tmp_path, "stackexchange") is None
    )


def test_claim_refuses_a_complete_version_and_publish_replaces_a_failed_one(tmp_path):
    version = versions.write_pair_version(tmp_path / "v1", pairs(3), num_shards=2)
    (tmp_path / "v1" / "NOTES.txt").write_text("not ours")
    with pytest.raises(versions.VersionExists, match="--overwrite"):
        versions.claim_version(version, overwrite=False)
    assert versions.is_complete(version)

    (tmp_path / "v1" / MANIFEST_NAME).unlink()  # a failed run: shards, a leftover temp file, no manifest
    (tmp_path / "v1" / ".pairs-00000-of-00001.parquet.tmp-abc").write_bytes(b"half")
    claim = versions.claim_version(version, overwrite=False)
    assert "NOTES.txt" in files_in(tmp_path / "v1")  # nothing under the version's name changes at launch
    versions.write_rows(versions.join(claim.staging_dir, "pairs-00000-of-00001.parquet"), pairs(2), PAIR_SCHEMA)
    versions.publish(claim, versions.read_manifest(versions.write_pair_version(tmp_path / "model", pairs(2))))
    assert files_in(tmp_path / "v1") == ["NOTES.txt", MANIFEST_NAME, "pairs-00000-of-00001.parquet"]
    assert not any(p.name.startswith(".v1") for p in tmp_path.iterdir())  # no claim, no staging left
    versions.claim_version(tmp_path / "new" / "v1", overwrite=False)
    assert not (tmp_path / "new" / "v1").exists()  # appears only when published


def test_a_second_writer_fails_while_the_first_holds_the_claim(tmp_path):
    first = versions.claim_version(tmp_path / "v1", overwrite=False)
    with pytest.raises(versions.VersionBusy, match="being written by another run"):
        versions.claim_version(tmp_path / "v1", overwrite=True)
    versions.release(first)
    versions.release(versions.claim_version(tmp_path / "v1", overwrite=False))


def test_a_dead_runs_claim_and_staging_are_taken_over(tmp_path):
    dead = versions.claim_version(tmp_path / "v1", overwrite=False)
    holder = json.loads(open(dead.claim_path).read())
    holder["pid"] = 2**22 + 12345  # no such process
    open(dead.claim_path, "w").write(json.dumps(holder))
    versions.write_rows(versions.join(dead.staging_dir, "pairs-00000-of-00001.parquet"), pairs(1), PAIR_SCHEMA)
    claim = versions.claim_version(tmp_path / "v1", overwrite=False)
    assert not os.path.exists(dead.staging_dir)
    with pytest.raises(versions.VersionBusy, match="taken over"):
        versions.publish(dead, {})
    versions.release(claim)


def test_a_retried_publish_after_the_swap_keeps_the_published_version(tmp_path):
    claim = versions.claim_version(tmp_path / "v1", overwrite=False)
    versions.write_rows(versions.join(claim.staging_dir, "pairs-00000-of-00001.parquet"), pairs(2), PAIR_SCHEMA)
    manifest = versions.read_manifest(versions.write_pair_version(tmp_path / "model", pairs(2)))
    versions.publish(claim, manifest)
    (tmp_path / ".v1.claim").write_text(json.dumps({"run_id": claim.run_id, "pid": os.getpid()}))  # crash before
    versions.publish(claim, manifest)  # the runner retries the step
    assert files_in(tmp_path / "v1") == [MANIFEST_NAME, "pairs-00000-of-00001.parquet"]
    assert not (tmp_path / ".v1.claim").exists()


def test_a_failed_overwrite_leaves_the_old_version_intact(tmp_path):
    version = versions.write_pair_version(tmp_path / "v1", pairs(3))
    before = {p.name: p.read_bytes() for p in (tmp_path / "v1").iterdir()}
    claim = versions.claim_version(version, overwrite=True)
    versions.write_rows(versions.join(claim.staging_dir, "pairs-00000-of-00001.parquet"), pairs(1), PAIR_SCHEMA)
    versions.release(claim)  # the run failed before publishing
    assert {p.name: p.read_bytes() for p in (tmp_path / "v1").iterdir()} == before


def test_pair_shards_checks_the_files_against_the_manifest(tmp_path):
    version = versions.write_pair_version(tmp_path / "v1", pairs(4), num_shards=2)
    manifest = versions.read_manifest(version)
    manifest["shards"][0]["rows"] = 5
    with pytest.raises(ValueError, match="manifest says 5 rows"):
        versions.pair_shards(version, manifest)
    (tmp_path / "v1" / "pairs-00001-of-00002.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="pairs-00001-of-00002.parquet"):
        versions.pair_shards(version)


def test_paths_join_locally_and_for_uris(tmp_path):
    assert versions.version_path("gs://bucket/out/", "reddit", "v1") == "gs://bucket/out/reddit/v1"
    assert versions.version_path("s3://bucket/out", "reddit", "v1") == "s3://bucket/out/reddit/v1"
    assert versions.version_path("out", "reddit", "v1") == os.path.join("out", "reddit", "v1")
    assert versions.shard_name("pairs", 3, 12) == "pairs-00003-of-00012.parquet"
    assert versions.base_name("gs://bucket/out/v1/") == "v1" and versions.base_name(tmp_path / "v2") == "v2"
    fs, path = versions.resolve((tmp_path / "x").as_uri())
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path / "x")
    fs, path = versions.resolve("relative/dir")
    assert isinstance(fs, pafs.LocalFileSystem) and path == os.path.abspath("relative/dir")
    assert json.loads(json.dumps(versions.read_manifest(versions.write_pair_version(tmp_path / "v", pairs(1)))))


# ---- issue 22: hostile input at web scale ----

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("name", ["LATEST", "latest", ".v1", ".v1.staging-0123456789abcdef", "v1\nv2", "v1\x1b[2J",
                                  "v\u202e1", "v" * 201])
def test_case_7_reserved_hidden_and_control_character_names_are_refused(tmp_path, name):
    """Issue 22, case 7: LATEST, hidden names and control characters never name a version, at the
    flag (schemas.cli.version_name, every command's --version) and at the claim, before anything is written."""
    with pytest.raises(argparse.ArgumentTypeError, match="bad version"):
        version_name(name)
    with pytest.raises(versions.VersionRefused, match="bad version"):
        versions.claim_version(tmp_path / "ccpairs" / name, overwrite=True)
    assert not (tmp_path / "ccpairs").exists()
    assert version_name("2026-11-22") == "2026-11-22" and version_name("v1 final") == "v1 final"


def test_case_7_a_lost_latest_pointer_is_an_error_not_no_pointer(tmp_path):
    """Issue 22, case 7: a LATEST that is a folder (a version once named LATEST) or holds no version name
    is refused when read or moved, instead of reading as 'no run yet' or crashing the next scheduled run."""
    folder = tmp_path / "ccpairs"
    versions.write_pair_version(folder / "v1", pairs(2))
    assert versions.read_latest(folder) is None
    versions.write_latest(folder, "v1")
    assert versions.read_latest(folder) == "v1"
    with pytest.raises(versions.VersionRefused, match="bad version 'LATEST'"):
        versions.write_latest(folder, "LATEST")
    (folder / "LATEST").write_text("v1\nv2\n")
    with pytest.raises(versions.VersionError, match="not a version name"):
        versions.read_latest(folder)
    (folder / "LATEST").unlink()
    (folder / "LATEST").mkdir()
    (folder / "LATEST" / MANIFEST_NAME).write_text((folder / "v1" / MANIFEST_NAME).read_text())
    for call in (lambda: versions.read_latest(folder), lambda: versions.write_latest(folder, "v1"),
                 lambda: versions.resolve_latest(str(folder / "LATEST"))):
        with pytest.raises(versions.VersionError, match="is a folder, not the LATEST pointer"):
            call()
    assert versions.list_versions(tmp_path, "ccpairs") == ["v1"]


def test_case_8_list_versions_shows_published_versions_only(tmp_path):
    """Issue 22, case 8: staging and set-aside folders (hidden, complete once their manifest is in) are
    never listed or found as versions."""
    versions.write_pair_version(tmp_path / "reddit" / "v1", pairs(2))
    hidden = [".v1.staging-0123456789abcdef", ".v1.replaced-0123456789abcdef", ".v3.staging-0123456789abcdef"]
    for i, name in enumerate(hidden):  # complete copies, as a publish cut short leaves them
        versions.write_pair_version(tmp_path / "reddit" / f"spare{i}", pairs(1))
    for i, name in enumerate(hidden):
        os.rename(tmp_path / "reddit" / f"spare{i}", tmp_path / "reddit" / name)
    assert versions.list_versions(tmp_path, "reddit") == ["v1"]
    assert versions.latest_version(tmp_path, "reddit") == "v1"
    assert versions.find_version_dirs(tmp_path / "reddit") == [str(tmp_path / "reddit" / "v1")]
    assert versions.find_version_dirs(tmp_path) == [str(tmp_path / "reddit" / "v1")]


PUBLISH = """
import sys
from schemas import versions
from tests.schemas.test_versions import pairs
version_dir, mode = sys.argv[1], sys.argv[2]
if mode == "no-exchange":  # a system or filesystem without renameat2's RENAME_EXCHANGE
    versions._exchange = lambda first, second: False
versions.write_pair_version(version_dir, pairs(5), num_shards=2)
"""

def exchange_works(tmp_path) -> bool:
    """Whether renameat2 swaps two folders here (else publish renames twice): checked on real folders."""
    (tmp_path / "swap-a").mkdir()
    (tmp_path / "swap-b").mkdir()
    (tmp_path / "swap-a" / "x").write_text("")
    swapped = versions._exchange(str(tmp_path / "swap-a"), str(tmp_path / "swap-b"))
    assert not swapped or files_in(tmp_path / "swap-b") == ["x"]
    for name in ("swap-a", "swap-b"):
        for leftover in (tmp_path / name).iterdir():
            leftover.unlink()
        (tmp_path / name).rmdir()
    return swapped


STEPS = [("exchange", step) for step in ("staged", "kept", "swapped", "cleaned")] + [
    ("no-exchange", step) for step in ("staged", "kept", "set_aside", "swapped", "cleaned")]


def publish_killed_at(version_dir, mode, step):
    """A real publish (claim, staged shards, manifest, swap) in a child process that dies at `step`."""
    env = dict(os.environ, **{versions.CRASH_AT_ENV: step})
    done = subprocess.run([sys.executable, "-c", PUBLISH, str(version_dir), mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 137, done.stderr[-2000:]


@pytest.mark.parametrize("mode, step", STEPS, ids=[f"{m}-{s}" for m, s in STEPS])
def test_case_8_kill_9_at_every_step_of_publish_keeps_the_version(tmp_path, mode, step):
    """Issue 22, case 8: an --overwrite publish killed (os._exit, as kill -9) between any two of its steps
    leaves the old version readable under its name (or the new one, once swapped), with the user's
    own files; without an atomic exchange, the one instant the name is empty is undone by the next
    claim in the folder, of any version. No claim deletes a version, and the next run replaces it."""
    if mode == "exchange" and not exchange_works(tmp_path):
        pytest.skip("this system or filesystem cannot exchange two folders: publish renames twice")
    version = tmp_path / "reddit" / "v1"
    versions.write_pair_version(version, pairs(3))
    (version / "NOTES.txt").write_text("mine")
    publish_killed_at(version, mode, step)

    if step == "set_aside":  # between the two renames: the name is empty until the next claim
        assert not version.exists() and versions.list_versions(tmp_path, "reddit") == []
        versions.release(versions.claim_version(tmp_path / "reddit" / "v2", overwrite=False))
    swapped = step in ("swapped", "cleaned")
    assert versions.read_pairs(version).num_rows == (5 if swapped else 3)
    assert (version / "NOTES.txt").read_text() == "mine"
    assert versions.list_versions(tmp_path, "reddit") == ["v1"]

    versions.write_pair_version(version, pairs(5), num_shards=2)  # the next run
    assert versions.read_pairs(version).num_rows == 5 and (version / "NOTES.txt").read_text() == "mine"
    assert files_in(tmp_path / "reddit") == ["v1"]  # no claim, staging or set-aside copy left


def object_store(root):
    """A local folder that acts as gs:// does for versions (no rename; parents made on write), for gs://bucket/."""
    import fsspec

    return pafs.SubTreeFileSystem(str(root), pafs.PyFileSystem(pafs.FSSpecHandler(
        fsspec.filesystem("file", auto_mkdir=True))))


OBJECT_STORE_PUBLISH = """
import sys
from schemas import versions
from tests.schemas.test_versions import object_store, pairs
store = object_store(sys.argv[1])
versions._object_store = lambda scheme, bucket: store
versions.write_pair_version(sys.argv[2], pairs(5), num_shards=2)
"""


@pytest.mark.parametrize("step", ["staged", "emptied", "swapped", "cleaned"])
def test_case_8_a_publish_to_an_object_store_cut_short_is_finished_by_the_next_claim(tmp_path, step, monkeypatch):
    """Issue 22, case 8, on gs:// and s3:// (no rename: the old files are deleted, the staged ones copied):
    a publish killed mid-copy leaves an incomplete version, and the next claim of it finishes the copy
    from the dead run's staged files instead of deleting them."""
    store = object_store(tmp_path)
    monkeypatch.setattr(versions, "_object_store", lambda scheme, bucket: store)
    version = "gs://bucket/out/reddit/v1"
    versions.write_pair_version(version, pairs(3))
    done = subprocess.run([sys.executable, "-c", OBJECT_STORE_PUBLISH, str(tmp_path), version], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, **{versions.CRASH_AT_ENV: step}))
    assert done.returncode == 137, done.stderr[-2000:]

    assert versions.is_complete(version) == (step != "emptied")
    versions.release(versions.claim_version(version, overwrite=True))  # the next run's launch
    assert versions.read_pairs(version).num_rows == (3 if step == "staged" else 5)
    versions.write_pair_version(version, pairs(5), num_shards=2)
    assert versions.read_pairs(version).num_rows == 5
    assert files_in(tmp_path / "bucket" / "out" / "reddit") == ["v1"]


def test_case_8_a_failed_publish_between_the_renames_puts_the_old_version_back(tmp_path, monkeypatch):
    """Issue 22, case 8: a publish that fails (not killed) after setting the old version aside gives it
    back under its name when the run releases its claim."""
    version = versions.write_pair_version(tmp_path / "v1", pairs(3))
    claim = versions.claim_version(version, overwrite=True)
    versions.write_rows(versions.join(claim.staging_dir, "pairs-00000-of-00001.parquet"), pairs(1), PAIR_SCHEMA)
    monkeypatch.setattr(versions, "_exchange", lambda first, second: False)
    real_replace = os.replace

    def second_rename_fails(src, dst):
        if str(src) == claim.staging_dir:
            raise OSError("disk gone")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    manifest = versions.read_manifest(version)
    with pytest.raises(OSError, match="disk gone"):
        versions.publish(claim, dict(manifest, counts=dict(manifest["counts"], pairs=1, records_read=1,
                                                             records_used=1), shards=[{"path": "pairs-00000-of-00001.parquet", "rows": 1}]))
    monkeypatch.undo()
    assert not (tmp_path / "v1").exists()
    versions.release(claim)
    assert versions.read_pairs(version).num_rows == 3 and files_in(tmp_path) == ["v1"]


def test_case_15_a_version_folder_that_is_a_symlink_is_refused(tmp_path):
    """Issue 22, case 15: --overwrite of a version folder that is a symbolic link would replace the link and
    move the target's other files into the output; a link is refused at the claim, nothing is touched."""
    target = tmp_path / "elsewhere"
    versions.write_pair_version(target, pairs(2))
    (target / "secret.txt").write_text("not the output's")
    (tmp_path / "out" / "reddit").mkdir(parents=True)
    link = tmp_path / "out" / "reddit" / "v1"
    link.symlink_to(target, target_is_directory=True)
    before = files_in(target)
    for overwrite in (True, False):
        with pytest.raises(versions.VersionRefused, match="is a symbolic link"):
            versions.claim_version(link, overwrite=overwrite)
    with pytest.raises(versions.VersionRefused, match="is a symbolic link"):
        versions.write_pair_version(link, pairs(4))
    assert files_in(target) == before and files_in(tmp_path / "out" / "reddit") == ["v1"] and link.is_symlink()
    assert versions.read_pairs(link).num_rows == 2  # reading through a link is fine
