"""Issue 22: a read error is not data, a cut stream keeps what it decoded, and a record over its cap
is one reject: the Reddit job end to end (the shared reader of every line source)."""

import dataclasses
import errno
import gzip
import io
import json
import os

import pytest

import pipelines.commoncrawl
import pipelines.reddit
from pipelines import job
from pipelines.commoncrawl import ReadWarcFiles
from pipelines.read import LineFileReader
from sources.demo_inputs.commoncrawl import capture, page, warcinfo, write_warc
from tests.pipelines.conftest import comment_body

PAGE = page("Tides", ["The Moon pulls the water of the near side of the Earth more than the planet itself."])


class EioOnRead(io.RawIOBase):
    """A file whose first read fails with EIO, as a failing disk or a network mount does."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise OSError(errno.EIO, "Input/output error")


def on_a_failing_disk(reader_class):
    """The source's own reader, on a file that opens but cannot be read."""

    class FailingDisk(reader_class):
        def open(self, unit, stack):
            self._handle = EioOnRead()
            return self._handle

    return FailingDisk


class MemoryHungryParser(pipelines.reddit._Parser):
    def __call__(self, raw, path):
        raise MemoryError()


def comments(n):
    return [{"id": f"c{i}", "parent_id": "t3_p1", "link_id": "t3_p1", "body": comment_body(f"c{i}"),
             "score": 5, "author": f"u{i}", "created_utc": 1_600_000_000 + i, "subreddit": "coffee"}
            for i in range(n)]


def write_lines(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records)))
    return path


def run_job(source_job, tmp_path, path):
    _, run, _ = job.entry_points(source_job)
    return run(["--input", str(path), "--output", str(tmp_path / "out"), "--version", "v1"])


@pytest.mark.parametrize("source", ["reddit", "commoncrawl"])
def test_eio_at_the_first_read_fails_the_job_and_publishes_nothing(source, tmp_path):
    """Case 9: it was one unreadable_file reject (the WARC reader reads a file's first record when it
    opens it), and the job published with exit 0."""
    if source == "reddit":
        path = write_lines(tmp_path / "in" / "RC_1.jsonl.gz", comments(5))
        failing = dataclasses.replace(pipelines.reddit.JOB, reader=lambda config: on_a_failing_disk(LineFileReader)(
            "reddit", config.max_line_bytes))
    else:
        path = write_warc(str(tmp_path / "in" / "crawl.warc.gz"), [warcinfo(), *capture("http://a.example/", PAGE)])
        failing = dataclasses.replace(pipelines.commoncrawl.JOB, reader=on_a_failing_disk(ReadWarcFiles))
    with pytest.raises(Exception, match="Input/output error"):
        run_job(failing, tmp_path, path)
    assert not (tmp_path / "out" / source / "v1").exists()


def test_a_memory_error_is_no_reject_but_a_failed_job(tmp_path):
    """Case 9: a MemoryError was counted as a reject (unreadable_file or parse_error)."""
    path = write_lines(tmp_path / "in" / "RC_1.jsonl.gz", comments(3))
    hungry = dataclasses.replace(pipelines.reddit.JOB, parse=MemoryHungryParser)
    with pytest.raises(Exception, match="MemoryError"):
        run_job(hungry, tmp_path, path)
    assert not (tmp_path / "out" / "reddit" / "v1").exists()


def test_a_cut_gzip_keeps_its_records_and_a_huge_line_is_one_reject(tmp_path):
    """Case 10: 5,000 records cut at 90% gave records_read=1; a line over --max_line_bytes is one
    record_too_large reject and the lines after it are read."""
    records = comments(5000)
    blob = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "RC_cut.jsonl.gz").write_bytes(blob[: len(blob) * 9 // 10])
    huge = [records[0] | {"id": "h1", "body": "x" * 5000}, records[1] | {"id": "h2"}]
    write_lines(tmp_path / "in" / "RC_huge.jsonl.gz", huge)
    out = pipelines.reddit.run(["--input", str(tmp_path / "in" / "*.gz"), "--output", str(tmp_path / "out"),
                                "--version", "v1", "--max_line_bytes", "4096"])
    counts = json.load(open(os.path.join(out, "manifest.json")))["counts"]
    assert counts["records_rejected"] == {"truncated_input": 1, "record_too_large": 1}
    assert 4400 < counts["records_read"] - 3 < 5000  # the cut file's lines, its tail, and the two of the other
    assert counts["records_read"] == counts["records_used"] + sum(counts["records_dropped"].values()) + 2


def test_eio_while_opening_a_7z_archive_is_a_read_error_not_an_unreadable_archive():
    """py7zr takes every failure for a bad archive: the Stack Exchange reader refused the file (a reject)."""
    from sources.formats.readers import InputReadError
    from sources.formats.sevenzip import SevenZipMemberReader

    with pytest.raises(InputReadError, match="Input/output error"):
        SevenZipMemberReader(EioOnRead(), "Posts.xml")


def test_batches_are_cut_by_bytes_as_well_as_by_count(tmp_path):
    """100 records near their cap must not become one huge element to shuffle (Wikipedia's 100 pages
    just under 8 MiB exhausted a 3 GB worker at the Reshuffle)."""
    from pipelines.read import BATCH_BYTES
    from pipelines.splits import ReadUnit

    line = b'{"body": "' + b"x" * (4 << 20) + b'"}\n'
    path = tmp_path / "big.jsonl"
    path.write_bytes(line * 20)
    reader = LineFileReader("reddit", max_line_bytes=8 << 20)
    batches = [item for item in reader.process(ReadUnit(str(path), size=path.stat().st_size))
               if isinstance(item, tuple)]
    assert sum(len(raws) for _, raws in batches) == 20 and len(batches) > 1
    assert all(sum(len(raw[2]) for raw in raws) <= BATCH_BYTES + len(line) for _, raws in batches)
