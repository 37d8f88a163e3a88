"""Semantic Scholar, issue 24: a pair's language from its title and abstract together, scripts
first, on real records; the same rules for citation endpoints."""

import gzip
import json

import pytest

from sources import semanticscholar

ENGLISH = "We study how the grind size of coffee changes extraction, and find that finer grinds extract faster."
CONFIG = semanticscholar.SemanticScholarConfig()


def real_legacy(shared_data, paper_id):
    path = shared_data / "semanticscholar" / "s2orc-v2020-07-05" / "metadata-sample.part1-of-2.jsonl"
    for line in open(path, "rb"):
        if json.loads(line)["paper_id"] == paper_id:
            return semanticscholar.paper_of(semanticscholar.decode_line(line))
    raise AssertionError(paper_id)


@pytest.mark.parametrize("paper_id", ["77493472", "77496281", "94559909", "213463698"])
def test_a_hangul_title_over_an_english_abstract_is_no_english_pair(shared_data, paper_id):
    """Real S2ORC 2020 records: Korean titles ("종설 : 류코트리엔과 알레르기 염증") over English abstracts."""
    paper = real_legacy(shared_data, paper_id)
    assert semanticscholar.foreign_script(paper.title) and not semanticscholar.foreign_script(paper.abstract)
    assert semanticscholar.title_abstract_drop(paper, CONFIG) == "non_english"
    assert semanticscholar.title_abstract_drop(paper, semanticscholar.SemanticScholarConfig(english_only=False)) is None


def test_a_japanese_title_that_language_id_is_unsure_of_is_caught_by_its_script(shared_data):
    """A real S2AG title: language ID says 'zh' at 0.625, under the title rule's certainty; its script decides."""
    path = shared_data / "semanticscholar" / "s2ag-2023-samples" / "papers-sample.part1-of-2.jsonl.gz"
    title = next(semanticscholar.decode_line(line).title for line in gzip.open(path)
                 if json.loads(line)["corpusid"] == 176667917)
    assert title.startswith("トリプルセル方式高温DSC")
    paper = semanticscholar.Paper("176667917", title, ENGLISH)
    assert semanticscholar.title_abstract_drop(paper, CONFIG) == "non_english"


@pytest.mark.parametrize("title", ["Effect of 人参 on rats in a controlled feeding study", "Fragmentation Production of "
                                   "Ωccc and Ωbbb Baryons", "Matrix model and β-deformed N = 4 SYM"])
def test_a_foreign_word_or_greek_letters_in_an_english_title_stay(title):
    assert semanticscholar.title_abstract_drop(semanticscholar.Paper("1", title, ENGLISH), CONFIG) is None


def test_citation_endpoints_follow_the_same_rules(shared_data):
    korean = real_legacy(shared_data, "77493472")
    english = semanticscholar.Paper("2", "Grind size and coffee extraction", ENGLISH)
    for field in ("title", "abstract"):
        assert semanticscholar.endpoint_drop(english, field, CONFIG) is None
    assert semanticscholar.endpoint_drop(korean, "title", CONFIG) == "non_english"
    assert semanticscholar.endpoint_drop(korean, "abstract", CONFIG) is None  # its abstract is English
    assert semanticscholar.endpoint_drop(korean, "title", semanticscholar.SemanticScholarConfig(english_only=False)) \
        is None
    funding = real_legacy(shared_data, "94559072")  # its "abstract" is a funding note
    assert semanticscholar.endpoint_drop(funding, "abstract", CONFIG) == "not_an_abstract"
    assert semanticscholar.endpoint_drop(funding, "abstract",
                                         semanticscholar.SemanticScholarConfig(abstract_check=False)) is None
    chinese_abstract = semanticscholar.Paper("3", "A title", "自1995年我国实行“双休日”以来，小学生每年处于休闲状态的时间总共有170天之多。")
    assert semanticscholar.endpoint_drop(chinese_abstract, "abstract", CONFIG) == "non_english"
