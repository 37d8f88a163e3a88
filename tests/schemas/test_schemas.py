import datetime as dt

import pyarrow as pa
import pytest

from schemas import reasons
from schemas.manifest import ManifestError, build_manifest
from schemas.pairs import PAIR_SCHEMA, make_pair, make_pair_id, validate_pair
from schemas.rejects import REJECT_SCHEMA, make_reject


def test_pair_id_is_content_hash_with_separator():
    assert make_pair_id("reddit", "q", "p") == make_pair_id("reddit", "q", "p")
    assert make_pair_id("reddit", "ab", "c") != make_pair_id("reddit", "a", "bc")
    assert make_pair_id("reddit", "q", "p") != make_pair_id("stackexchange", "q", "p")
    # a separator inside a text cannot shift a field boundary (SCHEMA_VERSION 1.x joined with \x1f)
    assert make_pair_id("reddit", "a\x1fb", "c") != make_pair_id("reddit", "a", "b\x1fc")


def test_pair_fits_schema_and_refuses_empty_text():
    pair = make_pair(source="reddit", subsource="r", query="q", passage="p", query_id="t3_a", passage_id="t1_b",
                     created_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    validate_pair(pair)
    assert pa.Table.from_pylist([pair], schema=PAIR_SCHEMA).num_rows == 1
    with pytest.raises(ValueError):
        make_pair(source="reddit", subsource="r", query=" ", passage="p", query_id="a", passage_id="b")
    with pytest.raises(ValueError):
        make_pair(source="reddit", subsource="r", query="q", passage="p", query_id="a", passage_id="b",
                  created_at=dt.datetime(2020, 1, 1))


def test_reject_snippet_and_reason_checked():
    r = make_reject(source="reddit", reason=reasons.REJECT_INVALID_JSON, input_file="f", raw=b"\xff" + b"x" * 5000)
    assert len(r["snippet"]) == 500 and pa.Table.from_pylist([r], schema=REJECT_SCHEMA).num_rows == 1
    with pytest.raises(ValueError):
        make_reject(source="reddit", reason="nope", input_file="f", raw=b"")


def manifest(**counts):
    base = dict(records_read=10, records_used=5, records_dropped={reasons.DROP_TOO_SHORT: 3},
                records_rejected={reasons.REJECT_INVALID_JSON: 2}, pairs=4)
    base.update(counts)
    return build_manifest(dataset="reddit", version="v", code_version="c", inputs=[], shards=[{"path": "p", "rows": 4}],
                          reject_shards=[], **base)


def test_manifest_invariant():
    assert manifest()["counts"]["records_read"] == 10
    with pytest.raises(ManifestError):
        manifest(records_read=11)
    with pytest.raises(ManifestError):
        manifest(pairs=5)
    with pytest.raises(ManifestError):
        manifest(records_dropped={"made_up": 3})


def test_counter_names_come_from_the_vocabulary():
    assert reasons.counter_name("dropped", reasons.DROP_TOO_SHORT) == "dropped/too_short"
    with pytest.raises(ValueError):
        reasons.counter_name("dropped", "made_up")
