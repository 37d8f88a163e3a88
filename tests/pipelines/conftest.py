import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline


@pytest.fixture
def pipeline():
    """A TestPipeline on the offline in-process runner (DirectRunner would try to fetch Prism)."""
    return TestPipeline(runner=FnApiRunner(), blocking=True)
