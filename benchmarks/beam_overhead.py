"""Beam's overhead per source: each Beam job against a plain in-process loop doing the same work.

    python benchmarks/beam_overhead.py [--sources reddit,semanticscholar,stackexchange,wikipedia,commoncrawl,corpus]
                                       [--modes inprocess,multi] [--label after] [--profile SOURCE]
                                       [--corpus_pairs 160000] [--no_write]

Inputs are the ones the per-source benchmarks generate (same sizes): a Pushshift-style RS/RC pair
of ~233k lines, the S2ORC sample rewritten as S2AG papers/abstracts/citations 60 times (~233k
records), a generated Posts.xml of 30,000 questions (~114k rows), the real enwiki excerpt 8 times
as a multistream dump (1,648 pages), the three real WARCs 20 times (~10k records).

Every figure is CPU seconds (user + system) of a fresh child process and of the processes it
waited for (the SDK workers of `--direct_running_mode=multi_processing`), measured from after the
imports to the end of the step; the machine is shared, so wall time is not used. Per source:
  floor   decompress + parse (JSON lines, XML rows, page fields, WARC records): what any job pays;
  plain   the same work as the job in one loop, no Beam: parse, clean, rules incl. language ID, one
          copy per id, the joins and caps, pairs, pair dedup, and the pairs written as one sorted
          Parquet file;
  beam    the Beam job (python -m pipelines.<source>) on the FnApiRunner, in process (`inprocess`)
          and with `--direct_running_mode=multi_processing --direct_num_workers=2` (`multi`).
The corpus job (`corpus`) runs on its own benchmark's input at 16x (benchmarks/corpus_job.py: 160k
pairs with planted copies, near-copies and evaluation leaks) with that benchmark's settings; its floor
reads every pair shard into Arrow, and it has no plain loop (its goal is a rate: pairs/s per core).
Common Crawl's HTML pages (2xx HTML responses, what its goal counts) come from its manifest.
Appends a table to benchmarks/results/beam_overhead.md under "## <label>", and prints it.
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

RESULTS = os.path.join(ROOT, "benchmarks", "results", "beam_overhead.md")
SOURCES = ["reddit", "semanticscholar", "stackexchange", "wikipedia", "commoncrawl", "corpus"]
# The corpus job's input: its own benchmark's 16x (benchmarks/corpus_job.py), two sources of pairs,
# decontaminated against the shipped evaluation set, with that benchmark's settings.
CORPUS_PAIRS = 160_000
CORPUS_EVAL = os.path.join(ROOT, "filtering", "eval_sets", "beir-dbpedia-entity-subset")
CORPUS_ARGS = ["--decontaminate", CORPUS_EVAL, "--pool_size", "10000", "--num_shards", "32", "--no_report"]
MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]

# Full dumps, as assumed for the projections (records as each job counts them).
DUMPS = {
    "reddit": (17.0e9, "lines", "Pushshift RS+RC 2005-06..2023-12: ~14.5e9 comments + ~2.5e9 submissions"),
    "semanticscholar": (2.9e9, "records", "S2AG papers (~2.2e8) + abstracts (~1e8) + citations (~2.6e9 rows)"),
    "stackexchange": (2.4e8, "rows", "all Stack Exchange Posts.xml (~2.4e8 rows, stackoverflow.com ~5.9e7 of them)"),
    "wikipedia": (83 * 1024, "MiB of XML", "enwiki pages-articles, 23 GB bz2, ~83 GiB of XML (the sample's 3.6x)"),
    "commoncrawl": (1.0e10, "WARC records", "one crawl: ~3.4e9 captures x 3 WARC records (request, response, metadata)"),
    "corpus": (1.3e9, "pairs", "E5's CCPairs before the consistency filter: ~1.3e9 pairs"),
}


# ---- inputs -------------------------------------------------------------------------------------


def make_inputs(source: str, directory: str, corpus_pairs: int = 0) -> dict:
    """Writes the source's benchmark input under directory; {"paths", "records", "xml_mib"}."""
    os.makedirs(directory, exist_ok=True)
    if source == "reddit":
        import reddit_pipeline

        paths, lines = reddit_pipeline.make_dump(directory, 200_000)
        return {"paths": paths, "records": lines}
    if source == "semanticscholar":
        import semanticscholar_pipeline

        paths, records = semanticscholar_pipeline.make_inputs(directory, 60)
        return {"paths": paths, "records": records}
    if source == "stackexchange":
        from sources.demo_inputs.stackexchange import generate_rows, write_posts_xml

        path = write_posts_xml(os.path.join(directory, "bench.stackexchange.com", "Posts.xml"),
                               generate_rows(30_000, seed=11))
        return {"paths": [path], "records": None}
    if source == "wikipedia":
        import bz2

        import wikipedia_pipeline

        from sources.demo_inputs.wikipedia import write_multistream

        xml = bz2.open(wikipedia_pipeline.SAMPLE).read()
        dump, _ = write_multistream(wikipedia_pipeline.copies_of(xml, 8), os.path.join(
            directory, "enwiki-20160601-pages-articles-multistream.xml.bz2"))
        return {"paths": [dump], "records": None, "xml_mib": len(xml) * 8 / 2**20}
    if source == "commoncrawl":
        import commoncrawl_pipeline

        paths = []
        for i in range(20):
            for path in commoncrawl_pipeline.FILES:
                copy = os.path.join(directory, f"{i:03d}-{os.path.basename(path)}")
                shutil.copyfile(path, copy)
                paths.append(copy)
        return {"paths": paths, "records": None}
    if source == "corpus":  # the corpus job's own benchmark input: planted copies, near-copies, eval leaks
        import pathlib

        import corpus_job

        dirs, _, pairs = corpus_job.make_inputs(pathlib.Path(directory), corpus_pairs, pathlib.Path(CORPUS_EVAL))
        return {"paths": [str(d) for d in dirs], "records": pairs}
    raise ValueError(source)


# ---- the steps a child runs ---------------------------------------------------------------------


def _write_pairs(pairs, directory):
    """The plain loops write their pairs as the job does: one Parquet file sorted by pair_id."""
    from pipelines.sink import PAIR_SORT, sorted_table
    from schemas import versions
    from schemas.pairs import PAIR_SCHEMA

    os.makedirs(directory, exist_ok=True)
    versions.write_table(os.path.join(directory, "pairs.parquet"), sorted_table(pairs, PAIR_SCHEMA, PAIR_SORT))
    return len(pairs)


def _dedup(pairs):
    kept = {}
    for pair in pairs:
        best = kept.get(pair["pair_id"])
        if best is None or (pair["query_id"], pair["passage_id"]) < (best["query_id"], best["passage_id"]):
            kept[pair["pair_id"]] = pair
    return list(kept.values())


def _lang(text):
    from sources.text.langid import detect_language

    return detect_language(text)[0]


def floor_reddit(paths):
    from sources.formats.readers import iter_lines

    n = 0
    for path in paths:
        with open(path, "rb") as handle:
            for item in iter_lines(handle, path):
                json.loads(item.data)
                n += 1
    return n


def plain_reddit(paths, out):
    from pipelines.reddit import SPARE_REPLIES, copy_rank
    from sources import reddit
    from sources.formats.readers import iter_lines

    config, best = reddit.RedditConfig(), {}
    for path in paths:
        with open(path, "rb") as handle:
            for item in iter_lines(handle, path):
                try:
                    post = reddit.decode_line(item.data, config)
                except Exception:  # noqa: BLE001 - a reject, as the job counts it
                    continue
                if reddit.drop_reason(post, config) is None:
                    kept = best.get(post.fullname)
                    if kept is None or copy_rank(post) > copy_rank(kept):
                        best[post.fullname] = post
    replies = {}
    for post in best.values():
        if post.is_comment and reddit.may_be_reply(post, config):
            replies.setdefault(post.parent, []).append(post)
    pairs = []
    for parent_id, children in replies.items():
        parent = best.get(parent_id)
        if parent is None:
            continue
        made = 0
        for reply in sorted(children, key=reddit.reply_rank_key, reverse=True)[:config.top_n + SPARE_REPLIES]:
            if made == config.top_n:
                break
            passage, _ = reddit.reply_passage(parent, reply, config)
            if passage is None:
                continue
            made += 1
            pairs.append(reddit.make_reddit_pair(parent, reply, "en" if config.english_only else _lang(passage),
                                                 passage))
    return _write_pairs(_dedup(pairs), out)


def floor_semanticscholar(paths):
    n = 0
    for path in paths:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                json.loads(line)
                n += 1
    return n


def plain_semanticscholar(paths, out):
    from sources import semanticscholar as s2

    config, papers, rows, legacy = s2.SemanticScholarConfig(), {}, set(), []
    for path in paths:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                try:
                    record = s2.decode_line(line, config)
                except Exception:  # noqa: BLE001 - a reject
                    continue
                if isinstance(record, s2.Citation):
                    if record.cited is not None and record.cited != record.citing:
                        rows.add((record.citing, record.cited))
                    continue
                paper = s2.paper_of(record)
                have = papers.get(record.paper_id)
                papers[record.paper_id] = paper if have is None else s2.merge_parts(have, paper)
                legacy += [(record.paper_id, c) for c in record.cites if c != record.paper_id]
    # every rule once per paper and text, where its parts have merged, as the job does
    verdicts = {paper_id: s2.paper_verdicts(paper, config) for paper_id, paper in papers.items()}
    pairs = []
    for paper_id, paper in papers.items():
        if verdicts[paper_id].title_abstract is None:
            pairs.append(s2.make_title_abstract_pair(paper, verdicts[paper_id].title_abstract_lang))
    by_cited = {}
    for citing, cited in sorted(rows) + legacy:
        by_cited.setdefault(cited, []).append(citing)
    for cited_id, citing_ids in by_cited.items():
        cited = papers.get(cited_id)
        if cited is None or verdicts[cited_id].cited is not None:
            continue
        for citing_id in sorted(set(citing_ids), key=lambda c: s2.cap_rank(c, cited_id))[
                :config.max_citations_per_paper]:
            citing = papers.get(citing_id)
            if citing is not None and verdicts[citing_id].citing is None:
                pairs.append(s2.make_citation_pair(citing, cited, config, verdicts[cited_id].cited_lang))
    return _write_pairs(_dedup(pairs), out)


def _se_posts(path):
    from sources import stackexchange
    from sources.formats.readers import RawLine, iter_lines
    from sources.formats.stackexchange_xml import is_structure_line, strip_line

    site, posts = stackexchange.site_from_path(path), []
    with open(path, "rb") as handle:
        for item in iter_lines(handle, path):
            if isinstance(item, RawLine) and not is_structure_line(strip_line(item.data)):
                posts.append(stackexchange.parse_row_line(item.data, site))
    return posts


def floor_stackexchange(paths):
    return len(_se_posts(paths[0]))


def plain_stackexchange(paths, out):
    from sources import stackexchange

    return _write_pairs(stackexchange.pairs_in_memory(_se_posts(paths[0])), out)


def floor_wikipedia(paths):
    import bz2
    import xml.etree.ElementTree as ET

    pages = 0
    with bz2.open(paths[0]) as stream:
        for _, element in ET.iterparse(stream):
            if element.tag.endswith("}page") or element.tag == "page":
                pages += 1
                element.clear()
    return pages


def plain_wikipedia(paths, out):
    import wikipedia_pipeline

    from sources import wikipedia

    pages = [wikipedia.parse_page_xml(raw, "enwiki") for raw in wikipedia_pipeline.ccpairs_pages(paths[0])]
    return _write_pairs(wikipedia.pairs_in_memory(pages), out)


def floor_corpus(paths):
    """Every pair shard of the input versions read into Arrow (the corpus job's decompress + parse)."""
    import pyarrow.parquet as pq

    from schemas import versions

    return sum(pq.read_table(shard.path).num_rows for path in paths for shard in versions.pair_shards(path))


def floor_commoncrawl(paths):
    from fastwarc.warc import ArchiveIterator

    n = 0
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, parse_http=False):
                record.reader.read()
                n += 1
    return n


def plain_commoncrawl(paths, out):
    """The job's work in one loop: read, parse every record, the site boilerplate of each site within
    its WARC file (sources.commoncrawl.RepeatedLines), the rules, the latest capture per URL, one
    page per passage, pairs, pair dedup."""
    from schemas.pairs import normalize_for_dedup
    from sources import commoncrawl
    from sources.formats import warc
    from sources.formats.readers import TruncatedTail

    config, kept, sites = commoncrawl.CommonCrawlConfig(), [], {}
    for path in paths:
        with open(path, "rb") as handle:
            for raw in warc.WarcFileReader(warc.guarded(handle), path, config.max_record_bytes, config.max_html_bytes):
                if isinstance(raw, TruncatedTail):
                    continue
                try:
                    item = commoncrawl.parse_record(raw.data, config, path)
                except Exception:  # noqa: BLE001 - a reject
                    continue
                if not isinstance(item, commoncrawl.WebPage):
                    continue
                group = commoncrawl.boilerplate_group(item)
                if group:
                    sites.setdefault(group, []).append(item)
                elif commoncrawl.drop_reason(item, config) is None:
                    kept.append(commoncrawl.kept_page(item, config))
    lines = commoncrawl.RepeatedLines(config.boilerplate_min_pages)
    for pages in sites.values():
        counts, page_keys = lines.create(), []
        for page in pages:
            page_keys.append(commoncrawl.page_line_keys(page))
            counts = lines.add(counts, commoncrawl.page_lines(page, config, page_keys[-1]))
        boilerplate = frozenset(lines.extract(counts))
        for page, keys in zip(pages, page_keys):
            if boilerplate:
                page = commoncrawl.without_boilerplate(page, boilerplate, config, keys)[0]
            if commoncrawl.drop_reason(page, config) is None:
                kept.append(commoncrawl.kept_page(page, config))
    captures = {}
    for page in kept:
        best = captures.get(page.url_key)
        if best is None or commoncrawl.capture_rank(page) > commoncrawl.capture_rank(best):
            captures[page.url_key] = page
    passages = {}
    for page in captures.values():
        key = normalize_for_dedup(page.passage)
        best = passages.get(key)
        if best is None or (-len(page.url), page.url) > (-len(best.url), best.url):
            passages[key] = page
    return _write_pairs(_dedup([commoncrawl.make_web_pair(p) for p in passages.values()]), out)


# Sources with a plain loop doing the job's work; the corpus job has none (its goal is a rate).
PLAIN_LOOPS = ("reddit", "semanticscholar", "stackexchange", "wikipedia", "commoncrawl")


NOT_A_PAGE = ("dns_record", "not_html", "http_status")  # Common Crawl drops of records that are no HTML page


def job_module(source):
    return "pipelines.ccpairs" if source == "corpus" else f"pipelines.{source}"


def beam_job(source, paths, out, extra):
    import importlib

    module = importlib.import_module(job_module(source))
    argv = [a for p in paths for a in ("--input", p)] + ["--output", out, "--version", "bench", "--overwrite"] + extra
    if source == "corpus":
        argv += CORPUS_ARGS
    directory = module.run(argv)
    with open(os.path.join(directory, "manifest.json")) as handle:
        counts = json.load(handle)["counts"]
    result = {"records": counts["records_read"], "pairs": counts["pairs"]}
    if source == "commoncrawl":  # HTML pages: 2xx HTML responses, what the Common Crawl goal counts
        result["pages"] = counts["records_read"] - sum(
            n for reason, n in counts["records_dropped"].items() if reason in NOT_A_PAGE or reason.startswith("warc_"))
    return result


def _cpu():
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def child(source, step, workdir, profile_to=None):
    """Runs one step in this (fresh) process and prints {"cpu", "wall", ...} as JSON."""
    import importlib

    importlib.import_module(job_module(source))  # imports are not the step's cost
    import pyarrow.parquet  # noqa: F401
    inputs = json.load(open(os.path.join(workdir, "inputs.json")))
    paths, out = inputs["paths"], os.path.join(workdir, f"out-{step}")
    shutil.rmtree(out, ignore_errors=True)
    if step == "floor":
        fn = lambda: {"records": globals()[f"floor_{source}"](paths)}  # noqa: E731
    elif step == "plain":
        fn = lambda: {"pairs": globals()[f"plain_{source}"](paths, out)}  # noqa: E731
    else:
        fn = lambda: beam_job(source, paths, out, MULTI if step == "multi" else [])  # noqa: E731
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, wall = _cpu(), time.perf_counter()
    result = fn()
    time.sleep(0.5)  # let the runner's threads reap its worker processes
    result.update(cpu=_cpu() - cpu, wall=time.perf_counter() - wall)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    print("RESULT " + json.dumps(result))


def run_child(source, step, workdir, profile_to=None):
    command = [sys.executable, os.path.abspath(__file__), "--child", source, step, workdir]
    if profile_to:
        command += ["--profile_to", profile_to]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{source} {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# ---- the table ----------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--modes", default="inprocess,multi")
    parser.add_argument("--label", default="this run")
    parser.add_argument("--profile", default="", help="cProfile the in-process Beam job of this source "
                                                      "(written to /tmp/beam_overhead_<source>.prof)")
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "STEP", "WORKDIR"))
    parser.add_argument("--profile_to", default=None)
    parser.add_argument("--no_write", action="store_true")
    parser.add_argument("--corpus_pairs", type=int, default=CORPUS_PAIRS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, profile_to=args.profile_to)
        return
    modes = [m for m in args.modes.split(",") if m]
    rows = []
    work = tempfile.mkdtemp(prefix="beam-overhead-")
    try:
        for source in [s for s in args.sources.split(",") if s]:
            directory = os.path.join(work, source)
            inputs = make_inputs(source, os.path.join(directory, "in"), args.corpus_pairs)
            json.dump(inputs, open(os.path.join(directory, "inputs.json"), "w"))
            row = {"source": source}
            for step in ["floor"] + (["plain"] if source in PLAIN_LOOPS else []) + modes:
                profile_to = f"/tmp/beam_overhead_{source}.prof" if step == "inprocess" and args.profile == source \
                    else None
                row[step] = run_child(source, step, directory, profile_to)
                print(f"{source:16s} {step:9s} {json.dumps(row[step])}", flush=True)
            row["records"] = row[modes[0]]["records"] if modes else row["floor"]["records"]
            row["xml_mib"] = inputs.get("xml_mib")
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = render(rows, modes, args.label)
    print(table)
    if not args.no_write:
        head = "" if os.path.exists(RESULTS) else HEADER
        with open(RESULTS, "a") as handle:
            handle.write(head + table + "\n")
        print(f"appended to {RESULTS}")


HEADER = """# Beam's overhead per source (issue 25)

Written by `python benchmarks/beam_overhead.py` (the last step of `make bench`); each section is
one run. CPU seconds (user + system) of a fresh process and the workers it waited for, imports
excluded; ratios are within one run. Columns: records/s per core of the Beam job (in process);
Beam/plain, the job's CPU over a plain loop doing the same work (goal: at most 1.5x); Beam/floor,
over plain decompress + parse; core-hours, the whole dump at the in-process rate (dump sizes below).

"""


def _cell(row, step, fmt="{:.1f}"):
    return fmt.format(row[step]["cpu"]) if step in row else "-"


def render(rows, modes, label):
    lines = [f"## {label}", "", f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores (shared), "
             f"Python {platform.python_version()}.", "",
             "| source | records | floor CPU s | plain CPU s | " + " | ".join(f"Beam {m} CPU s" for m in modes)
             + " | " + " | ".join(f"records/s per core, Beam {m}" for m in modes) + " | "
             + " | ".join(f"Beam/plain {m}" for m in modes) + " | Beam/floor | full dump | core-hours |",
             "|---|---:|---:|---:|" + "---:|" * len(modes) * 3 + "---:|---|---:|"]
    goals = []
    for row in rows:
        source, n = row["source"], row["records"]
        first = row[modes[0]] if modes else row["plain"]
        rate = n / first["cpu"]
        size, unit, what = DUMPS[source]
        if source == "wikipedia":  # bytes, not pages, are the measure: enwiki's pages are mostly tiny redirects
            hours = size / (row["xml_mib"] / first["cpu"]) / 3600
        else:
            hours = size / rate / 3600
        ratios = [f"{row[m]['cpu'] / row['plain']['cpu']:.2f}x" if "plain" in row else "-" for m in modes]
        lines.append(
            f"| {source} | {n:,} | {_cell(row, 'floor')} | {_cell(row, 'plain')} | "
            + " | ".join(_cell(row, m) for m in modes) + " | "
            + " | ".join(f"{n / row[m]['cpu']:,.0f}" for m in modes) + " | " + " | ".join(ratios)
            + f" | {first['cpu'] / row['floor']['cpu']:.1f}x | {what} | {hours:,.0f} |")
        if "plain" in row:
            goals.append(f"- {source}: Beam/plain {' / '.join(ratios)} ({' / '.join(modes)}; goal at most 1.5x)")
        if source == "commoncrawl" and "pages" in first:
            goals.append(f"- commoncrawl: {first['pages']:,} HTML pages (2xx responses) at "
                         + " / ".join(f"{row[m]['pages'] / row[m]['cpu']:,.0f}" for m in modes)
                         + f" pages/s per core ({' / '.join(modes)}; goal 1,000)")
        if source == "corpus":
            goals.append(f"- corpus: {n:,} pairs at " + " / ".join(f"{n / row[m]['cpu']:,.0f}" for m in modes)
                         + f" pairs/s per core ({' / '.join(modes)}; goal 5,000; no plain loop: its goal is a rate)")
    return "\n".join(lines + [""] + goals) + "\n"


if __name__ == "__main__":
    main()
