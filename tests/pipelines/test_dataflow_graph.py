"""Each source job builds its Dataflow job graph (dry run: nothing is submitted, nothing staged)."""

import pytest

import apache_beam as beam

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")

from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner  # noqa: E402

from pipelines import commoncrawl, reddit, semanticscholar, stackexchange, wikipedia  # noqa: E402
from pipelines.options import parse_options  # noqa: E402
from sources.demo_inputs import commoncrawl as commoncrawl_demo  # noqa: E402
from sources.demo_inputs import reddit as reddit_demo  # noqa: E402
from sources.demo_inputs import stackexchange as se_demo  # noqa: E402
from sources.demo_inputs import wikipedia as wikipedia_demo  # noqa: E402

def _s2_inputs(folder):
    """One S2AG papers file and one citations file, as the job would read them from GCS."""
    import gzip
    import json
    import os

    os.makedirs(folder, exist_ok=True)
    papers, citations = os.path.join(folder, "papers.jsonl.gz"), os.path.join(folder, "citations.jsonl.gz")
    with gzip.open(papers, "wt") as handle:
        handle.write(json.dumps({"corpusid": 1, "title": "A paper about coffee extraction"}) + "\n")
    with gzip.open(citations, "wt") as handle:
        handle.write(json.dumps({"citingcorpusid": "2", "citedcorpusid": "1"}) + "\n")
    return [papers, citations]


CASES = {
    "commoncrawl": (commoncrawl, commoncrawl.CommonCrawlOptions, commoncrawl_demo.write_demo_dumps,
                    ["OneCapturePerUrl", "OnePagePerPassage", "DedupPairs", "WriteManifest"]),
    "reddit": (reddit, reddit.RedditOptions, lambda d: reddit_demo.write_demo_dumps(d, n_threads=5),
               ["OneCopyPerId", "Threads", "DedupPairs", "WriteManifest"]),
    "stackexchange": (stackexchange, stackexchange.StackExchangeOptions,
                      lambda d: se_demo.write_demo_dumps(d, n_questions=5),
                      ["Threads", "OnePerPairId", "WriteManifest"]),
    "semanticscholar": (semanticscholar, semanticscholar.SemanticScholarOptions, _s2_inputs,
                        ["PerPaper", "JudgePapers", "PerCited", "OnePairPerId", "BestFatePerPaper", "WriteManifest"]),
    "wikipedia": (wikipedia, wikipedia.WikipediaOptions, wikipedia_demo.write_demo_dumps,
                  ["OneCopyPerPage", "DedupPairs", "WriteManifest"]),
}


@pytest.mark.parametrize("source", sorted(CASES))
def test_dataflow_job_graph_builds(tmp_path, source):
    module, options_class, make_inputs, expected_steps = CASES[source]
    inputs = make_inputs(str(tmp_path / "in"))
    argv = [a for i in inputs for a in ("--input", i)] + [
        "--output", str(tmp_path / "out"), "--version", "df",
        "--runner=DataflowRunner", "--project=ccpairs-test", "--region=us-central1",
        "--temp_location=gs://ccpairs-test/tmp", "--setup_file=./setup.py", f"--job_name=ccpairs-{source}-test",
        "--no_auth", "--dry_run=True", "--sdk_location=container"]
    options = parse_options(argv, options_class)
    pipeline = beam.Pipeline(runner=DataflowRunner(), options=options)
    module.build_pipeline(pipeline, options)
    result = pipeline.run()
    steps = [t.unique_name for t in result.job.proto_pipeline.components.transforms.values()]
    for expected in expected_steps:
        assert any(expected in s for s in steps), expected
    assert result.job.options.get_all_options()["region"] == "us-central1"
