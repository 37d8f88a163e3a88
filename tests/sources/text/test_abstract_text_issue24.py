"""Semantic Scholar abstracts, issue 24: publisher heads and tails, a text twice, mojibake, inline
LaTeX and texts that are no abstract, each on the real S2ORC 2020 record it was found in."""

import functools
import json

import pytest

from sources import semanticscholar
from sources.text import abstract_text
from sources.text.abstract_text import (FUNDING_NOTE, HEADINGS_UNGLUED, KEYWORDS_REMOVED, LATEX_CONVERTED,
                                        NO_FULL_SENTENCE, PUBLISHER_HEAD_REMOVED, PUBLISHER_TAIL_REMOVED,
                                        REPEAT_REMOVED, REPEATS_ITSELF, STARTS_MID_SENTENCE, clean_s2_abstract,
                                        not_an_abstract)

LEGACY = "semanticscholar/s2orc-v2020-07-05/metadata-sample.part1-of-2.jsonl"


@functools.lru_cache(maxsize=None)
def _records(path):
    return {obj["paper_id"]: obj for obj in map(json.loads, open(path, encoding="utf-8"))}


def real(shared_data, paper_id):
    """The real record's PaperPart (its abstract cleaned with the defaults)."""
    return semanticscholar.parse_record(_records(str(shared_data / LEGACY))[paper_id])


@pytest.mark.parametrize("paper_id, end, changed", [
    ("2874147", "identifying acceptable candidate tablet formulations.", PUBLISHER_TAIL_REMOVED),  # © 2010 Wiley-Liss
    ("2876274", "terminally ill cancer patients.", PUBLISHER_TAIL_REMOVED),  # Copyright © 2007 John Wiley & Sons
    ("18987532", "with maintained functional properties.", PUBLISHER_TAIL_REMOVED),  # (Blood. 2004;103: 3287-3295)
    ("2876496", "by way of the down-regulation of PC7 expression.", PUBLISHER_TAIL_REMOVED),  # (HEPATOLOGY 2013;).
    ("94552136", "to lower the melting point of the sample.", PUBLISHER_TAIL_REMOVED),  # (Author)
    ("213460301", "readingcomprehension.", KEYWORDS_REMOVED),  # Keywords: reading comprehension, ...
    ("213462133", "especially in Bangladesh.", KEYWORDS_REMOVED),  # Keywords: Independent directors; ...
    # "... the functional relationship is of the © Science and Technology Letters. All rights reserved.":
    # the tail goes, then the cut sentence before it
    ("2879621", "their projections on the central axis (l') do not overlap.", PUBLISHER_TAIL_REMOVED),
])
def test_publisher_tails_go(shared_data, paper_id, end, changed):
    part = real(shared_data, paper_id)
    assert part.abstract.endswith(end) and changed in dict(part.cleanup)
    assert not any(mark in part.abstract for mark in ("\u00a9", "Copyright", "Keywords", "(Author)", "rights"))


def test_publisher_heads_go(shared_data):
    ieee = real(shared_data, "199661072")
    assert ieee.abstract.startswith("It is well known that the group velocity")  # was "Summary form only given. It"
    escholarship = real(shared_data, "213345602")  # was "Author(s): Reddie, ... | Advisor(s): ... | Abstract: ..."
    assert escholarship.abstract.startswith("Governing Insecurity examines")
    accepted = real(shared_data, "2879621")  # was "(Accepted after revision 7 April 1994) INTRODUCTION In a ..."
    assert accepted.abstract.startswith("INTRODUCTION In a recent paper")
    assert all(PUBLISHER_HEAD_REMOVED in dict(p.cleanup) for p in (ieee, escholarship, accepted))


def test_an_abstract_given_twice_is_kept_once(shared_data):
    part = real(shared_data, "213463945")  # "...for OFDM systems.In an Orthogonal Frequency ..." twice over
    assert part.abstract.count("In an Orthogonal Frequency Division Multiplexing") == 1
    assert part.abstract.endswith("as pilot selection for OFDM systems.") and REPEAT_REMOVED in dict(part.cleanup)


def test_mojibake_is_repaired_as_reddit_and_common_crawl_do(shared_data):
    part = real(shared_data, "213465620")
    assert "Koreans\u2019 perceptions" in part.abstract and "\u00e2\u20ac" not in part.abstract
    assert dict(part.cleanup)["abstract_mojibake_repaired"] == 1
    assert semanticscholar.clean_title_counted("Koreans\u00e2\u20ac\u2122 trust") == (
        "Koreans\u2019 trust", (("title_mojibake_repaired", 1),))


def test_inline_latex_becomes_text(shared_data):
    graphs = real(shared_data, "18982127").abstract
    assert "a set W on k vertices" in graphs and "gₖ-convex" in graphs and "$" not in graphs
    impurity = real(shared_data, "199661310").abstract
    assert "initial momentum p₀ the impurity" in impurity and "In this limit p∞(p₀) is found" in impurity
    ofdm = real(shared_data, "2874113").abstract
    assert "the commonly used ℓ₁ minimization" in ofdm and "as low as 1/16 of" in ofdm
    assert "\u201cspread out\u201d" in ofdm and LATEX_CONVERTED in dict(real(shared_data, "2874113").cleanup)
    kept = semanticscholar.clean_abstract_counted(_records(str(shared_data / LEGACY))["18982127"]["abstract"],
                                                  semanticscholar.SemanticScholarConfig(latex_to_text=False))[0]
    assert "a set $W$ on $k$ vertices" in kept  # --keep_latex


def test_keywords_may_be_kept(shared_data):
    config = semanticscholar.SemanticScholarConfig(keep_keywords=True)
    text = semanticscholar.clean_abstract_counted(_records(str(shared_data / LEGACY))["213462133"]["abstract"],
                                                  config)[0]
    assert text.endswith("Keywords: Independent directors; firm performance; effective function .")


@pytest.mark.parametrize("paper_id, why", [
    ("94559072", FUNDING_NOTE),  # "Major State Basic Research Development Program of China [2009CB220102]; ..."
    ("147012690", STARTS_MID_SENTENCE),  # 'lines". Certainly if the misfit ...' (another work's text)
    ("2871844", STARTS_MID_SENTENCE),  # "tile of fitness (quintile 5) was associated ..."
    ("213341263", NO_FULL_SENTENCE),  # "... it might not go pandemic, reports Debora MacKenzie"
    ("213348009", NO_FULL_SENTENCE),  # "... or an androgen signaling pathway in..."
    ("213462444", NO_FULL_SENTENCE),  # "... has put pressure ..."
    ("94555004", NO_FULL_SENTENCE),  # a book's table of contents
    ("94556645", NO_FULL_SENTENCE),  # "The sections in this article are ..."
    ("159358149", NO_FULL_SENTENCE),  # a teaser twice: kept once, and it has no full sentence
])
def test_what_is_no_abstract(shared_data, paper_id, why):
    assert not_an_abstract(real(shared_data, paper_id).abstract) == why


@pytest.mark.parametrize("text", [
    "mRNA levels rose. They fell.", "p53 is mutated. Often.", "n-Butanol was used. It works.",
    "in vitro studies show it. They agree.", "de novo synthesis is shown. It works.", "β-cells die. They do.",
    "We study X. It works.", "(1) We study X. (2) It works.",
])
def test_real_abstract_starts_are_kept(text):
    assert not_an_abstract(text) is None


@pytest.mark.parametrize("text, why", [
    ("This work was supported by the National Natural Science Foundation of China (No. 1234).", FUNDING_NOTE),
    ("Funding: NIH grant R01. The authors thank the reviewers.", FUNDING_NOTE),
    ("the rest of the sentence. And more.", STARTS_MID_SENTENCE),
    ("...and so it ended. Then more.", STARTS_MID_SENTENCE),
    (", and the rest. More.", STARTS_MID_SENTENCE),
    ("We measured the rate of growth in the lab. It rose. We measured the rate of growth in the lab.",
     REPEATS_ITSELF),
])
def test_what_is_no_abstract_made_up(text, why):
    assert not_an_abstract(text) == why


def test_glued_headings_and_tails_made_up():
    text, changed = clean_s2_abstract("BackgroundThe yeast relies on it.ResultsWe found it. CCS CONCEPTS "
                                      "\u2022 Computing methodologies \u2192 Learning")
    assert text == "Background: The yeast relies on it.\nResults: We found it." and HEADINGS_UNGLUED in changed
    assert abstract_text.strip_tails("Keywords: x, y", []) == "Keywords: x, y"  # a cut that leaves nothing is not made
    assert abstract_text.strip_tails("We fit it. JEL classification: C71.", []) == "We fit it."
    assert abstract_text.strip_tails("It rose \u00a9 somewhere in the middle. " + "More text. " * 60, []).count(
        "\u00a9") == 1  # a © far from the end is no tail
