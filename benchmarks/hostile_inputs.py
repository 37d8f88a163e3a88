"""Issue 22's hostile inputs through the source jobs, each on one core under a 3 GB address space.

    python benchmarks/hostile_inputs.py [--big] [--only CASE ...]

Builds each case's input (small crafted files: a WARC of 533 bytes, bz2 and zstd bombs, a 600 MB
line in a small gzip, ...), runs the source job as a user would, under
`ulimit -v 3000000; taskset -c 0`, with a 2-minute limit, and records wall time, peak RSS, the exit
code and the manifest's accounting (records_read = used + dropped + rejected). --big adds the
2 GB page of case 6 (its bz2 takes minutes to make). Writes benchmarks/results/hostile_inputs.md.
"""

import argparse
import bz2
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import zstandard  # noqa: E402

from sources.demo_inputs import commoncrawl as demo_commoncrawl  # noqa: E402
from sources.demo_inputs import wikipedia as demo_wikipedia  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "hostile_inputs.md")
LIMIT_SECONDS = 120
ADDRESS_SPACE_KB = 3_000_000
WIKI_DUMP = "enwiki-20240501-pages-articles-multistream.xml.bz2"


def _multistream(folder, texts):
    """A multistream dump (and its index) of one article per text."""
    pages = [demo_wikipedia.page_xml(f"Page {i}", 0, 100 + i, text) for i, text in enumerate(texts)]
    dump, _ = demo_wikipedia.write_multistream(demo_wikipedia.export_xml(pages), os.path.join(folder, WIKI_DUMP), 1)
    return [dump]


def _bz2_streams(path, pieces):
    """Each piece its own bz2 stream, no index (a dump cut into tiny streams)."""
    with open(path, "wb") as out:
        for piece in pieces:
            out.write(bz2.compress(piece, 1))
    return path


def _stream_bz2(path, parts):
    """One bz2 stream of the parts' bytes, compressed as they come (a bomb never held whole)."""
    packer = bz2.BZ2Compressor(9)
    with open(path, "wb") as out:
        for part in parts:
            out.write(packer.compress(part))
        out.write(packer.flush())
    return path


def _one_page_bomb(folder, name, page_bytes):
    header, _, trailer = demo_wikipedia.split_export(demo_wikipedia.export_xml([demo_wikipedia.page_xml("A", 0, 1, "x")]))
    head = b"  <page>\n    <title>Bomb</title>\n    <ns>0</ns>\n    <id>7</id>\n    <revision>\n      <id>70</id>\n" \
           b"      <text xml:space=\"preserve\">"
    block = b"a" * (1 << 20)
    parts = [header, head, *(block for _ in range(page_bytes >> 20)), b"</text>\n    </revision>\n  </page>\n", trailer]
    return [_stream_bz2(os.path.join(folder, name), parts)]


def case_1(folder):
    records = [demo_commoncrawl.warcinfo(), *demo_commoncrawl.capture("http://a.example/story#passage", b"<title>x</title>")]
    return [demo_commoncrawl.write_warc(os.path.join(folder, "fragment.warc.gz"), records)]


def case_2(folder):
    html = b"<html><head><title>A page nested deep</title></head><body>" + b"<div>" * 50_000 + \
        b"<p>Deep text of a page that nests its body fifty thousand levels down.</p>" + b"</div>" * 50_000
    records = [demo_commoncrawl.warcinfo()]
    for i in range(10):
        records += demo_commoncrawl.capture(f"http://deep.example/{i}", html)
    return [demo_commoncrawl.write_warc(os.path.join(folder, "deep.warc.gz"), records)]


def case_3(folder):
    return _multistream(folder, ["[[File:" * 80_000, "<ref " * 40_000, "(see " + "," * 40_000, "<math " * 40_000,
                                 "<gallery " * 40_000])


def case_4(folder):
    xml = demo_wikipedia.export_xml([demo_wikipedia.page_xml("Long", 0, 1, "Words of a long page. " * ((32 << 20) // 22))])
    return [_bz2_streams(os.path.join(folder, "long-pages-articles.xml.bz2"),
                         [xml[i:i + 1024] for i in range(0, len(xml), 1024)])]


def case_5(folder):
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    path = os.path.join(folder, "huge-line.jsonl.gz")
    with open(path, "wb") as out:
        out.write(packer.compress(b'{"corpusid": 1, "abstract": "'))
        for _ in range(600):
            out.write(packer.compress(b"a" * (1 << 20)))
        out.write(packer.compress(b'"}\n') + packer.flush())
    return [path]


def case_6_page(folder):
    return _one_page_bomb(folder, "bomb-pages-articles.xml.bz2", 256 << 20)


def case_6_big_page(folder):
    return _one_page_bomb(folder, "bigbomb-pages-articles.xml.bz2", 2 << 30)


def case_6_newlines(folder):
    packer = zstandard.ZstdCompressor(level=19).compressobj()
    path = os.path.join(folder, "RC_newlines.zst")
    with open(path, "wb") as out:
        for _ in range(1024):
            out.write(packer.compress(b"\n" * (1 << 20)))
        out.write(packer.flush())
    return [path]


def _papers(n):
    return [{"paper_id": str(1000 + i), "title": f"A study of topic number {i} in tides",
             "abstract": f"We study topic {i} of the tides and the Moon, and show what it does to the coasts.",
             "year": 2020, "outbound_citations": [str(1000 + (i + 1) % n)]} for i in range(n)]


def case_10(folder):
    blob = gzip.compress(b"".join(json.dumps(p).encode() + b"\n" for p in _papers(5000)))
    path = os.path.join(folder, "metadata-cut.jsonl.gz")
    with open(path, "wb") as out:
        out.write(blob[: len(blob) * 9 // 10])
    return [path]


def case_13(folder):
    texts = [f"'''Page {i}''' is a page of the test dump about subject {i}. It has one sentence of text "
             f"that is long enough to make a passage of its own for the pairs." for i in range(100)]
    pages = [demo_wikipedia.page_xml(f"Page {i}", 0, 100 + i, t) for i, t in enumerate(texts)]
    dump, index = demo_wikipedia.write_multistream(demo_wikipedia.export_xml(pages), os.path.join(folder, WIKI_DUMP), 10)
    lines = bz2.decompress(open(index, "rb").read()).decode().splitlines()
    size = os.path.getsize(dump)
    wrong = []
    for n, line in enumerate(lines):
        offset, rest = line.split(":", 1)
        if n in (5, 15):
            offset = str(int(offset) + 7)  # mid-block
        if n == 95:
            offset = str(size + 1000)  # past the end
        wrong.append(f"{offset}:{rest}\n")
    with open(index, "wb") as out:
        out.write(bz2.compress("".join(wrong).encode()))
    return [dump]


def case_16(folder):
    papers = _papers(3)
    papers[0]["outbound_citations"] = ["1001", "not-a-number", "1002"]
    path = os.path.join(folder, "metadata-0.jsonl")
    with open(path, "w") as out:
        out.writelines(json.dumps(p) + "\n" for p in papers)
    return [path]


CASES = [  # (case, source, what, build)
    ("1", "commoncrawl", "a response whose URI ends in #passage", case_1),
    ("2", "commoncrawl", "10 pages of 50,000 nested <div>", case_2),
    ("3", "wikipedia", "pages of [[File: x80k, <ref x40k, (see + 40k commas, <math x40k, <gallery x40k", case_3),
    ("4", "wikipedia", "one 32 MB page cut into 1 KB bz2 streams, no index", case_4),
    ("5", "semanticscholar", "one 600 MB JSON line in a small gzip", case_5),
    ("6", "wikipedia", "a small bz2 holding one 256 MB page", case_6_page),
    ("6", "reddit", "a small zstd holding 1 GB of newlines", case_6_newlines),
    ("10", "semanticscholar", "5,000 records in a .jsonl.gz cut at 90%", case_10),
    ("13", "wikipedia", "an index with offsets mid-block and past the end", case_13),
    ("16", "semanticscholar", "a legacy record with a non-numeric outbound citation", case_16),
]


def run_case(source, inputs, out):
    args = " ".join(f"--input {path}" for path in inputs)
    timer = "/usr/bin/time -f %M " if os.path.exists("/usr/bin/time") else ""
    command = (f"ulimit -v {ADDRESS_SPACE_KB}; exec {timer}taskset -c 0 {sys.executable} -m pipelines.{source} "
               f"{args} --output {out} --version v1")
    started = time.time()
    try:
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                              timeout=LIMIT_SECONDS + 30)
        code, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        code, stderr = "timeout", ""
    seconds = time.time() - started
    rss = stderr.strip().splitlines()[-1] if timer and stderr.strip() else ""
    manifest_path = os.path.join(out, source, "v1", "manifest.json")
    counts = json.load(open(manifest_path))["counts"] if os.path.exists(manifest_path) else None
    return code, seconds, (int(rss) // 1024 if rss.isdigit() else None), counts, stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="add the 2 GB page of case 6")
    parser.add_argument("--only", nargs="*", default=None, help="case numbers to run (default: all)")
    args = parser.parse_args()
    cases = CASES + ([("6", "wikipedia", "a small bz2 holding one 2 GB page", case_6_big_page)] if args.big else [])
    lines = ["# Hostile inputs through the source jobs (issue 22)", "",
             f"`python benchmarks/hostile_inputs.py{' --big' if args.big else ''}`: each job as "
             f"`ulimit -v {ADDRESS_SPACE_KB}; taskset -c 0 python -m pipelines.<source> ...` (one core, 3 GB of "
             f"address space), limit {LIMIT_SECONDS} s, on {os.cpu_count()} cores shared with other jobs, Python "
             f"{platform.python_version()}. Peak RSS from /usr/bin/time. The inputs are built by the script.", "",
             "| case | source | input | bytes | exit | wall s | peak RSS MB | read | used | dropped | rejected | "
             "read = used + dropped + rejected |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
    failures = 0
    for number, source, what, build in cases:
        if args.only and number not in args.only:
            continue
        folder = tempfile.mkdtemp(prefix=f"hostile-{number}-")
        try:
            inputs = build(folder)
            size = sum(os.path.getsize(p) for p in inputs)
            code, seconds, rss, counts, stderr = run_case(source, inputs, os.path.join(folder, "out"))
            if counts:
                dropped, rejected = counts["records_dropped"], counts["records_rejected"]
                holds = counts["records_read"] == counts["records_used"] + sum(dropped.values()) + sum(rejected.values())
                cells = [str(counts["records_read"]), str(counts["records_used"]),
                         ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()) if v) or "0",
                         ", ".join(f"{k} {v}" for k, v in sorted(rejected.items()) if v) or "0", "yes" if holds else "NO"]
            else:
                holds, cells = False, ["-"] * 4 + ["no manifest"]
            ok = code == 0 and holds and seconds <= LIMIT_SECONDS
            failures += not ok
            lines.append(f"| {number} | {source} | {what} | {size:,} | {code} | {seconds:.1f} | {rss or '-'} | "
                         + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
            if code != 0:
                print(stderr[-1500:], flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    lines += ["", f"{failures} case(s) failed (exit not 0, over {LIMIT_SECONDS} s, or accounting broken)."]
    if args.only is None:
        with open(RESULTS, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        print(f"wrote {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
