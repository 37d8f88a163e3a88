"""Input files: glob expansion at launch, and a DoFn that turns each file into typed records.

A compressed dump (zstd, gzip, bz2) cannot be split, so one worker reads one file and a
Reshuffle afterwards spreads its records over the others.
"""

from typing import Callable, Dict, List, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.accounting import count, rejected
from schemas import reasons as R
from schemas.rejects import make_reject
from sources.errors import RejectRecord
from sources.readers import RawLine, iter_lines

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


class ReadLineRecords(beam.DoFn):
    """File path -> parsed records (main output), rejects, and one records_read count per file.

    `parse(raw_line_bytes)` returns a record or raises RejectRecord. A truncated stream ends with
    one reject for its unreadable tail, which counts as a record read.
    """

    def __init__(self, source: str, parse: Callable[[bytes], object]):
        self._source, self._parse = source, parse

    def _reject(self, path, position, reason, raw, detail):
        count(rejected(reason))
        return beam.pvalue.TaggedOutput(REJECTS, make_reject(
            source=self._source, reason=reason, input_file=path, raw=raw, position=position, detail=detail))

    def process(self, path: str):
        seen = 0
        try:
            handle = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        except Exception as exc:  # noqa: BLE001 - any failure to open is this file's reject
            yield self._reject(path, None, R.REJECT_UNREADABLE_FILE, b"", f"{type(exc).__name__}: {exc}")
            yield beam.pvalue.TaggedOutput(RECORDS_READ, 1)
            return
        with handle:
            for item in iter_lines(handle, path):
                seen += 1
                if not isinstance(item, RawLine):
                    yield self._reject(path, item.position, R.REJECT_TRUNCATED_INPUT, item.data, item.detail)
                    continue
                try:
                    yield self._parse(item.data)
                except RejectRecord as exc:
                    yield self._reject(path, item.position, exc.reason, item.data, exc.detail)
                except Exception as exc:  # noqa: BLE001 - one odd record must not kill the job
                    yield self._reject(path, item.position, R.REJECT_PARSE_ERROR, item.data,
                                       f"{type(exc).__name__}: {exc}")
        count(RECORDS_READ, seen)
        yield beam.pvalue.TaggedOutput(RECORDS_READ, seen)


class ReadRecords(beam.PTransform):
    """[paths] -> {"records", "rejects", "records_read"}; records are reshuffled across workers."""

    def __init__(self, source: str, paths: Sequence[str], parse: Callable[[bytes], object]):
        super().__init__()
        self._source, self._paths, self._parse = source, list(paths), parse

    def expand(self, pbegin):
        results = (
            pbegin
            | "Files" >> beam.Create(self._paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadAndParse" >> beam.ParDo(ReadLineRecords(self._source, self._parse)).with_outputs(
                REJECTS, RECORDS_READ, main="records")
        )
        return {
            "records": results.records | "SpreadRecords" >> beam.Reshuffle(),
            "rejects": results[REJECTS],
            "records_read": results[RECORDS_READ],
        }
