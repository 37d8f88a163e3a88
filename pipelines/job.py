"""What every source job shares after extraction: outcomes + rejects -> the versioned sink, and run().

A source module supplies its options class and a `build_pipeline(pipeline, options)`; this module
turns them into `run(argv)` with the offline default runner, and writes a version the same way
for every source.
"""

import logging
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional

import apache_beam as beam

from pipelines import accounting as A
from pipelines.inputs import RECORDS_READ, REJECTS
from pipelines.options import make_runner, parse_options
from pipelines.sink import WriteVersion, version_dir


def write_source_version(read: Mapping[str, Any], extracted: Mapping[str, Any], *, directory: str, dataset: str,
                         version: str, inputs: List[Dict], num_shards: int, options: Mapping[str, Any],
                         extra: Optional[Mapping[str, Any]] = None):
    """read: {"records", rejects, records_read}; extracted: {"pairs", "outcomes"} -> a complete version."""
    reject_outcomes = read[REJECTS] | "RejectOutcomes" >> beam.Map(lambda r: A.rejected(r["reason"]))
    outcomes = (extracted["outcomes"], reject_outcomes) | "AllOutcomes" >> beam.Flatten()
    return {
        "pairs": extracted["pairs"],
        "rejects": read[REJECTS],
        "outcomes": outcomes,
        "records_read": read[RECORDS_READ],
    } | "Write" >> WriteVersion(directory=directory, dataset=dataset, version=version, inputs=inputs,
                                num_shards=num_shards, options=options, extra=extra)


def run_source_job(argv: Optional[List[str]], options_class, build_pipeline: Callable, source: str) -> str:
    """Parse argv, build and run the job (offline runner unless --runner); returns the version dir."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(argv, options_class)
    own = options.view_as(options_class)
    with beam.Pipeline(runner=make_runner(argv), options=options) as pipeline:
        build_pipeline(pipeline, options)
    out_dir = version_dir(own.output, source, own.dataset_version)
    logging.info("wrote %s", out_dir)
    return out_dir
