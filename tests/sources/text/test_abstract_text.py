"""Semantic Scholar abstracts: S2's ":::" breaks, structured headings, cut excerpts, LaTeX escapes."""

import functools
import json

import pytest

from sources import semanticscholar
from sources.text.abstract_text import (BREAKS_JOINED, CUT_TO_LAST_SENTENCE, LATEX_UNESCAPED, NUMBER_REMOVED,
                                        clean_s2_abstract, cut_to_last_sentence)


def test_breaks_become_paragraphs_spaces_or_headings():
    text = ("UNLABELLED ::: The first seven members. ::: ::: ::: CONCLUSION ::: Among all, PC7 rose. ::: ::: "
            "Methodology/Principal Findings ::: We shaped human ::: developments.")
    assert clean_s2_abstract(text) == ("The first seven members.\nCONCLUSION: Among all, PC7 rose.\n"
                                       "Methodology/Principal Findings: We shaped human developments.",
                                       (BREAKS_JOINED,))
    # a first word is no heading unless it is one: "Photodynamic ::: therapy" is a wrapped line
    assert clean_s2_abstract("Photodynamic ::: therapy (PDT) works.")[0] == "Photodynamic therapy (PDT) works."


@pytest.mark.parametrize("text, cut", [
    ("It rose (1%/GPa). This is explained well by the wea...", "It rose (1%/GPa)."),
    ("Ten were found. Chokka showed significantly higher (p", "Ten were found."),
    ("One sentence. Crew to and from the ... Despite reservations expressed", "One sentence."),
    ("It works. Then they saw(ABSTRACT TRUNCATED AT 250 WORDS)", "It works."),
    ("It works. It is excreted.(ABSTRACT TRUNCATED AT 250 WORDS)", "It works. It is excreted."),
    ("Ends a sentence.", "Ends a sentence."),
    ("value (p < 0.05)", "value (p < 0.05)"),  # no sign of a cut
    ("no full sentence to end at", "no full sentence to end at"),
])
def test_a_cut_excerpt_ends_at_its_last_full_sentence(text, cut):
    assert cut_to_last_sentence(text) == cut


def test_latex_escapes_and_a_glued_abstract_number_go():
    assert clean_s2_abstract("Workers are 3\\% more likely; R\\&D too.") == (
        "Workers are 3% more likely; R&D too.", (LATEX_UNESCAPED,))
    assert clean_s2_abstract("149Background: Patients vary. Some benefit from docetaxel or an in...") == (
        "Background: Patients vary.", (NUMBER_REMOVED, CUT_TO_LAST_SENTENCE))
    assert clean_s2_abstract("3D pose from 2D images.") == ("3D pose from 2D images.", ())


@functools.lru_cache(maxsize=None)
def _legacy_records(path):
    return {obj["paper_id"]: obj for obj in map(json.loads, open(path, encoding="utf-8"))}


@pytest.mark.parametrize("paper_id, start, end, changed", [
    ("18982114", "BACKGROUND: The population in the UK is growing older", None, {BREAKS_JOINED}),
    ("213343657", "While floods are among the most damaging natural hazards, they have helped shape human developments",
     None, {BREAKS_JOINED}),
    ("159358222", None, "are 3% more likely to claim unemployment insurance. Conditional on claiming UI, they are "
     "less likely to exhaust UI.", {LATEX_UNESCAPED}),
    ("213348009", "Background: Patients with metastatic", "have a variable response to ADT and some benefit from the "
     "addition of docetaxel or an androgen signaling pathway in...", {NUMBER_REMOVED}),
    ("213341928", None, "using inductively-coupled plasma mass spectrometry.", {CUT_TO_LAST_SENTENCE}),
])
def test_real_abstracts_of_the_sample(shared_data, paper_id, start, end, changed):
    path = shared_data / "semanticscholar" / "s2orc-v2020-07-05" / "metadata-sample.part1-of-2.jsonl"
    part = semanticscholar.parse_record(_legacy_records(str(path))[paper_id])
    assert {name for name, _ in part.cleanup} >= changed and ":::" not in part.abstract and "\\%" not in part.abstract
    assert start is None or part.abstract.startswith(start)
    # 213348009's only sentence is cut, so it is kept whole: there is no full sentence to end at
    assert end is None or part.abstract.endswith(end)
