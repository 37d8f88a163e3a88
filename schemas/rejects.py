"""The reject record: a malformed input record kept with its reason and a raw snippet.

Columns:
  source      dataset being read ("reddit", ...).
  reason      a REJECT_* reason from schemas.reasons.
  input_file  path of the file the record came from.
  position    line number (1-based) or record index in that file; null when unknown.
  detail      a short human-readable error message (the parser's exception text).
  snippet     the first SNIPPET_CHARS characters of the raw record (bytes decoded with replacement).
"""

from typing import Optional, Union

import pyarrow as pa

from schemas.reasons import REJECT_REASONS

SNIPPET_CHARS = 500

REJECT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=True),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("snippet", pa.string(), nullable=False),
    ],
    metadata={"record": "reject"},
)


def make_reject(
    *,
    source: str,
    reason: str,
    input_file: str,
    raw: Union[bytes, str, None],
    position: Optional[int] = None,
    detail: str = "",
) -> dict:
    if reason not in REJECT_REASONS:
        raise ValueError(f"unknown reject reason {reason!r}")
    if isinstance(raw, bytes):
        raw = raw[: SNIPPET_CHARS * 4].decode("utf-8", errors="replace")
    return {
        "source": source,
        "reason": reason,
        "input_file": input_file,
        "position": position,
        "detail": detail[:1000],
        "snippet": (raw or "")[:SNIPPET_CHARS],
    }
