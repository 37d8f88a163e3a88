"""Semantic Scholar parsing: every record kind from real lines, one id type, rejects, the merge, the rules."""

import gzip
import itertools
import json

import pytest

from sources import semanticscholar
from sources.errors import RejectRecord

ABSTRACT = "We study how the grind size of coffee changes extraction, and find that finer grinds extract faster."


def test_each_real_record_kind_parses(shared_data):
    base = shared_data / "semanticscholar"
    first = {name: gzip.open(base / "s2ag-2023-samples" / f"{name}-sample.part1-of-2.jsonl.gz").readline()
             for name in ("papers", "abstracts", "citations", "s2orc")}
    paper = semanticscholar.decode_line(first["papers"])
    assert (paper.kind, paper.paper_id, paper.year) == ("papers", "108228682", 2018) and paper.title.startswith("Optim")
    abstract = semanticscholar.decode_line(first["abstracts"])
    assert abstract.kind == "abstracts" and abstract.paper_id == "208605629" and abstract.abstract.startswith("Bacterio")
    citation = semanticscholar.decode_line(first["citations"])
    assert citation == semanticscholar.Citation(
        "20187272", "85219962"
    )  # ids were strings here, ints elsewhere: one type
    s2orc = semanticscholar.decode_line(first["s2orc"])
    assert s2orc.kind == "s2orc" and s2orc.title.startswith("Erratum Hypoxia-induced") and s2orc.abstract == ""
    legacy = semanticscholar.decode_line(
        open(base / "s2orc-v2020-07-05" / "metadata-sample.part1-of-2.jsonl", "rb").readline()
    )
    assert (legacy.kind, legacy.paper_id, legacy.year, legacy.cites) == ("legacy", "77490025", 1975, ())


@pytest.mark.parametrize("line, reason", [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "not_an_object"),
    (b'{"corpusid": 1}', "unknown_record_type"),
    (b'{"corpusid": "12a", "title": "x"}', "bad_field_type"),
    (b'{"corpusid": 1.5, "title": "x"}', "bad_field_type"),
    (b'{"corpusid": true, "abstract": "x"}', "bad_field_type"),
    (b'{"corpusid": 1, "title": 7}', "bad_field_type"),
    (b'{"corpusid": 1, "title": "x", "year": 99999}', "value_out_of_range"),
    (b'{"citingcorpusid": null, "citedcorpusid": "2"}', "missing_fields"),
    (b'{"paper_id": "1", "title": "x", "outbound_citations": "2"}', "bad_field_type"),
    (b'{"corpusid": 1, "content": {"text": "t", "annotations": {"title": "[{\\"start\\": 0}]"}}}', "bad_field_type"),
    (b'\xff{"corpusid": 1}', "invalid_utf8"),
])
def test_bad_records_are_rejects_with_their_reason(line, reason):
    with pytest.raises(RejectRecord) as exc:
        semanticscholar.decode_line(line)
    assert exc.value.reason == reason


def test_one_bad_outbound_citation_costs_that_citation_not_the_paper():
    """Issue 22, case 16: a legacy S2ORC record with one non-numeric outbound citation id was rejected whole."""
    line = json.dumps({"paper_id": "77", "title": "A paper on the tides of the Moon", "abstract": "An abstract.",
                       "outbound_citations": ["12", "x9", None, "5", "12"]}).encode()
    part = semanticscholar.decode_line(line)
    assert part.paper_id == "77" and part.cites == ("12", "5")
    assert dict(part.cleanup)["outbound_citation_invalid"] == 2


def test_merging_parts_in_any_order_gives_one_paper():
    parts = [semanticscholar.PaperPart("papers", "7", title="Grind size and extraction", year=2019, citation_count=4),
             semanticscholar.PaperPart("abstracts", "7", abstract=ABSTRACT),
             semanticscholar.PaperPart("s2orc", "7", title="Grind size and extraction", abstract=ABSTRACT[:40]),
             semanticscholar.PaperPart("papers", "7", title="Grind size", year=2020)]
    results = set()
    for order in itertools.permutations(parts):
        merged = semanticscholar.paper_of(order[0])
        for part in order[1:]:
            merged = semanticscholar.merge_parts(merged, semanticscholar.paper_of(part))
        results.add(merged)
    assert len(results) == 1
    (paper,) = results
    assert (paper.title, paper.abstract, paper.year, paper.citation_count) == (
        "Grind size and extraction", ABSTRACT, 2019, 4)
    assert paper.records == (("abstracts", 1), ("papers", 2), ("s2orc", 1))


@pytest.mark.parametrize("title, abstract, reason", [
    ("", ABSTRACT, "no_title"),
    ("Grind size and extraction", "", "no_abstract"),
    ("Grind", ABSTRACT, "too_short"),
    ("Grind size and extraction", "Too short.", "too_short"),
    ("Grind size and extraction", "x " * 3000, "too_long"),
    ("Grind size and coffee extraction rates", "Grind size and coffee extraction rates.", "abstract_is_title"),
    ("O Método Pilates comparado com a Cinesioterapia no tratamento pós-operatório da Reconstrução do "
     "Ligamento Cruzado Anterior", ABSTRACT, "non_english"),  # a real S2ORC title over an English abstract
    ("Aqueous processing of hydroxyapatite", ABSTRACT, None),  # a technical English title stays
])
def test_title_abstract_rules(title, abstract, reason):
    paper = semanticscholar.Paper("1", title, abstract)
    assert semanticscholar.title_abstract_drop(paper, semanticscholar.SemanticScholarConfig()) == reason


def test_labels_and_translation_brackets_are_cleaned():
    assert semanticscholar.clean_abstract("ABSTRACTIntroduction: The x") == "Introduction: The x"
    assert semanticscholar.clean_abstract("Abstract The area of rice") == "The area of rice"
    assert semanticscholar.clean_abstract("Abstract algebra studies groups") == "Abstract algebra studies groups"
    assert semanticscholar.clean_title("[Preliminary study on soil loss].") == "Preliminary study on soil loss"
    assert semanticscholar.clean_title("Loss [in soil]") == "Loss [in soil]"


def test_settings_are_checked():
    with pytest.raises(ValueError, match="--citation_pairs"):
        semanticscholar.SemanticScholarConfig(citation_pairs="title-body")
    with pytest.raises(ValueError, match="--max_citations_per_paper"):
        semanticscholar.SemanticScholarConfig(max_citations_per_paper=0)
    assert semanticscholar.citation_fields(semanticscholar.SemanticScholarConfig(citation_pairs="title-abstract")) == (
        "title",
        "abstract",
    )
    json.dumps(semanticscholar.SemanticScholarConfig().__dict__)


def test_paper_verdicts_are_the_rules_verdicts_each_rule_asked_once(shared_data):
    """paper_verdicts gives what title_abstract_drop and endpoint_drop give, on the real S2ORC 2020
    records, in each citation form; a rule two lists share (the title's language ID) runs once."""
    path = shared_data / "semanticscholar" / "s2orc-v2020-07-05" / "metadata-sample.part1-of-2.jsonl"
    papers = [semanticscholar.paper_of(semanticscholar.decode_line(line)) for line in open(path, "rb")][:150]
    for form in ("title-title", "title-abstract", "abstract-abstract"):
        config = semanticscholar.SemanticScholarConfig(citation_pairs=form)
        citing_field, cited_field = semanticscholar.citation_fields(config)
        for paper in papers:
            verdicts = semanticscholar.paper_verdicts(paper, config)
            assert verdicts.title_abstract == semanticscholar.title_abstract_drop(paper, config)
            assert verdicts.citing == semanticscholar.endpoint_drop(paper, citing_field, config)
            assert verdicts.cited == semanticscholar.endpoint_drop(paper, cited_field, config)

    asked = []

    class Counting:
        def __call__(self, paper):
            asked.append(paper.paper_id)

    rule = Counting()
    seen = {}
    for _ in range(3):
        assert semanticscholar.first_drop_once(papers[0], (rule,), seen) is None
    assert asked == [papers[0].paper_id]
