"""Every code snippet of README.md runs or is checked (issue 28.4: "Loading a version" called pandas,
which no extra installs).

- Python snippets run, in a folder where the version path they name holds a real pair version; a
  snippet whose imports the project does not install is listed in NOT_INSTALLED and compiled only.
- Every `python -m MODULE --flag ...` line (in sh, cron or Python snippets) names a module that
  exists, and every flag it uses is in that command's --help or is a Beam pipeline option.
"""

import contextlib
import importlib.util
import io
import pathlib
import re
from functools import lru_cache

import pytest

from tests.test_commands import run_command

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_INSTALLED = {"airflow": "an orchestrator the project does not depend on; its command line is checked below",
                 "pendulum": "comes with airflow"}
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_COMMAND = re.compile(r"python\S* -m ([\w.]+)([^\n\"']*)")
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_]*)")


def snippets():
    """(language, line number, code) of every fenced block."""
    text = README.read_text()
    return [(m.group(1), text.count("\n", 0, m.start()) + 1, m.group(2)) for m in _BLOCK.finditer(text)]


def commands():
    """(line, module, flags) of every `python -m` command, continuation lines joined."""
    found = []
    for language, line, code in snippets():
        for match in _COMMAND.finditer(re.sub(r"\\\n\s*", " ", code)):
            found.append((line, match.group(1), sorted(set(_FLAG.findall(match.group(2))))))
    return found


def imported_modules(code: str):
    return {m.group(1).split(".")[0] for m in re.finditer(r"^\s*(?:from|import)\s+([\w.]+)", code, re.M)}


@lru_cache(maxsize=None)
def help_text(module: str) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code, stderr = run_command(module, ["--help"])
    assert code == 0, stderr
    return stdout.getvalue()


@lru_cache(maxsize=None)
def beam_flags():
    from apache_beam.options.pipeline_options import PipelineOptions

    return set(PipelineOptions([]).get_all_options(retain_unknown_options=False))


@pytest.fixture
def version_folder(tmp_path, monkeypatch):
    """tmp_path as the working folder, each version path the snippets name holding a real version."""
    from model.pairs_io import pairs_from_texts, write_pair_version
    from tests.model.conftest import make_texts

    for path in set(re.findall(r"\"(out/[\w./-]+)\"", README.read_text())):
        write_pair_version(tmp_path / path, pairs_from_texts("reddit", make_texts(12)), num_shards=2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


PYTHON = [(line, code) for language, line, code in snippets() if language == "python"]


@pytest.mark.parametrize("line, code", PYTHON, ids=[f"README.md:{line}" for line, _ in PYTHON])
def test_python_snippets_run(line, code, version_folder, capsys):
    missing = {m for m in imported_modules(code) if importlib.util.find_spec(m) is None}
    assert missing <= set(NOT_INSTALLED), f"README.md:{line} imports {missing}, which no extra installs"
    compiled = compile(code, f"README.md:{line}", "exec")
    if not missing:
        exec(compiled, {"__name__": "readme_snippet"})


def test_the_loading_snippet_reads_the_pairs(version_folder, capsys):
    """Not only that it runs: it shows the pairs per source."""
    (loading,) = [code for line, code in PYTHON if "duckdb" in code]
    exec(compile(loading, "README.md", "exec"), {"__name__": "readme_snippet"})
    assert re.search(r"reddit\s*│\s*12", capsys.readouterr().out)


COMMANDS = commands()


def test_the_readme_has_commands():
    modules = {module for _, module, _ in COMMANDS}
    assert {"pipelines.reddit", "pipelines.ccpairs", "model.train", "filtering.filter_pairs"} <= modules


@pytest.mark.parametrize("line, module, flags", COMMANDS, ids=[f"README.md:{c[0]}:{c[1]}" for c in COMMANDS])
def test_command_lines_name_real_modules_and_flags(line, module, flags):
    assert importlib.util.find_spec(module) is not None, f"README.md:{line}: no module {module}"
    if flags:
        listed = set(_FLAG.findall(help_text(module)))
        unknown = [f for f in flags if f not in listed and f not in beam_flags()]
        assert unknown == [], f"README.md:{line}: python -m {module} has no flag {unknown}"
