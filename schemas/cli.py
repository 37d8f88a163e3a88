"""Command-line parsing shared by every ccpairs command: one flag style, strict, one-line errors.

Every command takes snake_case flags (`--batch_size`), because the Beam pipelines pass Beam and
Dataflow flags (`--temp_location`, `--max_num_workers`) through verbatim and those are snake_case.
A misspelt or dashed flag is an error that names the flag it probably meant (argparse would
otherwise accept `--batch` for `--batch_size`), and a wrong value is refused while parsing, before
a model loads or data is read: one line on stderr, exit status 2.

Stdlib only, so that every room (Beam workers included) can use it.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import math
import os
import pathlib
import unicodedata
from typing import Callable, Iterable, List, NoReturn, Optional, Sequence

__all__ = [
    "CommandParser", "FlagHelpFormatter", "shown_default", "unknown_flag_message", "positive_int", "non_negative_int", "positive_float",
    "non_negative_float", "ratio", "json_object_file", "output_path", "output_file", "existing_path",
    "matching_glob", "folder_holding", "model_folder", "version_name", "version_problem",
]


def _flag_name(flag: str) -> str:
    return flag.split("=", 1)[0]


def _snake(flag: str) -> str:
    return "--" + _flag_name(flag).lstrip("-").replace("-", "_").lower()


def unknown_flag_message(flag: str, known: Iterable[str]) -> str:
    """'unknown flag --top-n (did you mean --top_n?)': the closest known flag, if any is close.

    A dashed (or differently cased, or single-dash) spelling of a known snake_case flag always
    suggests that flag; otherwise difflib picks the closest spelling.
    """
    name = _flag_name(flag)
    known = sorted({k for k in known if k.startswith("-")})
    wanted = _snake(name)
    by_snake = {_snake(k): k for k in known if k.startswith("--")}
    suggestion = by_snake.get(wanted)
    if suggestion is None:
        close = difflib.get_close_matches(wanted, list(by_snake), n=1, cutoff=0.6)
        suggestion = by_snake[close[0]] if close else None
    message = f"unknown flag {name}"
    return f"{message} (did you mean {suggestion}?)" if suggestion and suggestion != name else message


def shown_default(value) -> str:
    """A default as --help shows it: switches read on/off, nothing reads none, padded text is quoted."""
    if value is None or value == [] or value == ():
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(shown_default(v) for v in value)
    if isinstance(value, str) and (not value or value != value.strip()):
        return repr(value)
    return str(value)


def _says_default(text: str) -> bool:
    return "default" in text.lower() or "(required" in text


def _is_switch(action: argparse.Action) -> bool:
    return action.nargs == 0


class FlagHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every flag's help ends with its default, so `--help` answers "what if I leave it out?".

    Help that already says (a switch's "(off by default: ...)", a flag whose default is computed
    such as "(default: UTC timestamp)", "(required)") is kept as written; a required flag says so;
    a switch that is not given is off.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or isinstance(action, argparse._HelpAction) or _says_default(text):
            return text
        if action.required:
            suffix = "(required)"
        elif _is_switch(action):
            suffix = "(default: off)"
        else:
            suffix = f"(default: {shown_default(action.default)})".replace("%", "%%")
        return f"{text} {suffix}" if text else suffix


class CommandParser(argparse.ArgumentParser):
    """argparse without abbreviations, with one-line errors and suggestions for unknown flags."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        kwargs.setdefault("formatter_class", FlagHelpFormatter)
        super().__init__(*args, **kwargs)

    def known_flags(self) -> List[str]:
        return [flag for action in self._actions for flag in action.option_strings]

    def parse_args(self, args: Optional[Sequence[str]] = None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(self.leftover_message(extras))
        return namespace

    def leftover_message(self, extras: Sequence[str]) -> str:
        """The first unknown flag (with a suggestion), else the first stray value."""
        for item in extras:
            if item.startswith("-") and not _is_number(item):
                return unknown_flag_message(item, self.known_flags())
        return f"unexpected argument {extras[0]!r}"

    def error(self, message: str) -> NoReturn:
        """`<prog>: error: <message>` on one line, exit status 2; no usage dump."""
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())}\n")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- value checkers for `type=`: each returns the parsed value or raises ArgumentTypeError ---

def _number(text: str, kind: Callable, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _within(text: str, kind: type, what: str, ok: Callable[[float], bool]):
    value = _number(text, kind, what)
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _within(text, int, "a positive integer", lambda v: v > 0)


def non_negative_int(text: str) -> int:
    return _within(text, int, "an integer >= 0", lambda v: v >= 0)


def positive_float(text: str) -> float:
    return _within(text, float, "a positive number", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    return _within(text, float, "a number >= 0", lambda v: v >= 0)


def ratio(text: str) -> float:
    """A share between 0 and 1, both included (e.g. the warmup share of all steps)."""
    return _within(text, float, "a number between 0 and 1", lambda v: 0.0 <= v <= 1.0)


RESERVED_VERSION_NAMES = ("LATEST",)  # schemas.versions.LATEST_NAME: the pointer file beside the versions
MAX_VERSION_BYTES = 200  # its claim and staging names (".<version>.staging-<run id>") must fit a 255-byte file name


def _is_control(char: str) -> bool:
    """Control, format (bidi overrides), surrogate and unassigned characters, and line/paragraph separators:
    they break the one-line messages, logs and LATEST's one-line file, or hide what a name says."""
    return unicodedata.category(char) in ("Zl", "Zp") or unicodedata.category(char).startswith("C")


def version_problem(text: str) -> Optional[str]:
    """Why `text` cannot name a version folder, or None. The rule for every writer of versions
    (the jobs' --version, the schedule's version_format, schemas.versions.claim_version)."""
    if not text or text in (".", "..") or any(c in text for c in "/\\") or os.path.isabs(text):
        return "a version is a plain folder name"
    if text.upper() in RESERVED_VERSION_NAMES:
        return f"{text} is reserved (the pointer to the last scheduled version)"
    if text.startswith("."):
        return "a version name may not start with '.' (hidden names are claims and staging folders)"
    if any(_is_control(c) for c in text):
        return "a version name may not hold control characters"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_VERSION_BYTES:
        return f"a version name is at most {MAX_VERSION_BYTES} bytes"
    return None


def version_name(text: str) -> str:
    """--version: one plain, visible folder name, so a version (and what --overwrite replaces) stays
    under --output and never takes the name of LATEST, a claim or a staging folder."""
    problem = version_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"bad version {text!r}: {problem}")
    return text


def json_object_file(text: str) -> str:
    """Path of a readable file holding one JSON object; returned as given (the caller reads it)."""
    path = pathlib.Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err}") from None
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"{text} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text} holds a JSON {type(value).__name__}, not an object")
    return text


def _is_remote(text: str) -> bool:
    return "://" in text


def _refuse_file_ancestors(path: pathlib.Path, text: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a folder")
            return


def output_path(text: str) -> str:
    """An output folder: absent (it will be created) or a folder; never an existing file."""
    if _is_remote(text):
        return text
    path = pathlib.Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file, not a folder")
    _refuse_file_ancestors(path, text)
    return text


def output_file(text: str) -> str:
    """An output file: not an existing folder, and its folder must exist."""
    path = pathlib.Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing folder, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {path.parent} does not exist")
    return text


def existing_path(text: str) -> str:
    if not _is_remote(text) and not pathlib.Path(text).exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return text


def matching_glob(text: str) -> str:
    """A local path or glob that matches at least one file (remote ones are checked by their reader)."""
    if not _is_remote(text) and not glob.glob(text):
        raise argparse.ArgumentTypeError(f"{text} matches no file")
    return text


def folder_holding(*names: str) -> Callable[[str], str]:
    """Checker for a folder that holds the given files (relative paths)."""

    def check(text: str) -> str:
        folder = pathlib.Path(text)
        if not folder.is_dir():
            raise argparse.ArgumentTypeError(f"no such folder: {text}")
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise argparse.ArgumentTypeError(f"{text} holds no {', '.join(missing)}")
        return text

    check.__name__ = "folder_holding_" + "_".join(names)
    return check


model_folder = folder_holding("config.json")
model_folder.__doc__ = "A transformers model folder (holds config.json), as saved by model.train."
