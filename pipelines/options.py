"""Command-line options shared by every source pipeline, and an offline-safe default runner.

Beam's own default (and DirectRunner) first tries to download the Prism runner from the web;
on a machine without network that stalls before falling back. When the user names no runner we
use the in-process FnApiRunner, which needs nothing from outside.
"""

import datetime as _dt
from typing import List, Optional, Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions


def default_version() -> str:
    """A UTC timestamp: each scheduled batch run gets a new, sortable version."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class CcpairsOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input",
            action="append",
            default=None,
            help="input path or glob (local, gs://, s3://); repeat for several",
        )
        parser.add_argument("--output", default=None, help="output root; writes <output>/<source>/<version>/")
        parser.add_argument("--version", dest="dataset_version", default=None,
                            help="version directory name (default: UTC timestamp)")
        parser.add_argument("--num_shards", type=int, default=0,
                            help="pair shards to write; 0 lets the runner choose")
        parser.add_argument("--overwrite", action="store_true", default=False,
                            help="replace a complete existing version")


def is_runner_given(argv: Sequence[str]) -> bool:
    return any(a == "--runner" or a.startswith("--runner=") for a in argv)


def make_runner(argv: Sequence[str]):
    """None means: use the runner the user named. Otherwise an offline in-process runner."""
    if is_runner_given(argv):
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


def parse_options(argv: Optional[List[str]] = None, options_class=CcpairsOptions):
    """Parse argv into PipelineOptions; checks the options every pipeline needs."""
    options = PipelineOptions(list(argv or []))
    own = options.view_as(options_class)
    if not own.input:
        raise SystemExit("error: at least one --input is required")
    if not own.output:
        raise SystemExit("error: --output is required")
    if own.num_shards < 0:
        raise SystemExit("error: --num_shards must be >= 0")
    if not own.dataset_version:
        own.dataset_version = default_version()
    if "/" in own.dataset_version or own.dataset_version in (".", ".."):
        raise SystemExit(f"error: bad --version {own.dataset_version!r}")
    if is_runner_given(argv or []) and options.view_as(StandardOptions).runner is None:
        raise SystemExit("error: --runner needs a value")
    return options
