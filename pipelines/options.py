"""Command-line options of every source job: the shared ones, a source's settings, strict parsing.

A source's flags are generated from its settings dataclass (sources/settings.py), so the flag,
its default, its help, the config it builds and the manifest's "options" are one declaration.

Parsing is strict: Beam's own parser silently drops flags it does not know (`--top-n 3` for
`--top_n 3` ran with top_n=1), so every flag is first checked against ours plus every Beam
option; an unknown flag, a bad value or a bad setting is one line on stderr and exit status 2.

Beam parses the command line again when the pipeline runs, with the flags of the classes directly
below PipelineOptions only; a source's settings live one level further down, so Beam logged
"Unparseable argument: --top_n. Did you mean '--zone'?" for a flag it had just applied.
_BeamKnowsJobFlags, one class directly below PipelineOptions, tells Beam every job's flags.

`--dry_run` builds a job without submitting it on DataflowRunner only; any other runner ignores
it and writes the whole version, so elsewhere it is refused.

Beam's default runner (and DirectRunner) first tries to download the Prism runner from the web;
on a machine without network that stalls before falling back. When the user names no runner we
use the in-process FnApiRunner, which needs nothing from outside.
"""

import argparse
import datetime as _dt
import sys
import textwrap
from typing import List, NoReturn, Optional, Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, _BeamArgumentParser

from schemas.cli import CommandParser, unknown_flag_message, version_name
from sources.settings import settable_fields


def default_version() -> str:
    """A UTC timestamp: each scheduled batch run gets a new, sortable version."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class CcpairsOptions(PipelineOptions):
    """The options every source shares."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--input", action="append", default=None,
                            help="input path or glob (local, gs://, s3://); repeat for several (required)")
        parser.add_argument("--output", default=None,
                            help="output root; writes <output>/<source>/<version>/ (required)")
        parser.add_argument("--version", dest="dataset_version", default=None,
                            help="version directory name (default: UTC timestamp)")
        parser.add_argument("--num_shards", type=int, default=0,
                            help="pair shards to write; 0 picks one per 200k pairs (default: 0)")
        parser.add_argument("--overwrite", action="store_true", default=False,
                            help="replace a complete existing version (otherwise refused)")


def _add_setting_flags(parser, config_class) -> None:
    """One flag per setting; --help (schemas.cli.FlagHelpFormatter) adds each default to its help."""
    for field, flag in settable_fields(config_class):
        help_text = field.metadata["help"]
        if isinstance(field.default, bool):  # the flag switches the default over
            parser.add_argument(f"--{flag}", dest=field.name, action="store_false" if field.default else "store_true",
                                default=field.default, help=help_text)
        else:
            parser.add_argument(f"--{flag}", dest=field.name, type=type(field.default), default=field.default,
                                help=help_text)


def source_options(name: str, config_class) -> type:
    """The PipelineOptions class of one source: the shared options plus one flag per setting."""
    return type(f"{name.title()}Options", (CcpairsOptions,), {
        "source": name,
        "config_class": config_class,
        "_add_argparse_args": classmethod(lambda cls, parser: _add_setting_flags(parser, config_class)),
    })


class _OncePerFlag:
    """A parser front that adds each flag once, untyped and without a default: several jobs declare
    the same flag (--top_n) with their own types and defaults; check_flags has checked every value."""

    def __init__(self, parser):
        self._parser = parser

    def add_argument(self, *flags, **kwargs):
        if any(flag in self._parser._option_string_actions for flag in flags):
            return
        for key in ("type", "choices", "default"):
            kwargs.pop(key, None)
        self._parser.add_argument(*flags, **kwargs)


def _job_flag_classes() -> List[type]:
    """Every class below CcpairsOptions that declares flags (the sources', the corpus job's)."""
    found, stack = [], list(CcpairsOptions.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if "_add_argparse_args" in cls.__dict__ and cls not in found:
            found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


class _BeamKnowsJobFlags(PipelineOptions):
    """Beam's run-time parse (Pipeline.run, DirectRunner) walks only the classes directly below
    PipelineOptions and warned "Unparseable argument" for every setting flag; this class hands it
    them. Its values are only strings: the typed ones are those parse_options stored (view_as)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        for klass in _job_flag_classes():
            klass._add_argparse_args(_OncePerFlag(parser))


def config_from_options(options: PipelineOptions, options_class):
    """The source's settings dataclass, filled from parsed options (its __post_init__ validates)."""
    own = options.view_as(options_class)
    config_class = options_class.config_class
    return config_class(**{f.name: getattr(own, f.name) for f, _ in settable_fields(config_class)})


class UsageError(ValueError):
    """A command line that cannot run: the message is one line for the user."""


class _StrictParser(_BeamArgumentParser):
    def error(self, message) -> NoReturn:
        raise UsageError(" ".join(str(message).split()))


def _all_beam_option_classes() -> List[type]:
    """Every registered PipelineOptions class (Beam's, and ours), as Beam's own parser walks them."""
    seen, stack = {}, list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        seen.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
        stack.extend(cls.__subclasses__())
    return list(seen.values())


def _declaring_classes(options_class) -> List[type]:
    """Every class in options_class's MRO that declares flags: a subclass (the corpus job's
    --decontaminate) adds flags to its bases' (its settings, the shared ones), it does not replace them."""
    return [c for c in options_class.__mro__ if "_add_argparse_args" in c.__dict__]


def check_flags(argv: Sequence[str], options_class) -> None:
    """UsageError for an unknown flag or a value argparse refuses; Beam's flags pass."""
    parser = _StrictParser(allow_abbrev=False, add_help=False)
    added = set()
    for cls in [options_class] + _all_beam_option_classes():
        if cls.__module__.startswith("apache_beam") or cls in (options_class, CcpairsOptions):
            for klass in _declaring_classes(cls):
                if klass not in added:
                    added.add(klass)
                    klass._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(list(argv))
    for item in unknown:
        if item.startswith("-"):
            raise UsageError(unknown_flag_message(item, [f for a in parser._actions for f in a.option_strings]))
    if unknown:
        raise UsageError(f"unexpected argument {unknown[0]!r}")


def is_runner_given(argv: Sequence[str]) -> bool:
    return any(a == "--runner" or a.startswith("--runner=") for a in argv)


def is_dry_run_given(argv: Sequence[str]) -> bool:
    return any(a == "--dry_run" or a.startswith("--dry_run=") for a in argv)


def check_dry_run(argv: Sequence[str], options: PipelineOptions) -> None:
    """--dry_run on a runner other than Dataflow's is refused: only DataflowRunner reads it (to build
    the job without submitting it); the local runner would run the job and write a full version."""
    runner = options.view_as(StandardOptions).runner
    if is_dry_run_given(argv) and "dataflow" not in str(runner or "").lower():
        raise UsageError("--dry_run works with --runner=DataflowRunner only (it builds the job without "
                         "submitting it); a local run would write the whole version")


def make_runner(argv: Sequence[str]):
    """None means: use the runner the user named. Otherwise an offline in-process runner."""
    if is_runner_given(argv):
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


def print_help(options_class) -> NoReturn:
    """Our flags only, each with its default: Beam's several hundred would bury them."""
    parser = CommandParser(
        prog=f"python -m pipelines.{getattr(options_class, 'source', 'SOURCE')}", add_help=False,
        epilog=textwrap.fill("Any Apache Beam pipeline option is accepted as well (--runner, --project, --region, "
                             "--temp_location, --direct_num_workers, ...); all flags are snake_case."))
    for klass in reversed(_declaring_classes(options_class)):  # the shared flags first
        klass._add_argparse_args(parser)
    parser.print_help()
    raise SystemExit(0)


def parse_options(argv: Optional[List[str]], options_class):
    """argv -> PipelineOptions, every flag and value checked; UsageError says what is wrong."""
    argv = list(argv or [])
    if "-h" in argv or "--help" in argv:
        print_help(options_class)
    check_flags(argv, options_class)
    options = PipelineOptions(argv)
    own = options.view_as(options_class)
    if not own.input:
        raise UsageError("at least one --input is required")
    if not own.output:
        raise UsageError("--output is required")
    if own.num_shards < 0:
        raise UsageError(f"--num_shards must be >= 0, not {own.num_shards}")
    if not own.dataset_version:
        own.dataset_version = default_version()
    try:
        version_name(own.dataset_version)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--version: {exc}") from None
    if is_runner_given(argv) and options.view_as(StandardOptions).runner is None:
        raise UsageError("--runner needs a value")
    check_dry_run(argv, options)
    if getattr(options_class, "config_class", None) is not None:
        try:
            config_from_options(options, options_class)
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    return options


def exit_with_usage_error(prog: str, error: Exception) -> NoReturn:
    """One line on stderr, exit status 2 (argparse's convention)."""
    sys.stderr.write(f"{prog}: error: {error}\n")
    raise SystemExit(2)

