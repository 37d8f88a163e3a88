import bz2
import gzip
import hashlib
import io
import json

import pytest
import zstandard

from sources.errors import RejectRecord
from sources.formats.readers import RawLine, TruncatedTail, iter_lines, read_json_document, starts_json_document

LINES = [b'{"id": %d, "body": "hello"}' % i for i in range(5000)]
DATA = b"\n".join(LINES) + b"\n"
# Big and varied enough that half of the compressed stream holds whole blocks (bz2 blocks are 900 kB).
BIG_LINES = [b'{"id": %d, "body": "%s"}' % (i, hashlib.sha256(b"%d" % i).hexdigest().encode()) for i in range(60000)]
BIG = b"\n".join(BIG_LINES) + b"\n"


def long_window_zst(data: bytes) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31)
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def read(blob: bytes, name: str, chunk=4096):
    return list(iter_lines(io.BytesIO(blob), name, chunk_bytes=chunk))


@pytest.mark.parametrize("name, blob", [
    ("a.zst", long_window_zst(DATA)),
    ("a.gz", gzip.compress(DATA)),
    ("a.bz2", bz2.compress(DATA)),
    ("a.ndjson", DATA),
])
def test_all_codecs_give_all_lines(name, blob):
    items = read(blob, name)
    assert [i.data for i in items] == LINES
    assert [i.position for i in items] == list(range(1, 5001))


def test_multi_frame_zst_and_crlf_and_no_final_newline():
    blob = long_window_zst(b"a\r\nb\n") + long_window_zst(b"\nc")
    assert [(i.position, i.data) for i in read(blob, "x.zst")] == [(1, b"a"), (2, b"b"), (4, b"c")]


@pytest.mark.parametrize("name, blob", [
    ("t.zst", long_window_zst(BIG)),
    ("t.gz", gzip.compress(BIG)),
    ("t.bz2", bz2.compress(BIG)),
])
def test_truncated_stream_ends_with_a_tail_reject(name, blob):
    items = read(blob[: len(blob) * 3 // 4], name, chunk=1 << 16)
    assert isinstance(items[-1], TruncatedTail)
    good = [i for i in items if isinstance(i, RawLine)]
    assert good and all(i.data == BIG_LINES[i.position - 1] for i in good)
    assert items[-1].position == good[-1].position + 1


def test_garbage_zst_is_a_truncated_tail_not_a_crash():
    items = read(b"\x28\xb5\x2f\xfd" + b"\x00" * 40, "g.zst")
    assert len(items) == 1 and isinstance(items[0], TruncatedTail)


def test_a_pretty_printed_document_is_read_whole_up_to_its_cap():
    document = json.dumps({"paper_id": "1", "metadata": {"title": "x" * 100}}, indent=2).encode()
    lines = iter_lines(io.BytesIO(gzip.compress(document)), "paper.json.gz")
    first = next(lines)
    assert starts_json_document(first) and not starts_json_document(RawLine(1, b'{"id": 1}'))
    assert json.loads(read_json_document(first, lines)) == json.loads(document)
    lines = iter_lines(io.BytesIO(document), "paper.json")
    with pytest.raises(RejectRecord, match="over 50 bytes") as refused:
        read_json_document(next(lines), lines, max_bytes=50)
    assert refused.value.reason == "not_json_lines"
