"""The Semantic Scholar job: both joins on fixtures rewritten from real S2ORC 2020 records, the cap,
the accounting, bad input, and the real samples as they are."""

import glob
import gzip
import json
import os
import pathlib
import shutil

import pyarrow.parquet as pq
import pytest

import pipelines.semanticscholar
import sources.semanticscholar
from pipelines.accounting import CLEANUP_NAMESPACE, pair_row
from tests.pipelines.conftest import run_counting

LEGACY = "semanticscholar/s2orc-v2020-07-05/metadata-sample.part1-of-2.jsonl"


def real_papers(shared_data, n):
    """The first n real S2ORC 2020 records whose (title, abstract) pair passes the rules."""
    chosen = []
    for line in open(shared_data / LEGACY, "rb"):
        record = json.loads(line)
        paper = sources.semanticscholar.paper_of(sources.semanticscholar.decode_line(line))
        if sources.semanticscholar.title_abstract_drop(paper, sources.semanticscholar.SemanticScholarConfig()) is None:
            chosen.append(record)
        if len(chosen) == n:
            return chosen
    raise AssertionError("not enough real papers")


def write_jsonl_gz(path, objects):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        for obj in objects:
            handle.write(json.dumps(obj) + "\n")
    return path


def s2ag_files(tmp_path, records, citations):
    """The records rewritten into S2AG shapes: ids as ints in papers/abstracts, strings in citations;
    abstracts in another order than papers, so the join cannot rely on it."""
    papers = [{"corpusid": int(r["paper_id"]), "title": r["title"], "year": r["year"], "citationcount": 3,
               "externalids": {"MAG": r["mag_id"]}} for r in records]
    abstracts = [{"corpusid": int(r["paper_id"]), "abstract": r["abstract"], "openaccessinfo": {"license": None}}
                 for r in reversed(records)]
    write_jsonl_gz(tmp_path / "s2ag" / "papers" / "papers-0.jsonl.gz", papers)
    write_jsonl_gz(tmp_path / "s2ag" / "abstracts" / "abstracts-0.jsonl.gz", abstracts)
    write_jsonl_gz(tmp_path / "s2ag" / "citations" / "citations-0.jsonl.gz",
                   [{"citingcorpusid": a, "citedcorpusid": b, "isinfluential": False} for a, b in citations])
    return str(tmp_path / "s2ag" / "*" / "*.jsonl.gz")


def run(tmp_path, pattern, version="v1", *extra):
    out = pipelines.semanticscholar.run(
        ["--input", pattern, "--output", str(tmp_path / "out"), "--version", version, *extra]
    )
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "pairs-*.parquet"))):
        rows += pq.read_table(path).to_pylist()
    manifest = json.loads(pathlib.Path(out, "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["records_read"] == counts["records_used"] + sum(counts["records_dropped"].values()) + sum(
        counts["records_rejected"].values())
    return out, rows, counts


def test_both_joins_the_cap_and_the_accounting(tmp_path, shared_data):
    records = real_papers(shared_data, 10)
    ids = [r["paper_id"] for r in records]
    hot = ids[0]
    citations = [(citing, hot) for citing in ids[1:7]]  # 6 citations of one paper, cap 2
    citations += [(ids[1], ids[2]), (ids[1], ids[2])]  # the same row twice
    citations += [(ids[3], ids[3])]  # a self-citation
    citations += [(ids[4], None), (ids[4], "999999999")]  # unresolved, and a paper not in the input
    citations += [("888888888", ids[5])]  # citing paper not in the input
    pattern = s2ag_files(tmp_path, records, citations)
    _, rows, counts = run(tmp_path, pattern, "v1", "--max_citations_per_paper", "2")

    title_abstract = {(p["query"], p["passage"]) for p in rows if p["subsource"] == "title-abstract"}
    legacy_dir = tmp_path / "legacy"
    legacy_dir.mkdir()
    (legacy_dir / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _, legacy_rows, _ = run(tmp_path, str(legacy_dir / "*.jsonl"), "legacy", "--citation_pairs", "none")
    assert title_abstract == {(p["query"], p["passage"]) for p in legacy_rows} and len(title_abstract) == 10

    cited = [p for p in rows if p["subsource"] == "citation"]
    by_passage = {}
    for pair in cited:
        by_passage.setdefault(pair["passage_id"].split("/")[0], []).append(pair["query_id"].split("/")[0])
    expected_hot = sorted(ids[1:7], key=lambda citing: sources.semanticscholar.cap_rank(citing, hot))[:2]
    assert sorted(by_passage[hot]) == sorted(expected_hot)  # the cap: the 2 smallest hashes, whatever the order
    assert by_passage[ids[2]] == [ids[1]] and len(cited) == 3
    titles = {r["paper_id"]: sources.semanticscholar.clean_title(r["title"]) for r in records}
    assert all(p["query"] == titles[p["query_id"].split("/")[0]] and p["passage"] == titles[p["passage_id"].split("/")[0]]
               for p in cited)  # title-title by default
    assert counts["records_read"] == 10 + 10 + len(citations)
    assert counts["records_dropped"] == {"over_cap": 4, "duplicate_record": 1, "self_citation": 1,
                                         "cited_missing": 2, "citing_missing": 1}
    assert counts["records_used"] == 20 + 3 and counts["pairs"] == 13


def test_citation_form_title_abstract_uses_the_cited_abstract(tmp_path, shared_data):
    records = real_papers(shared_data, 3)
    ids = [r["paper_id"] for r in records]
    pattern = s2ag_files(tmp_path, records, [(ids[0], ids[1])])
    _, rows, _ = run(tmp_path, pattern, "v1", "--citation_pairs", "title-abstract", "--no_title_abstract")
    (pair,) = rows
    assert pair["subsource"] == "citation" and pair["passage"] == sources.semanticscholar.clean_abstract(
        records[1]["abstract"]
    )


def test_real_samples_give_what_they_can_and_reruns_are_identical(tmp_path, shared_data):
    pattern = str(shared_data / "semanticscholar" / "*" / "*.jsonl*")
    out1, rows, counts = run(tmp_path, pattern, "a")
    assert counts["records_read"] == 60 + 60 + 60 + 2 + 600
    # S2AG's papers and abstracts samples are independent draws: the join gives nothing (no_title for
    # the abstracts, no_abstract for the papers) and no citation endpoint is known; the S2ORC 2020
    # metadata gives the pairs, and one S2AG s2orc full text carries both its title and abstract.
    assert {p["subsource"] for p in rows} == {"title-abstract"} and len(rows) == counts["pairs"] > 200
    assert counts["records_dropped"]["cited_missing"] == 60 and counts["records_dropped"]["no_title"] == 60
    legacy_ids = {json.loads(line)["paper_id"] for line in open(shared_data / LEGACY)}
    s2orc = [p for p in rows if p["query_id"].split("/")[0] not in legacy_ids]
    assert [p["query"] for p in s2orc] == ["Solidarity to achieve stability"]
    out2, _, again = run(tmp_path, pattern, "b")
    assert again == counts
    for name in sorted(os.listdir(out1)):
        if name.endswith(".parquet"):
            assert pathlib.Path(out1, name).read_bytes() == pathlib.Path(out2, name).read_bytes()


def test_truncated_gzip_bad_json_and_wrong_types_are_rejects(tmp_path, shared_data):
    records = real_papers(shared_data, 2)
    good = write_jsonl_gz(tmp_path / "in" / "good.jsonl.gz", [records[0]])
    blob = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in real_papers(shared_data, 40)))
    (tmp_path / "in" / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "in" / "bad.jsonl").write_text('{"corpusid": "x1", "title": "t"}\nnot json\n'
                                               + json.dumps(records[1]) + "\n")
    _, rows, counts = run(tmp_path, str(tmp_path / "in" / "*"), "v1")
    assert counts["records_rejected"] == {"truncated_input": 1, "bad_field_type": 1, "invalid_json": 1}
    assert len(rows) >= 2 and good.exists()


def test_a_pretty_printed_paper_is_one_record_not_a_reject_per_line(tmp_path, shared_data):
    """S2ORC's example_paper.json (one paper, indented JSON, title and abstract under "metadata") is
    one record and its pair; a pretty-printed array or a broken document is one not_json_lines reject."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared_data / "semanticscholar" / "s2orc-v2020-07-05" / "example_paper.json", folder)
    (folder / "array.json").write_text(json.dumps([{"paper_id": "1", "title": "A title of a paper"}], indent=2))
    (folder / "broken.json").write_text('{\n  "paper_id": "2",\n')
    _, rows, counts = run(tmp_path, str(folder / "*.json"), "v1")
    assert counts["records_read"] == 3 and counts["records_rejected"] == {"not_json_lines": 2}
    assert [r["query"] for r in rows] == ["Artificial diets for rearing the Colorado potato beetle, Leptinotarsa "
                                          "decemlineata"]
    assert rows[0]["passage"].startswith("Colorado potato beetles have been reared successfully")


@pytest.mark.parametrize("flag, message", [("--citation_pairs=body", "--citation_pairs must be one of"),
                                           ("--max_citations_per_paper=0", "must be at least 1")])
def test_bad_settings_are_one_line(flag, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        pipelines.semanticscholar.main(["--input", __file__, "--output", str(tmp_path), flag])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_abstract_cleanup_is_counted(tmp_path, shared_data):
    records = [json.loads(line) for line in open(shared_data / LEGACY, encoding="utf-8")
               if json.loads(line)["paper_id"] in ("18982114", "159358222", "213341928")]
    path = tmp_path / "legacy" / "metadata-0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    counters = run_counting(
        pipelines.semanticscholar, ["--input", str(path), "--output", str(tmp_path / "out"), "--version", "v1"]
    )
    cleanup = {name: n for (ns, name), n in counters.items() if ns == CLEANUP_NAMESPACE}
    assert cleanup == {"abstract_breaks_joined": 1, "abstract_latex_unescaped": 1, "abstract_cut_to_last_sentence": 1}


def test_a_paper_used_by_a_citation_and_a_lost_duplicate_each_get_one_outcome(tmp_path, shared_data):
    """A paper with no abstract is used by its citation pair; a paper copied under another id loses
    its (title, abstract) pair and its citation pair to the original, and so does the row behind it."""
    records = real_papers(shared_data, 4)
    ids = [r["paper_id"] for r in records]
    copy = dict(records[1], paper_id="999999999")
    no_abstract = dict(records[3], abstract=None)
    papers = [{"corpusid": int(r["paper_id"]), "title": r["title"], "year": r["year"]}
              for r in records[:3] + [no_abstract, copy]]
    abstracts = [{"corpusid": int(r["paper_id"]), "abstract": r["abstract"]} for r in records[:3] + [copy]]
    rows = [(ids[3], ids[0]), (copy["paper_id"], ids[2]), (ids[1], ids[2])]
    write_jsonl_gz(tmp_path / "s2ag" / "papers" / "p.jsonl.gz", papers)
    write_jsonl_gz(tmp_path / "s2ag" / "abstracts" / "a.jsonl.gz", abstracts)
    write_jsonl_gz(tmp_path / "s2ag" / "citations" / "c.jsonl.gz",
                   [{"citingcorpusid": a, "citedcorpusid": b} for a, b in rows])
    _, pairs, counts = run(tmp_path, str(tmp_path / "s2ag" / "*" / "*.jsonl.gz"))

    original = min(ids[1], copy["paper_id"], key=lambda pid: f"{pid}/title")  # the smaller query_id is kept
    assert sorted((p["subsource"], p["query_id"].split("/")[0]) for p in pairs) == sorted(
        [("title-abstract", ids[0]), ("title-abstract", original), ("title-abstract", ids[2]),
         ("citation", ids[3]), ("citation", original)])
    lost = copy["paper_id"] if original == ids[1] else ids[1]
    # used: 3 papers x (papers + abstracts), the paper with no abstract, 2 rows; the copy's 2 records
    # and its row are duplicate_pair
    assert counts["records_read"] == 5 + 4 + 3 and lost in (ids[1], copy["paper_id"])
    assert counts["records_used"] == 9 and counts["records_dropped"] == {"duplicate_pair": 3}


def test_a_row_and_a_legacy_copy_of_it_are_one_citation(tmp_path, shared_data):
    """A legacy record's outbound citation that is also an S2AG row: at a cap of 1 the row takes the
    slot (before the legacy copy), so its own fate decides: one pair and used, or cited_missing."""
    records = real_papers(shared_data, 2)
    ids = [r["paper_id"] for r in records]
    legacy = dict(records[0], outbound_citations=[ids[1], "424242"])
    folder = tmp_path / "mixed"
    write_jsonl_gz(folder / "legacy.jsonl.gz", [legacy])
    write_jsonl_gz(folder / "papers.jsonl.gz", [{"corpusid": int(ids[1]), "title": records[1]["title"]}])
    write_jsonl_gz(folder / "abstracts.jsonl.gz", [{"corpusid": int(ids[1]), "abstract": records[1]["abstract"]}])
    write_jsonl_gz(folder / "citations.jsonl.gz", [{"citingcorpusid": ids[0], "citedcorpusid": cited}
                                                   for cited in (ids[1], "424242")])
    _, pairs, counts = run(tmp_path, str(folder / "*.jsonl.gz"), "v1", "--max_citations_per_paper", "1")
    assert sorted(p["subsource"] for p in pairs) == ["citation", "title-abstract", "title-abstract"]
    assert counts["records_used"] == 4 and counts["records_dropped"] == {"cited_missing": 1}


def test_the_cap_holds_at_most_twice_its_edges_whatever_the_citations():
    """A cited paper with 20,000 citations: the combiner keeps 2 x cap edges at most and ends with
    the cap smallest (rank, citing id, row before legacy), counting every row."""
    cap = pipelines.semanticscholar._CitedAndEdges(3)
    edges = [(sources.semanticscholar.cap_rank(str(i), "7") - pipelines.semanticscholar.RANK_OFFSET, str(i),
              pipelines.semanticscholar.ROW, "citing_missing") for i in range(20_000)]
    halves = []
    for part in (edges[:10_000], edges[10_000:]):
        acc = cap.create_accumulator()
        for edge in part:
            acc = cap.add_input(acc, edge)
            assert len(acc[1]) < 6
        halves.append(acc)
    own, kept, rows = cap.extract_output(cap.merge_accumulators(halves))
    assert own is None and rows == 20_000 and kept == sorted(edges)[:3]


@pytest.mark.parametrize("year, score", [(2019, 4), (1066, None), (None, 0)])
def test_citation_candidates_are_the_pair_rows_of_citation_pairs(year, score):
    config = sources.semanticscholar.SemanticScholarConfig(citation_pairs="title-abstract")
    made = pipelines.semanticscholar._citation_row("12", "A query title", year, "34", "A passage.", score,
                                                   ("title", "abstract"), "en")
    assert made == pair_row(sources.semanticscholar.citation_pair("12", "A query title", year, "34", "A passage.",
                                                                  score, config, "en"))
    with pytest.raises(ValueError):
        pipelines.semanticscholar._citation_row("12", " ", year, "34", "A passage.", score, ("title", "title"), "en")
