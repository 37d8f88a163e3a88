"""Issue 24 on the real Semantic Scholar samples: a scan of every pair the job makes finds none of
the faults a read of the pairs found (foreign-script titles, funding notes, teasers, repeats,
mid-sentence starts, publisher tails, mojibake, LaTeX); citation rows to a foreign title are
non_english; what the new rules refused and changed is counted."""

import json
import re

import pipelines.semanticscholar
from pipelines.accounting import CLEANUP_NAMESPACE
from sources.semanticscholar import foreign_script
from sources.text.normalize import may_be_mojibake
from tests.pipelines.conftest import run_counting
from tests.pipelines.test_semanticscholar_pipeline import LEGACY, real_papers, run, s2ag_files

PAIRS_BEFORE = 265  # the default job on the samples before issue 24 (results/pair_audit_r3_semanticscholar.md)
_SENTENCE = re.compile(r"[.!?][)\"'\u201d\u2019\]]*(?=\s|$)")


def _repeats(text: str) -> bool:
    seen, start = set(), 0
    for end in _SENTENCE.finditer(text):
        sentence = " ".join(text[start:end.end()].split()).casefold()
        start = end.end()
        if len(sentence) >= 40 and sentence in seen:
            return True
        seen.add(sentence)
    n = len(text)
    return n >= 40 and any(text[:h].strip() == text[h:].strip() for h in (n // 2, (n - 1) // 2))


# Each fault as a reader would look for it: patterns of their own, wider than the rules that remove them.
FAULTS = {
    "foreign_script_title": lambda q, p: foreign_script(q),
    "funding_note": lambda q, p: bool(re.search(r"\b(?:Program(?:me)?|Foundation|Funds?|Council)\b[^.]{0,80}"
                                                r"\[[\w-]{4,}"
                                                r"|^(?:This (?:work|research|study) (?:was|is) )?"
                                                r"(?:supported|funded) by"
                                                r"|^Funding\b|^Acknowledg", p, re.I)),
    "teaser_ellipsis": lambda q, p: p.rstrip().endswith(("...", "\u2026")),
    "repeats_itself": lambda q, p: _repeats(p),
    "starts_mid_sentence": lambda q, p: bool(re.match(r"[a-z]", p) and not re.match(r"\S*[A-Z0-9-]", p))
    or p[:1] in ",;:)]}" or p.startswith(".."),
    "no_full_sentence": lambda q, p: not _SENTENCE.search(p),
    "publisher_tail": lambda q, p: bool(re.search(r"\u00a9|Copyright|Key ?words?\s*[:\-]|KEYWORDS|CCS CONCEPTS|"
                                                  r"All rights reserved|\bJEL\b|Index Terms|\(Author\)", p, re.I)),
    "mojibake": lambda q, p: may_be_mojibake(q) or may_be_mojibake(p),
    "latex": lambda q, p: bool(re.search(r"\$[^$\s][^$]{0,300}\$|\\[A-Za-z]+|``|[_^]\{", q + " " + p)),
}


def test_no_pair_of_the_real_samples_has_any_issue_24_fault(tmp_path, shared_data):
    _, rows, counts = run(tmp_path, str(shared_data / "semanticscholar" / "*" / "*.jsonl*"), "a")
    found = {name: [p["passage_id"] for p in rows if fault(p["query"], p["passage"])] for name, fault in FAULTS.items()}
    assert found == {name: [] for name in FAULTS}
    # every pair the rules took away is one the audit judged bad: 9 of 265
    assert len(rows) == counts["pairs"] == PAIRS_BEFORE - 9 and counts["records_dropped"]["not_an_abstract"] == 9
    assert len(rows) >= 0.95 * PAIRS_BEFORE


def test_a_citation_to_or_from_a_foreign_title_is_non_english(tmp_path, shared_data):
    records = real_papers(shared_data, 3)
    korean = next(json.loads(line) for line in open(shared_data / LEGACY) if json.loads(line)["paper_id"] == "77493472")
    ids = [r["paper_id"] for r in records]
    citations = [(korean["paper_id"], ids[0]), (ids[1], korean["paper_id"]), (ids[1], ids[2])]
    _, rows, counts = run(tmp_path, s2ag_files(tmp_path, records + [korean], citations), "v1")
    cited = [(p["query_id"].split("/")[0], p["passage_id"].split("/")[0]) for p in rows if p["subsource"] == "citation"]
    assert cited == [(ids[1], ids[2])]
    assert counts["records_dropped"]["non_english"] == 2 + 2  # the two rows, and the Korean paper's two records
    _, rows, counts = run(tmp_path, s2ag_files(tmp_path, records + [korean], citations), "any", "--any_language")
    assert sum(p["subsource"] == "citation" for p in rows) == 3 and "non_english" not in counts["records_dropped"]


def test_what_the_issue_24_rules_did_is_counted(tmp_path, shared_data):
    wanted = {"94559072", "2871844", "213341263", "213465620", "2874147", "213462133", "213463945", "18982127",
              "199661072"}
    path = tmp_path / "legacy" / "metadata-0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(line for line in open(shared_data / LEGACY, encoding="utf-8")
                            if json.loads(line)["paper_id"] in wanted))
    counters = run_counting(pipelines.semanticscholar,
                            ["--input", str(path), "--output", str(tmp_path / "out"), "--version", "v1"])
    cleanup = {name: n for (ns, name), n in counters.items() if ns == CLEANUP_NAMESPACE}
    assert cleanup == {"abstract_refused_funding_note": 1, "abstract_refused_starts_mid_sentence": 1,
                       "abstract_refused_no_full_sentence": 1, "abstract_mojibake_repaired": 1,
                       "abstract_publisher_tail_removed": 1, "abstract_keywords_removed": 1,
                       "abstract_repeat_removed": 1, "abstract_latex_converted": 1,
                       "abstract_publisher_head_removed": 1}
