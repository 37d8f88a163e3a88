"""Issue 24 (Common Crawl): the job on the real WARCs in ../shared/data/commoncrawl leaves none of
the faults a read of its pairs found: lines a site repeats across its pages (boilerplate), about,
donate and contact titles, section labels in titles, a sentence twice in one passage, shell
command lines; and it says how much text the boilerplate rule removed. The scan reads the pairs
only (boilerplate: lines several passages of one site share), apart from the rules it checks."""

import collections
import glob
import json
import os
import re
from urllib.parse import urlsplit

import pyarrow.parquet as pq

import pipelines.commoncrawl

# Titles of a site's pages about itself, and section labels: written here apart from the rule's lists.
SITE_PAGE_TITLE = re.compile(r"^(?:about(?: us| me)?|donate(?: now)?|contact(?: us)?|who we are|support us|"
                             r"about [\w.]{1,5}|get involved|our (?:mission|team|story))$", re.I)
LABELLED_TITLE = re.compile(r"^(?:blog|news|articles|press|events)\s*(?:[-|:\u2013\u2014])\s|"
                            r"\s(?:[-|\u2013\u2014])\s*(?:blog|news)$", re.I)
SHELL_LINE = re.compile(r"^(?:\$ |sudo |(?:pip3?|python3?|git|npm|conda|apt-get|brew|curl|wget|cd|docker) "
                        r"(?:install|clone|run|-m|-\w|--\w|\S*/))")


def sentences_of(text: str) -> list:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 3]


def scan(pairs: list) -> dict:
    """fault -> [(query_id, what)] over every pair."""
    faults = collections.defaultdict(list)
    by_site = collections.defaultdict(list)
    for pair in pairs:
        title, passage, url = pair["query"], pair["passage"], pair["query_id"]
        if SITE_PAGE_TITLE.match(title.strip()):
            faults["site_page_title"].append((url, title))
        if LABELLED_TITLE.search(title):
            faults["section_label"].append((url, title))
        seen = collections.Counter(" ".join(s.lower().split()) for s in sentences_of(passage))
        faults["repeated_sentence"] += [(url, s) for s, n in seen.items() if n > 1]
        faults["command_line"] += [(url, line) for line in passage.split("\n") if SHELL_LINE.match(line)]
        by_site[urlsplit(url).hostname.removeprefix("www.")].append(pair)
    for site, site_pairs in by_site.items():
        holders = collections.Counter(line for p in site_pairs for line in set(p["passage"].split("\n")))
        for line, n in holders.items():
            if n >= 3 or n >= 2 and len(line.split()) < 8:
                faults["boilerplate_line"].append((site, line))
    return dict(faults)


def test_real_crawls_leave_none_of_the_faults_and_say_what_boilerplate_removed(tmp_path, shared_data):
    out = pipelines.commoncrawl.run(["--input", str(shared_data / "commoncrawl" / "*.warc.gz"),
                                     "--output", str(tmp_path / "out"), "--version", "v"])
    pairs = []
    for path in sorted(glob.glob(os.path.join(out, "pairs-*.parquet"))):
        pairs += pq.read_table(path, columns=["query_id", "query", "passage"]).to_pylist()
    assert {k: v for k, v in scan(pairs).items() if v} == {}
    assert len(pairs) >= 29  # 30 before issue 24
    details = json.loads(open(os.path.join(out, "manifest.json")).read())["detail_counts"]
    read, removed = details["boilerplate/text_chars_read"], details["boilerplate/chars_removed"]
    assert 0.02 < removed / read < 0.10  # 5.1% of the main text on these samples
    assert details["cleanup/boilerplate_lines_removed"] > 100 and details["cleanup/repeated_sentences_dropped"] >= 2
    by_url = {p["query_id"]: p["passage"] for p in pairs}
    # a sidebar line on two pages of archive.org goes; real text two pages share (a book list) stays
    for url in ("http://www.archive.org/details/audio", "http://www.archive.org/details/movies"):
        assert "Read the Collection Team's Blog!" not in by_url[url]
    for book in ("chemicallecturee00newtrich", "manuchemianalqual00newtrich"):
        passage = by_url[f"http://www.archive.org/details/{book}"]
        assert '"Notes on partially miscible aqueous inorganic liquids"' in passage


def test_the_scan_finds_the_faults_it_looks_for():
    page = lambda url, title, passage: {"query_id": url, "query": title, "passage": passage}
    sidebar = "New: Read the Collection Team's Blog!"
    pairs = [page("http://a.org/1", "Donate", f"{sidebar}\nOne two three four. One two three four."),
             page("http://a.org/2", "Blog - Why we moved", f"{sidebar}\n$ pip install foo.")]
    assert {k: len(v) for k, v in scan(pairs).items()} == {
        "site_page_title": 1, "section_label": 1, "repeated_sentence": 1, "command_line": 1, "boilerplate_line": 1}
