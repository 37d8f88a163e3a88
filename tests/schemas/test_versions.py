"""The version folder: written atomically, read one way, complete only with a readable manifest."""

import io
import json
import logging
import os

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from schemas import versions
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
