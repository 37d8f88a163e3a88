"""A source's settings are one frozen dataclass; each field that users may set is declared with `setting`.

The field carries its command-line help (and, for booleans whose flag reads better negated, the
flag's name), so the flags of `python -m pipelines.<source>`, the config the parser builds and
the manifest's "options" all come from one declaration (pipelines/options.py reads them).

    english_only: bool = setting(True, "keep only English text", flag="any_language")
"""

import dataclasses
from typing import Any, Dict, Iterator, Optional, Tuple


def setting(default: Any, help: str, *, flag: Optional[str] = None) -> Any:
    """A user-settable field. `flag`: the flag's name when it differs; a bool field whose flag is
    named differently is switched by that flag to the opposite of its default (``--any_language``
    sets english_only=False)."""
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag})


def settable_fields(config_class) -> Iterator[Tuple[dataclasses.Field, str]]:
    """(field, flag name without dashes) for every field declared with `setting`, in order."""
    for f in dataclasses.fields(config_class):
        if "help" in f.metadata:
            yield f, f.metadata["flag"] or f.name


def as_dict(config) -> Dict[str, Any]:
    """The settings as JSON-friendly values, for the manifest (sets become sorted lists)."""
    return {k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in dataclasses.asdict(config).items()}
