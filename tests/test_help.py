"""Every command's --help lists every flag with help text and its default, and no valid flag of a
Beam job makes Beam log "Unparseable argument" (issue 26, "Command lines").

COMMANDS is the table: every command, with what it takes to run it on a tiny valid input when it
is a Beam job (a source job or the corpus job); append rows for new commands.
"""

import argparse
import collections
import contextlib
import gzip
import io
import json
import logging
import os
import re

import pytest

from tests.test_commands import run_command


def _as_inputs(paths):
    return [arg for path in paths for arg in ("--input", str(path))]


def _reddit_inputs(folder):
    from sources.demo_inputs import reddit as reddit_demo

    return _as_inputs(reddit_demo.write_demo_dumps(folder, n_threads=3))


def _stackexchange_inputs(folder):
    from sources.demo_inputs import stackexchange as stackexchange_demo

    return _as_inputs(stackexchange_demo.write_demo_dumps(folder, n_questions=3))


def _wikipedia_inputs(folder):
    from sources.demo_inputs import wikipedia as wikipedia_demo

    return _as_inputs(wikipedia_demo.write_demo_dumps(folder)[:1])  # the dump; its index is found beside it


def _commoncrawl_inputs(folder):
    from sources.demo_inputs import commoncrawl as commoncrawl_demo

    return _as_inputs(commoncrawl_demo.write_demo_dumps(folder))


def _semanticscholar_inputs(folder):
    """One S2AG papers file and one citations file."""
    os.makedirs(folder, exist_ok=True)
    papers, citations = os.path.join(folder, "papers.jsonl.gz"), os.path.join(folder, "citations.jsonl.gz")
    with gzip.open(papers, "wt") as handle:
        for corpus_id, title in ((1, "A paper about coffee extraction"), (2, "Grind size and brewing time")):
            handle.write(json.dumps({"corpusid": corpus_id, "title": title}) + "\n")
    with gzip.open(citations, "wt") as handle:
        handle.write(json.dumps({"citingcorpusid": "2", "citedcorpusid": "1"}) + "\n")
    return _as_inputs([papers, citations])


def _corpus_inputs(folder):
    """Two complete source versions, and a BEIR folder for --decontaminate."""
    from model.pairs_io import pairs_from_texts, write_pair_version
    from sources.demo_inputs.beir import write_demo_beir
    from tests.model.conftest import make_texts

    inputs = [write_pair_version(os.path.join(folder, source, "v1"), pairs_from_texts(source, make_texts(4)))
              for source in ("reddit", "stackexchange")]
    return _as_inputs(inputs) + ["--decontaminate", write_demo_beir(os.path.join(folder, "beir"), n_queries=2,
                                                                     docs_per_topic=5)]


# module -> folder -> argv naming a tiny valid input (Beam jobs only: they run with every flag of theirs given)
COMMANDS = {
    "pipelines.reddit": _reddit_inputs,
    "pipelines.stackexchange": _stackexchange_inputs,
    "pipelines.wikipedia": _wikipedia_inputs,
    "pipelines.semanticscholar": _semanticscholar_inputs,
    "pipelines.commoncrawl": _commoncrawl_inputs,
    "pipelines.ccpairs": _corpus_inputs,
    "pipelines.main": None,
    "pipelines.schedule": None,
    "pipelines.report": None,
    "model.train": None,
    "model.evaluate": None,
    "model.embed": None,
    "filtering.filter_pairs": None,
}
BEAM_JOBS = sorted(module for module, inputs in COMMANDS.items() if inputs)

_ENTRY = re.compile(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$")


def help_entries(text):
    """{flag: help text} of every option in a --help text, wrapped lines joined."""
    entries, current, in_options = {}, None, False
    for line in text.splitlines():
        if line.rstrip().endswith(":") and not line.startswith(" "):
            in_options, current = line.strip() == "options:", None
            continue
        match = _ENTRY.match(line) if in_options else None
        if match:
            flags = [part.split()[0] for part in match.group(1).split(", ")]
            current = [match.group(2) or ""]
            for flag in flags:
                entries[flag] = current
        elif in_options and current is not None and line.startswith("   "):
            current.append(line.strip())
        else:
            current = None
    return {flag: " ".join(" ".join(parts).split()) for flag, parts in entries.items()}


def help_of(module_name, monkeypatch):
    """(--help text, the flags the command's parser knows) of one command, in-process."""
    parsers = []
    print_help = argparse.ArgumentParser.print_help

    def record(parser, *args, **kwargs):
        parsers.append(parser)
        return print_help(parser, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "print_help", record)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code, stderr = run_command(module_name, ["--help"])
    assert code == 0 and len(parsers) == 1, stderr
    flags = {flag for action in parsers[0]._actions for flag in action.option_strings}
    return stdout.getvalue(), flags - {"-h", "--help"}


def job_flags(module_name):
    """The flags a Beam job takes besides Beam's: those of every class of its options."""
    import importlib

    module = importlib.import_module(module_name)
    options_class = module.JOB.options_class if hasattr(module, "JOB") else module.CorpusOptions
    parser = argparse.ArgumentParser(add_help=False)
    for klass in options_class.__mro__:
        if "_add_argparse_args" in klass.__dict__ and klass.__module__.startswith("pipelines"):
            klass._add_argparse_args(parser)
    return parser


@pytest.mark.parametrize("module_name", sorted(COMMANDS))
def test_help_lists_every_flag_with_help_text_and_its_default(module_name, monkeypatch):
    text, known = help_of(module_name, monkeypatch)
    entries = help_entries(text)
    if COMMANDS[module_name]:
        known = {flag for action in job_flags(module_name)._actions for flag in action.option_strings}
    assert known and known <= set(entries), sorted(known - set(entries))
    for flag in sorted(known):
        described = entries[flag]
        assert described and not described.startswith("("), f"{flag} has no help text: {described!r}"
        assert "default" in described.lower() or "(required" in described, f"{flag} shows no default: {described!r}"


def every_flag_given(module_name):
    """argv giving each of the job's own flags: valued ones at their default, switches switched."""
    argv = []
    for action in job_flags(module_name)._actions:
        flag = action.option_strings[0]
        if flag in ("--input", "--output", "--version", "--decontaminate", "--overwrite"):
            continue  # given by the test with real values
        if action.nargs == 0:
            argv.append(flag)
        elif action.default not in (None, ""):
            argv.append(f"{flag}={action.default}")
    return argv


@pytest.mark.parametrize("module_name", BEAM_JOBS)
def test_no_valid_flag_is_unparseable(module_name, tmp_path, caplog, monkeypatch):
    import importlib

    from apache_beam.utils import logger as beam_logger

    monkeypatch.setattr(beam_logger, "_LOG_COUNTER", collections.Counter())  # Beam logs a message once per process
    argv = COMMANDS[module_name](str(tmp_path / "in"))
    argv += ["--output", str(tmp_path / "out"), "--version", "v1", "--overwrite", "--job_name=help-test"]
    argv += every_flag_given(module_name)
    caplog.set_level(logging.WARNING)

    version_dir = importlib.import_module(module_name).run(argv)

    assert os.path.isfile(os.path.join(version_dir, "manifest.json"))
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [m for m in warnings if "Unparseable argument" in m or "Discarding" in m], warnings


def test_help_entries_parse_wrapped_help():
    text = ("usage: x\n\noptions:\n  -h, --help     show help\n  --top_n TOP_N  replies kept\n"
            "                 per parent (default: 1)\n  --keep_bots\n                 keep bots (default: off)\n")
    assert help_entries(text) == {"-h": "show help", "--help": "show help",
                                  "--top_n": "replies kept per parent (default: 1)",
                                  "--keep_bots": "keep bots (default: off)"}
