"""Values that cross from input into a typed column are checked where they are parsed.

A value a later stage cannot hold (a score beyond int64 in the Parquet write, an epoch beyond
year 9999 in a datetime, a lone surrogate in a UTF-8 encode) must be a reject with its reason at
the parser, never an exception in a later stage that kills the job. Integers are read from ASCII
digits only: Python's int() also accepts "١٢" (Arabic-Indic digits) as 12.
"""

import re
from typing import Any, Optional

from schemas import reasons
from sources.errors import RejectRecord

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EPOCH_MIN, EPOCH_MAX = 0, 253402300799  # 1970-01-01 .. 9999-12-31T23:59:59 UTC
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _out_of_range(name: str, value: Any) -> RejectRecord:
    return RejectRecord(reasons.REJECT_VALUE_OUT_OF_RANGE, f"{name}={str(value)[:40]!r} is out of range")


def int64(value: int, name: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise _out_of_range(name, value)
    return value


def integer_text(text: str, name: str) -> int:
    """A decimal integer written in ASCII digits (XML attributes, numeric strings), within int64."""
    if not _ASCII_INTEGER.fullmatch(text.strip()):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"{name}={text[:40]!r} is not an integer")
    return int64(int(text), name)


def number(value: Any, name: str) -> Optional[int]:
    """A JSON number, or a numeric string as 2005-era dumps carry, truncated to an int64; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"field {name!r} is bool")
    if isinstance(value, str):
        if not _ASCII_NUMBER.fullmatch(value.strip()):
            raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"field {name!r}={value[:40]!r} is not a number")
        value = float(value) if any(c in value for c in ".eE") else int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _out_of_range(name, value)
        value = int(value)
    if not isinstance(value, int):
        raise RejectRecord(reasons.REJECT_BAD_FIELD_TYPE, f"field {name!r} is {type(value).__name__}, not a number")
    return int64(value, name)


def epoch_seconds(value: Optional[int], name: str) -> Optional[int]:
    """Seconds since 1970 that a UTC datetime can hold (None passes)."""
    if value is not None and not EPOCH_MIN <= value <= EPOCH_MAX:
        raise _out_of_range(name, value)
    return value


def has_lone_surrogate(text: str) -> bool:
    """JSON may escape half of a surrogate pair ("\\ud83d"); such a string has no UTF-8 form."""
    return _SURROGATE.search(text) is not None


def utf8_text(text: str, name: str) -> str:
    if has_lone_surrogate(text):
        raise RejectRecord(reasons.REJECT_INVALID_UTF8, f"field {name!r} holds a lone surrogate")
    return text
