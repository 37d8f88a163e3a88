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


def reject_output(source, path, position, reason, raw, detail):
    """A counted reject record on the REJECTS output of a reading DoFn."""
    count(rejected(reason))
    return beam.pvalue.TaggedOutput(REJECTS, make_reject(
        source=source, reason=reason, input_file=path, raw=raw, position=position, detail=detail))


class ReadRawLines(beam.DoFn):
    """File path -> (path, line number, raw bytes) per line, rejects, and one records_read count.

    A truncated stream ends with one reject for its unreadable tail, which counts as a record read;
    a file that cannot be opened is one rejected record.
    """

    def __init__(self, source: str):
        self._source = source

    def process(self, path: str):
        seen = 0
        try:
            handle = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        except Exception as exc:  # noqa: BLE001 - any failure to open is this file's reject
            yield reject_output(self._source, path, None, R.REJECT_UNREADABLE_FILE, b"", f"{type(exc).__name__}: {exc}")
            yield beam.pvalue.TaggedOutput(RECORDS_READ, 1)
            return
        with handle:
            for item in iter_lines(handle, path):
                seen += 1
                if isinstance(item, RawLine):
                    yield (path, item.position, item.data)
                else:
                    yield reject_output(self._source, path, item.position, R.REJECT_TRUNCATED_INPUT, item.data, item.detail)
        count(RECORDS_READ, seen)
        yield beam.pvalue.TaggedOutput(RECORDS_READ, seen)


class ParseLines(beam.DoFn):
    """(path, line number, raw bytes) -> typed record, or a reject with the parser's reason."""

    def __init__(self, source: str, parse: Callable[[bytes], object]):
        self._source, self._parse = source, parse

    def process(self, line):
        path, position, raw = line
        try:
            yield self._parse(raw)
        except RejectRecord as exc:
            yield reject_output(self._source, path, position, exc.reason, raw, exc.detail)
        except Exception as exc:  # noqa: BLE001 - one odd record must not kill the job
            yield reject_output(self._source, path, position, R.REJECT_PARSE_ERROR, raw, f"{type(exc).__name__}: {exc}")


class ReadRecords(beam.PTransform):
    """[paths] -> {"records", "rejects", "records_read"}.

    Raw lines are reshuffled before parsing: one worker must decompress a whole file, but the
    parsing, cleanup and language ID after it spread over all workers. Bytes shuffle cheaply.
    """

    def __init__(self, source: str, paths: Sequence[str], parse: Callable[[bytes], object]):
        super().__init__()
        self._source, self._paths, self._parse = source, list(paths), parse

    def expand(self, pbegin):
        lines = (
            pbegin
            | "Files" >> beam.Create(self._paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadLines" >> beam.ParDo(ReadRawLines(self._source)).with_outputs(REJECTS, RECORDS_READ, main="lines")
        )
        parsed = (
            lines.lines
            | "SpreadLines" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(ParseLines(self._source, self._parse)).with_outputs(REJECTS, main="records")
        )
        rejects = (lines[REJECTS], parsed[REJECTS]) | "AllRejects" >> beam.Flatten()
        return {"records": parsed.records, "rejects": rejects, "records_read": lines[RECORDS_READ]}
