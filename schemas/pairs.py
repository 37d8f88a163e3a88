"""The pair record: one weakly-supervised (query, passage) example. Every writer goes through here.

PAIR_SCHEMA defines the columns and COLUMN_DESCRIPTIONS says what each holds (the dataset cards,
schemas/dataset_card.py, describe the fields from these two, so they are written once, here).
"""

import hashlib
import datetime as _dt
from typing import Any, Mapping, Optional

import pyarrow as pa

SCHEMA_VERSION = "2.0.0"  # 2.0.0: pair_id length-prefixes its fields (ids of 1.x differ)

PAIR_SCHEMA = pa.schema(
    [
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("subsource", pa.string(), nullable=False),
        pa.field("query", pa.string(), nullable=False),
        pa.field("passage", pa.string(), nullable=False),
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("passage_id", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("score", pa.int64(), nullable=True),
        pa.field("created_at", pa.timestamp("s", tz="UTC"), nullable=True),
    ],
    metadata={"schema_version": SCHEMA_VERSION, "record": "pair"},
)

PAIR_COLUMNS = tuple(PAIR_SCHEMA.names)

COLUMN_DESCRIPTIONS = {
    "pair_id": "hex blake2b-128 of source, query and passage: the same pair always gets the same id, whatever "
               "the run order, and the same text from two records collapses to one id",
    "source": 'dataset the pair came from: "reddit", "stackexchange", "wikipedia", "semanticscholar", '
              '"commoncrawl"',
    "subsource": 'finer origin inside the source: the subreddit, the Stack Exchange site, the wiki ("enwiki"), '
                 'the Semantic Scholar pair kind ("title-abstract", "citation"), the Common Crawl crawl',
    "query": 'the query text, cleaned (no "query: " prefix; the model adds prefixes)',
    "passage": "the passage text, cleaned",
    "query_id": 'source-native id of the record the query came from (e.g. "t3_abc" or "t1_def")',
    "passage_id": "source-native id of the record the passage came from",
    "lang": 'ISO 639-1 language code of the passage as detected, "" when not detected',
    "score": "the passage's source score (Reddit score, answer score); null when unknown",
    "created_at": "creation time of the passage, UTC; null when unknown",
}


def make_pair_id(source: str, query: str, passage: str) -> str:
    """Stable content hash of the three fields, each length-prefixed: no text, whatever characters
    it holds (a separator byte survives cleanup), can make two different pairs hash alike."""
    h = hashlib.blake2b(digest_size=16)
    for field in (source, query, passage):
        data = field.encode("utf-8")
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def make_pair(
    *,
    source: str,
    subsource: str,
    query: str,
    passage: str,
    query_id: str,
    passage_id: str,
    lang: str = "",
    score: Optional[int] = None,
    created_at: Optional[_dt.datetime] = None,
) -> dict:
    """Build a pair dict with its pair_id; refuses empty text so no writer can emit one."""
    if not query or not query.strip():
        raise ValueError("pair query is empty")
    if not passage or not passage.strip():
        raise ValueError("pair passage is empty")
    if created_at is not None and created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware (UTC)")
    return {
        "pair_id": make_pair_id(source, query, passage),
        "source": source,
        "subsource": subsource,
        "query": query,
        "passage": passage,
        "query_id": query_id,
        "passage_id": passage_id,
        "lang": lang,
        "score": None if score is None else int(score),
        "created_at": created_at,
    }


def normalize_for_dedup(text: str) -> str:
    """What "the same text" means everywhere (batch dedup, the filter's pool, corpus dedup):
    casefolded, every run of Unicode whitespace one space, ends stripped."""
    return " ".join(text.casefold().split())


def utc_from_epoch(value: Any) -> Optional[_dt.datetime]:
    """Epoch seconds (int, float or numeric string, as dumps of different eras carry) to UTC."""
    if value is None or value == "":
        return None
    return _dt.datetime.fromtimestamp(int(float(value)), tz=_dt.timezone.utc)


def validate_pair(row: Mapping[str, Any]) -> None:
    """Raise ValueError if a row does not fit the pair schema (used by tests and sinks)."""
    missing = [c for c in PAIR_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"pair is missing columns {missing}")
    if row["pair_id"] != make_pair_id(row["source"], row["query"], row["passage"]):
        raise ValueError("pair_id does not match source/query/passage")
