import random

import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline


@pytest.fixture
def pipeline():
    """A TestPipeline on the offline in-process runner (DirectRunner would try to fetch Prism)."""
    return TestPipeline(runner=FnApiRunner(), blocking=True)


COMMENT_WORDS = ("I have been brewing coffee with a French press for years and the grind size matters most more "
                 "than the beans or water temperature").split()


def comment_body(cid: str) -> str:
    """A 25-word English Reddit comment of its own: the same words in an order set by the id, so no
    comment copies 8 words in a row from another (a reply's copy of its query would be cut) and
    each is long enough to be a passage (--min_reply_words 20)."""
    return f"{cid}: " + " ".join(random.Random(cid).sample(COMMENT_WORDS, len(COMMENT_WORDS)))


def run_counting(job_module, argv):
    """Run a source job (pipelines.<source>) with argv on the offline runner: its Beam counters by
    (namespace, name). What the manifest does not hold (cleanup counters) is read here."""
    import apache_beam as beam

    from pipelines.options import parse_options

    options = parse_options(argv, job_module.JOB.options_class)
    pipeline = beam.Pipeline(runner=FnApiRunner(), options=options)
    job_module.build_pipeline(pipeline, options)
    result = pipeline.run()
    result.wait_until_finish()
    return {(c.key.metric.namespace, c.key.metric.name): c.committed for c in result.metrics().query()["counters"]}
