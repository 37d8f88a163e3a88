"""Issue 24's fault scan, as a test: the pipeline on the real samples (../shared/data/wikipedia), then
every pair read for what removals used to leave behind. Each pattern below matched real pairs before
the fix (benchmarks/results/pair_audit_r3_wikipedia.md); none may match now."""

import bz2
import glob
import os
import re

import pyarrow.parquet as pq
import pytest

import pipelines.wikipedia
import sources.wikipedia
from sources.formats.mediawiki_xml import PageBytes, iter_pieces

SYMBOL = ("\u00a6\u00a7\u00a9\u00ac\u00ae\u00b0\u00b1\u00b6\u00d7\u00f7\u2100-\u214f\u2190-\u2bff"
          "\U0001d400-\U0001d7ff\U0001f000-\U0001faff")
FAULTS = {
    # a removed pronunciation or formula: "the long A sound, pronounced."
    "pronounced_gap": re.compile(r"(?<!becomes )(?<!more )(?<!very )(?<!less )\bpronounced(?: as)?\s*[.,;:)]"),
    # a removed list of transcriptions: "such as, or.", "particularly, and.", "either or."
    "such_as_gap": re.compile(r"\bsuch as\s*[,.;:)]"),
    "or_gap": re.compile(r",\s*(?:or|and)\s*[.;:)]|\b(?:either|both|between)\s+(?:\S+\s+)?(?:or|and)\s*[.,;:)]"),
    # a removed word before the stop: "is located at.", "would be calculated as.", "the sum of."
    "stop_gap": re.compile(r"\b(?:as|at|denoted|equals|via|from|than|the sum of|is given by)\s*\.(?=\s|$)"),
    "empty_brackets": re.compile(r"\(\s*[,;:]?\s*\)|\[\s*\]"),
    # an introduction whose list or table is gone: the passage ends in ":"
    "trailing_colon": re.compile(r":\s*\Z"),
    # symbol debris of math templates: "↔±≃↦ℂ°∘≤ℚ"
    "symbol_run": re.compile("[%s](?:[ ,]?[%s]){2,}" % (SYMBOL, SYMBOL)),
}

def faults(pairs):
    found = []
    for pair in pairs:
        text = pair["passage"]
        for name, pattern in FAULTS.items():
            for match in pattern.finditer(text):
                found.append((name, pair["passage_id"], text[max(0, match.start() - 60):match.end() + 20]))
        if not pair["lang"]:
            found.append(("empty_lang", pair["passage_id"], ""))
        if pair["subsource"] in ("", "unknown"):
            found.append(("unknown_subsource", pair["passage_id"], ""))
    return found


def run(inputs, out):
    argv = [a for path in inputs for a in ("--input", str(path))] + ["--output", str(out), "--version", "v1"]
    directory = pipelines.wikipedia.run(argv)
    return pq.read_table(sorted(glob.glob(os.path.join(directory, "pairs-*.parquet")))).to_pylist()


def test_no_pair_of_the_real_samples_shows_a_known_fault(tmp_path, shared_data):
    pairs = run(sorted((shared_data / "wikipedia").glob("*.bz2")), tmp_path)
    assert len(pairs) > 1600
    assert faults(pairs) == []


def test_the_scan_finds_each_fault_it_names():
    bad = ["the long A sound, pronounced. Then", "an open unrounded vowel, such as, or.", "Oranjestad is located at.",
           "The provinces are:", "Symbols ↔±≃↦ℂ°∘≤ℚ abound.", "A word () here."]
    found = {name for name, _, _ in faults([{"passage": t, "passage_id": "x", "lang": "en", "subsource": "enwiki"}
                                            for t in bad])}
    assert found == {"pronounced_gap", "such_as_gap", "or_gap", "stop_gap", "trailing_colon", "symbol_run",
                     "empty_brackets"}


@pytest.mark.parametrize("strip, lang, wiki", [
    (lambda xml: re.sub(rb"<siteinfo>.*?</siteinfo>", b"", xml, flags=re.S), "en", "enwiki"),  # xml:lang tells
    (lambda xml: re.sub(rb'\sxml:lang="en"', b"", re.sub(rb"<siteinfo>.*?</siteinfo>", b"", xml, flags=re.S)),
     "en", "enwiki"),  # nothing tells: language ID of each page
])
def test_a_dump_without_siteinfo_under_another_name_still_gets_its_language(tmp_path, shared_data, strip, lang, wiki):
    """The pipeline's parse step (pipelines.wikipedia._Parser: the file's site looked up once) on the real
    wikipedia2vec sample, its <siteinfo> removed and the file renamed so that its name tells nothing."""
    xml = strip(bz2.open(shared_data / "wikipedia" / "enwiki-pages-articles-sample.xml.bz2").read())
    assert b"<siteinfo>" not in xml
    path = tmp_path / "sample.xml"
    path.write_bytes(xml)
    parse = pipelines.wikipedia._Parser(sources.wikipedia.WikipediaConfig())
    pages = [parse(piece.data, str(path)) for piece in iter_pieces([(0, xml)]) if isinstance(piece, PageBytes)]
    pairs = [pair for page in pages for pair in sources.wikipedia.pairs_of(page, sources.wikipedia.WikipediaConfig())]
    assert pairs and {(p["lang"], p["subsource"]) for p in pairs} == {(lang, wiki)}
    assert all(p["query_id"].startswith(wiki + "/") for p in pairs) and faults(pairs) == []
