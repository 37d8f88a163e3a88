"""Input files: glob expansion at launch, and the counted reject every reading step emits."""

from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.accounting import count, rejected
from schemas.rejects import make_reject

RECORDS_READ = "records_read"
REJECTS = "rejects"


class NoInputFiles(ValueError):
    pass


def expand_inputs(patterns: Sequence[str]) -> List[Dict[str, object]]:
    """Every file the --input globs match, sorted, with sizes; a glob matching nothing is an error."""
    files: Dict[str, int] = {}
    for pattern, result in zip(patterns, FileSystems.match(list(patterns))):
        if not result.metadata_list:
            raise NoInputFiles(f"--input {pattern!r} matches no file")
        for meta in result.metadata_list:
            files[meta.path] = meta.size_in_bytes
    return [{"path": path, "bytes": size} for path, size in sorted(files.items())]


def reject_output(source, path, position, reason, raw, detail):
    """A counted reject record on the REJECTS output of a reading DoFn."""
    count(rejected(reason))
    return beam.pvalue.TaggedOutput(REJECTS, make_reject(
        source=source, reason=reason, input_file=path, raw=raw, position=position, detail=detail))
