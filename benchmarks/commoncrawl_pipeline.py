"""Common Crawl pipeline throughput: pages/s per core end to end, step by step, against the plain read.

    python benchmarks/commoncrawl_pipeline.py [--repeat 10] [--copies 20]

Input: the three real WARCs of ../shared/data/commoncrawl (509 records, 79 HTML pages with a 2xx
status). Measures, in CPU seconds of this process (one core):
  1. reading: warcio and fastwarc iterating every record and reading its block (the plain read),
     and ccpairs' reader (sources.formats.warc: raw records as the parser gets them);
  2. every HTML page through each step of the parser and the rules, timed step by step, with
     every page read (the crawler's language shortcut off, so no page escapes extraction);
  3. the extractors on the same decoded HTML: resiliparse (chosen) and trafilatura, and how much
     of our passages trafilatura also keeps;
  4. --max_html_bytes: speed, and passages unchanged against reading whole pages;
  5. the Beam job (FnApiRunner, in process) on --copies copies of the three files.
Writes benchmarks/results/commoncrawl_pipeline.md.
"""

import argparse
import io
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pipelines.commoncrawl  # noqa: E402
import sources.commoncrawl  # noqa: E402
from sources.formats import http_message, warc  # noqa: E402
from sources.text import web_text  # noqa: E402
from sources.formats.readers import TruncatedTail  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "commoncrawl")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "commoncrawl_pipeline.md")
FILES = sorted(os.path.join(DATA, f) for f in os.listdir(DATA) if f.endswith(".warc.gz")) if os.path.isdir(DATA) else []


def cpu(fn, repeat=1):
    start = time.process_time()
    for _ in range(repeat):
        result = fn()
    return (time.process_time() - start) / repeat, result


# ---- 1. reading ----

def read_fastwarc(blobs):
    from fastwarc.warc import ArchiveIterator

    n = 0
    for blob in blobs:
        for record in ArchiveIterator(io.BytesIO(blob), parse_http=False):
            record.reader.read()
            n += 1
    return n


def read_warcio(blobs):
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    for blob in blobs:
        for record in ArchiveIterator(io.BytesIO(blob)):
            record.content_stream().read()
            n += 1
    return n


def read_ccpairs(blobs, config=sources.commoncrawl.CommonCrawlConfig()):
    raws = []
    for path, blob in zip(FILES, blobs):
        raws += [r for r in warc.WarcFileReader(io.BytesIO(blob), path, config.max_record_bytes, config.max_html_bytes)
                 if not isinstance(r, TruncatedTail)]
    return raws


# ---- 2. the parser and rules, step by step ----

STEPS = ["WARC + HTTP headers, payload decoding", "charset decoding", "HTML parsing and the title",
         "main-text extraction (resiliparse)", "text cleanup, prose lines, passage", "rules without language ID",
         "language ID (cascade, first 1,000 characters)"]


def candidate_pages(raws, config):
    """(raw record, HTTP head, body) of every 2xx HTML response."""
    pages = []
    for raw in raws:
        item = sources.commoncrawl.parse_record(raw.data, config)
        if isinstance(item, sources.commoncrawl.WebPage):
            record = warc.decode(raw.data)
            head, body = http_message.read_head(record.block)
            pages.append((raw.data, record, head, body))
    return pages


def run_steps(pages, config, timers):
    """sources.commoncrawl.parse_record's steps (and the rules), each timed; every page extracted."""
    from sources.text.langid import is_english

    rules = [r for r in sources.commoncrawl.rules(config) if not isinstance(r, sources.commoncrawl.UnlessCrawlerSaid)]
    for data, _, _, _ in pages:
        t0 = time.process_time()
        record = warc.decode(data)
        head, body = http_message.read_head(record.block)
        body = http_message.decoded_body(head, body, config.max_html_bytes, config.max_record_bytes)
        url = sources.commoncrawl.target_uri(record)
        t1 = time.process_time()
        html, _ = web_text.decode_html(body, head.charset)
        t2 = time.process_time()
        doc = web_text.HtmlDocument(html)
        site = web_text.Site(web_text.clean_text(doc.site_name), sources.commoncrawl._host(url))
        title = sources.commoncrawl.choose_title(
            (read() for read in (lambda: doc.title, lambda: doc.og_title, lambda: doc.h1)),
            site,
            sources.commoncrawl.is_home_page(url),
        )
        t3 = time.process_time()
        main = doc.main_text()
        t4 = time.process_time()
        text = web_text.clean_text(main[: sources.commoncrawl.MAX_TEXT_CHARS + 2000])[
            : sources.commoncrawl.MAX_TEXT_CHARS
        ]
        lines = web_text.prose_lines(text)
        passage = web_text.repaired(web_text.passage_of(lines, config.max_passage_words))[0]
        page = sources.commoncrawl.WebPage(
            url,
            sources.commoncrawl.url_key(url),
            "",
            "",
            0,
            "",
            title=title,
            text=text,
            prose="\n".join(lines),
            passage=passage,
        )
        t5 = time.process_time()
        reason = sources.commoncrawl.first_drop(page, rules)
        t6 = time.process_time()
        if reason is None:
            is_english(page.passage_head)
        t7 = time.process_time()
        for i, dt in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
            timers[i] += dt


def parse_all(pages, config):
    for data, _, _, _ in pages:
        sources.commoncrawl.drop_reason(sources.commoncrawl.parse_record(data, config), config)


# ---- 3. extractors ----

def words_of(text):
    return re.findall(r"\w+", text.lower())


def containment(ours, theirs):
    """Share of our passage's sentences whose words all appear, in order, in the other text."""
    other = " " + " ".join(words_of(theirs)) + " "
    sentences = [s for s in web_text.sentences(ours) if words_of(s)]
    return sum((" " + " ".join(words_of(s)) + " ") in other for s in sentences) / len(sentences) if sentences else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    if not FILES:
        raise SystemExit(f"no WARC samples in {DATA}")
    blobs = [open(p, "rb").read() for p in FILES]
    config = sources.commoncrawl.CommonCrawlConfig(english_only=False)  # every page read: none escapes extraction
    lines = ["# Common Crawl pipeline throughput", "",
             f"`python benchmarks/commoncrawl_pipeline.py --repeat {args.repeat} --copies {args.copies}` on the three "
             f"real WARCs of `../shared/data/commoncrawl`. {os.cpu_count()} cores (shared with other jobs), Python "
             f"{platform.python_version()}; CPU seconds of this one process, so figures are per core.", ""]

    # 1. reading
    rows = []
    for name, fn in [("warcio (iterate, read every block)", lambda: read_warcio(blobs)),
                     ("fastwarc (iterate, read every block)", lambda: read_fastwarc(blobs)),
                     ("ccpairs reader: raw records as shipped (fastwarc)", lambda: len(read_ccpairs(blobs)))]:
        try:
            seconds, n = cpu(fn, args.repeat)
        except ImportError as exc:
            rows.append(f"| {name} | not installed ({exc.name}) | | |")
            continue
        rows.append((name, seconds, n))
    measured = [r for r in rows if isinstance(r, tuple)]
    fastwarc_rate = next(n / s for name, s, n in measured if name.startswith("fastwarc"))
    lines += ["## Reading", "", "| reader | records | CPU ms per pass | records/s per core |", "|---|---:|---:|---:|"]
    for row in rows:
        lines.append(row if isinstance(row, str) else
                     f"| {row[0]} | {row[2]} | {row[1] * 1000:.1f} | {row[2] / row[1]:,.0f} |")
    print("\n".join(lines[-len(rows):]), flush=True)

    # 2. steps
    read_seconds, raws = cpu(lambda: read_ccpairs(blobs), args.repeat)
    pages = candidate_pages(raws, config)
    from sources.text.langid import is_english

    is_english("warm up: the cascade loads its models once per process")
    timers = [0.0] * len(STEPS)
    for _ in range(args.repeat):
        run_steps(pages, config, timers)
    per_page = [t / args.repeat / len(pages) for t in timers]
    read_per_page = read_seconds / len(pages)
    before_langid = read_per_page + sum(per_page[:-1])
    total = before_langid + per_page[-1]
    parse_seconds, _ = cpu(lambda: parse_all(pages, config), args.repeat)
    lines += ["", f"## Per HTML page, step by step ({len(pages)} pages with a 2xx HTML response, every one read)", "",
              "| step | ms per page | share |", "|---|---:|---:|",
              f"| read the WARC records (all {len(raws)} records, per page) | {read_per_page * 1000:.3f} | "
              f"{read_per_page / total:.0%} |"]
    lines += [f"| {name} | {t * 1000:.3f} | {t / total:.0%} |" for name, t in zip(STEPS, per_page)]
    lines += ["", "Every page is extracted here; the job skips extraction for pages whose title the rules refuse "
              "and, on Common Crawl data, for pages its crawler calls non-English (`parse_record` below)."]
    lines += ["", f"- end to end before language ID: **{1 / before_langid:,.0f} pages/s per core** (goal 2,000)",
              f"- with language ID on every page: {1 / total:,.0f} pages/s per core",
              f"- the plain fastwarc read of the same records: {fastwarc_rate * len(pages) / len(raws):,.0f} "
              f"pages/s per core ({len(raws) / len(pages):.1f} records per page), so the pipeline runs at "
              f"{(1 / before_langid) / (fastwarc_rate * len(pages) / len(raws)):.2f}x the plain read",
              f"- the parser as the pipeline calls it (sources.commoncrawl.parse_record + rules): "
              f"{len(pages) / parse_seconds:,.0f} pages/s per core"]
    by_file = {}
    for data, record, _, _ in pages:
        by_file.setdefault(record.get(warc.CRAWL), []).append(data)
    shipped = sources.commoncrawl.CommonCrawlConfig()
    lines += ["", "| file (crawl) | pages | median HTML KiB | parse + rules, every page read, pages/s per core | "
                  "as shipped: English only (the crawler's guess, else language ID) |", "|---|---:|---:|---:|---:|"]
    for crawl, datas in sorted(by_file.items()):
        seconds, _ = cpu(
            lambda d=datas: [
                sources.commoncrawl.drop_reason(sources.commoncrawl.parse_record(x, config), config) for x in d
            ],
            args.repeat,
        )
        english, _ = cpu(
            lambda d=datas: [
                sources.commoncrawl.drop_reason(sources.commoncrawl.parse_record(x, shipped), shipped) for x in d
            ],
            args.repeat,
        )
        kib = statistics.median(len(x) for x in datas) / 1024
        lines.append(f"| {crawl} | {len(datas)} | {kib:.0f} | {len(datas) / seconds:,.0f} | "
                     f"{len(datas) / english:,.0f} |")
    print("\n".join(lines[-12:]), flush=True)

    # 3. extractors
    htmls = [web_text.decode_html(http_message.decoded_body(h, b, config.max_html_bytes, config.max_record_bytes),
                                  h.charset)[0] for _, _, h, b in pages]
    res_seconds, _ = cpu(lambda: [web_text.HtmlDocument(h).main_text() for h in htmls], args.repeat)
    lines += ["", "## Extractors on the same decoded HTML", "",
              "| extractor | pages/s per core |", "|---|---:|",
              f"| resiliparse (chosen) | {len(htmls) / res_seconds:,.0f} |"]
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def whole_page(h):
        return extract_plain_text(HTMLTree.parse(h), main_content=False, alt_texts=False, links=False,
                                  form_fields=False, noscript=False, comments=False)

    plain_seconds, plains = cpu(lambda: [whole_page(h) for h in htmls], args.repeat)
    lines.append(f"| resiliparse without main-content mode (all text, then the same prose lines) | "
                 f"{len(htmls) / plain_seconds:,.0f} |")
    try:
        import trafilatura

        traf_seconds, trafs = cpu(lambda: [trafilatura.extract(h) or "" for h in htmls], 1)
        lines.append(f"| trafilatura | {len(htmls) / traf_seconds:,.0f} |")

        def passages(texts):
            return [
                web_text.passage_of(
                    web_text.prose_lines(web_text.clean_text(t[: sources.commoncrawl.MAX_TEXT_CHARS])),
                    config.max_passage_words,
                )
                for t in texts
            ]

        main = passages(web_text.HtmlDocument(h).main_text() for h in htmls)
        whole = passages(plains)
        both = [(m, w, t) for m, w, t in zip(main, whole, trafs) if m and w and words_of(t)]
        main_share = statistics.mean(containment(m, t) or 0.0 for m, _, t in both)
        whole_share = statistics.mean(containment(w, t) or 0.0 for _, w, t in both)
        lines += ["", f"Agreement with trafilatura: the share of a passage's sentences that are in trafilatura's "
                      f"main text, mean over the {len(both)} pages where all three give text: resiliparse main "
                      f"content {main_share:.0%}, without main-content mode {whole_share:.0%}. trafilatura takes "
                      f"{traf_seconds / res_seconds:.0f}x resiliparse's time."]
    except ImportError:
        lines.append("| trafilatura | not installed |")
    print("\n".join(lines[-6:]), flush=True)

    # 4. --max_html_bytes
    whole = sources.commoncrawl.CommonCrawlConfig(english_only=False, max_html_bytes=8 << 20, max_record_bytes=8 << 20)
    whole_raws = read_ccpairs(blobs, whole)
    parsed = (sources.commoncrawl.parse_record(r.data, whole) for r in whole_raws)
    reference = {p.url: p.passage for p in parsed if isinstance(p, sources.commoncrawl.WebPage)}
    lines += ["", "## --max_html_bytes: speed and passages", "",
              "| cap | parse pages/s per core | passages equal to whole-page reading |", "|---|---:|---:|"]
    for cap in (64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 8 << 20):
        capped = sources.commoncrawl.CommonCrawlConfig(english_only=False, max_html_bytes=cap, max_record_bytes=8 << 20)
        capped_raws = [r for r in read_ccpairs(blobs, capped)]
        datas = [
            r.data
            for r in capped_raws
            if isinstance(sources.commoncrawl.parse_record(r.data, capped), sources.commoncrawl.WebPage)
        ]
        seconds, _ = cpu(lambda d=datas: [sources.commoncrawl.parse_record(x, capped) for x in d], args.repeat)
        same = sum(
            reference.get(p.url) == p.passage for p in (sources.commoncrawl.parse_record(x, capped) for x in datas)
        )
        default = " (default)" if cap == sources.commoncrawl.CommonCrawlConfig().max_html_bytes else ""
        lines.append(f"| {cap >> 10} KiB{default} | {len(datas) / seconds:,.0f} | "
                     f"{same} / {len(datas)} |")
    print("\n".join(lines[-7:]), flush=True)

    # 5. Beam
    tmp = tempfile.mkdtemp()
    try:
        inputs = []
        for i in range(args.copies):
            for path in FILES:
                copy = os.path.join(tmp, "in", f"{i:03d}-{os.path.basename(path)}")
                os.makedirs(os.path.dirname(copy), exist_ok=True)
                shutil.copyfile(path, copy)
                inputs.append(copy)
        beam_seconds, _ = cpu(
            lambda: pipelines.commoncrawl.run(
                [
                    "--input",
                    os.path.join(tmp, "in", "*.warc.gz"),
                    "--output",
                    os.path.join(tmp, "out"),
                    "--version",
                    "bench",
                ]
            )
        )
        manifest = json.load(open(os.path.join(tmp, "out", "commoncrawl", "bench", "manifest.json")))
    finally:
        shutil.rmtree(tmp)
    counts = manifest["counts"]
    html_pages = args.copies * len(pages)
    lines += ["", f"## The Beam job (FnApiRunner, in process; English only, as shipped) on {args.copies} copies", "",
              f"{counts['records_read']:,} records, {html_pages:,} HTML pages, {counts['pairs']} pairs (copies repeat "
              f"URLs: duplicate_record {counts['records_dropped'].get('duplicate_record', 0):,}) in {beam_seconds:.1f} "
              f"CPU s: **{counts['records_read'] / beam_seconds:,.0f} records/s, {html_pages / beam_seconds:,.0f} "
              f"HTML pages/s per core**, language ID and Beam's per-element costs included.", "",
              f"Counts of one run: `{json.dumps(counts['records_dropped'], sort_keys=True)}`"]
    print("\n".join(lines[-4:]), flush=True)
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
