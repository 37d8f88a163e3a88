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
    assert refused.value.reason == "record_too_large"


# ---- issue 22: caps, linear splitting, cut streams keep what they decoded ----

SMALL = b"".join(b'{"id": %d, "body": "%s"}\n' % (i, hashlib.sha256(b"%d" % i).hexdigest().encode())
                 for i in range(5000))


def _xz(data):
    import lzma

    return lzma.compress(data)


@pytest.mark.parametrize("name, compress, kept", [("a.jsonl.gz", gzip.compress, 0.85), ("a.jsonl.xz", _xz, 0.85),
                                                  ("a.jsonl.zst", long_window_zst, 0.85),
                                                  ("a.jsonl.bz2", bz2.compress, 0.6)])  # bz2: whole 900 kB blocks only
def test_a_stream_cut_at_90_percent_keeps_every_line_decoded_before_the_cut(name, compress, kept):
    """Case 10: 5,000 records cut at 90% gave records_read=1 (one truncated_input): the decoder's
    output before the EOFError was thrown away. Each codec now yields what it decoded, then one tail."""
    blob = compress(SMALL if kept > 0.8 else BIG)
    lines = SMALL.count(b"\n") if kept > 0.8 else len(BIG_LINES)
    items = read(blob[: len(blob) * 9 // 10], name, chunk=1 << 20)
    good = [i for i in items if isinstance(i, RawLine)]
    assert isinstance(items[-1], TruncatedTail) and items[-1].reason == "truncated_input"
    assert sum(isinstance(i, TruncatedTail) for i in items) == 1
    assert len(good) >= kept * lines and [i.position for i in good] == list(range(1, len(good) + 1))


def _run_capped(code: str, timeout: float = 120, limit: int = 3 << 30) -> str:
    """`code` in a fresh interpreter under an address-space limit: a hang or a blow-up fails the test."""
    import subprocess
    import sys

    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=timeout,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_huge_line_in_a_small_gzip_is_one_record_too_large_and_the_next_line_is_read(tmp_path):
    """Case 5: one 600 MB line in a 611 KB gzip took more than 300 s (the pending buffer was split
    whole on every chunk). Here 256 MB under the default 64 MiB cap, in bounded memory."""
    import zlib

    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(tmp_path / "bomb.jsonl.gz", "wb") as out:
        out.write(packer.compress(b'{"first": 1}\n{"huge": "'))
        block = b"a" * (1 << 20)
        for _ in range(256):
            out.write(packer.compress(block))
        out.write(packer.compress(b'"}\n{"after": 2}\n') + packer.flush())
    assert (tmp_path / "bomb.jsonl.gz").stat().st_size < 1 << 20
    printed = _run_capped(f"""
from sources.formats.readers import iter_lines
items = list(iter_lines(open({str(tmp_path / 'bomb.jsonl.gz')!r}, 'rb'), 'bomb.jsonl.gz'))
print([(type(i).__name__, i.position, i.data[:12]) for i in items])
""")
    assert printed.strip() == ("[('RawLine', 1, b'{\"first\": 1}'), ('OversizedLine', 2, b'{\"huge\": \"aa'), "
                               "('RawLine', 3, b'{\"after\": 2}')]")


def test_a_zstd_bomb_of_newlines_is_read_in_bounded_memory(tmp_path):
    """Case 6: a 32 KB zstd file holding 1 GB of newlines raised MemoryError (zstd's decompressobj
    has no output cap). An eighth of it here, under a sixth of the 3 GB bound; the benchmark runs 1 GB."""
    packer = zstandard.ZstdCompressor(level=3).compressobj()
    with open(tmp_path / "newlines.zst", "wb") as out:
        for _ in range(128):
            out.write(packer.compress(b"\n" * (1 << 20)))
        out.write(packer.compress(b'{"last": 1}\n') + packer.flush())
    printed = _run_capped(f"""
from sources.formats.readers import iter_lines
print([(i.position, i.data) for i in iter_lines(open({str(tmp_path / 'newlines.zst')!r}, 'rb'), 'newlines.zst')])
""", limit=512 << 20)
    assert printed.strip() == f"[({128 * (1 << 20) + 1}, b'{{\"last\": 1}}')]"


def test_lines_over_the_cap_are_skipped_whatever_the_chunking():
    data = b"short\n" + b"x" * 100 + b"\nmid\n" + b"y" * 30 + b"\n\n\nend"
    for chunk in (1, 7, 64, 1 << 16):
        items = list(iter_lines(io.BytesIO(data), "a.txt", chunk_bytes=chunk, max_line_bytes=50))
        assert [(type(i).__name__, i.position, i.data[:3]) for i in items] == [
            ("RawLine", 1, b"sho"), ("OversizedLine", 2, b"xxx"), ("RawLine", 3, b"mid"), ("RawLine", 4, b"yyy"),
            ("RawLine", 7, b"end")], chunk
        assert items[1].reason == "record_too_large" and len(items[1].data) <= 200
