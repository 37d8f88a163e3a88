"""The Reddit job builds its Dataflow job graph (dry run: nothing is submitted, nothing staged)."""

import pytest

import apache_beam as beam

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")


def test_dataflow_job_graph_builds(tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    from pipelines import reddit as P
    from sources.demo_inputs.reddit import write_demo_dumps

    inputs = write_demo_dumps(str(tmp_path / "in"), n_threads=5)
    argv = ["--input", inputs[0], "--input", inputs[1], "--output", str(tmp_path / "out"), "--version", "df",
            "--runner=DataflowRunner", "--project=ccpairs-test", "--region=us-central1",
            "--temp_location=gs://ccpairs-test/tmp", "--setup_file=./setup.py", "--job_name=ccpairs-reddit-test",
            "--no_auth", "--dry_run=True", "--sdk_location=container"]
    options = P.parse_options(argv, P.RedditOptions)
    pipeline = beam.Pipeline(runner=DataflowRunner(), options=options)
    P.build_pipeline(pipeline, options)
    result = pipeline.run()
    steps = [t.unique_name for t in result.job.proto_pipeline.components.transforms.values()]
    assert any("TopRepliesPerParent" in s for s in steps)
    assert any("WriteManifest" in s for s in steps)
    assert result.job.options.view_as(PipelineOptions).get_all_options()["region"] == "us-central1"
