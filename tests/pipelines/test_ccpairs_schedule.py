"""Scheduled runs of the project's own ccpairs.yaml on generated dumps of all five sources: versions
named by date, unchanged sources not re-extracted, LATEST moved only after a whole run; and the demo
corpus's report rendered by a real browser."""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess

import pytest
import yaml

from pipelines import schedule
from schemas import versions
from sources.demo_inputs import commoncrawl, reddit, semanticscholar, stackexchange, wikipedia

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
SOURCES = ("reddit", "stackexchange", "wikipedia", "semanticscholar", "commoncrawl")
DEMO_WRITERS = {"reddit": reddit, "stackexchange": stackexchange, "wikipedia": wikipedia,
                "semanticscholar": semanticscholar, "commoncrawl": commoncrawl}


def run_schedule(spec, date, capsys):
    assert schedule.main([str(spec), "--date", date]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def spec_copy(tmp: pathlib.Path) -> dict:
    """The repository's ccpairs.yaml, its output and its relative paths moved under tmp: the globs
    stay as written (tmp/dumps/... holds the generated dumps under their publishers' names), and the
    evaluation set is the one the spec names, in this repository."""
    spec = yaml.safe_load((REPOSITORY / "ccpairs.yaml").read_text())
    spec["output"] = str(tmp / "out")
    for source in spec["sources"].values():
        source["input"] = [str(tmp / pattern) for pattern in source["input"]]
    spec["corpus"]["decontaminate"] = [str(REPOSITORY / folder) for folder in spec["corpus"]["decontaminate"]]
    return spec


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schedule")
    for source in SOURCES[:-1]:
        DEMO_WRITERS[source].write_demo_dumps(str(tmp / "dumps" / source))
    commoncrawl.write_demo_crawl(str(tmp / "dumps" / "commoncrawl"))  # the demo's crawl, under its CC paths
    spec = tmp / "ccpairs.yaml"
    spec.write_text(yaml.safe_dump(spec_copy(tmp), sort_keys=False))
    assert schedule.main([str(spec), "--date", "2026-11-20"]) == 0
    return {"tmp": tmp, "spec": spec, "out": tmp / "out"}


def test_the_projects_spec_names_all_five_sources_and_a_shipped_evaluation_set():
    spec = schedule.load_spec(str(REPOSITORY / "ccpairs.yaml"))
    assert [source.name for source in spec.sources] == list(SOURCES)
    assert all(not os.path.isabs(folder) and not folder.startswith("..") for folder in spec.decontaminate)
    assert all((REPOSITORY / folder / "qrels" / "test.tsv").is_file() for folder in spec.decontaminate)


def test_first_run_extracts_every_source_and_points_latest_at_the_dated_version(first_run):
    out = first_run["out"]
    assert (out / "ccpairs" / "LATEST").read_text() == "2026-11-20\n"
    manifest = versions.read_manifest(out / "ccpairs" / "2026-11-20")
    assert [i["path"] for i in manifest["inputs"]] == [str(out / s / "2026-11-20") for s in SOURCES]
    assert all(manifest["source_counts"][s]["pairs_kept"] > 0 for s in SOURCES)
    for source in SOURCES:  # every glob of the spec matched a generated dump named as its publisher names it
        made = versions.read_manifest(out / source / "2026-11-20")
        assert made["counts"]["pairs"] > 0 and made["inputs"]
    assert versions.resolve_latest(str(out / "ccpairs" / "LATEST")) == str(out / "ccpairs" / "2026-11-20")


def test_demo_report_renders_in_headless_chromium(first_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    version_dir = first_run["out"] / "ccpairs" / "2026-11-20"
    page = (version_dir / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 5 and all((version_dir / name).is_file() for name in images)
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1100,2400", (version_dir / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000  # a blank page compresses to a few kB


def test_changed_source_is_re_extracted_unchanged_one_reused(first_run, capsys):
    reddit.write_demo_dumps(str(first_run["tmp"] / "dumps" / "reddit"), n_threads=120, seed=1)
    summary = run_schedule(first_run["spec"], "2026-11-21", capsys)
    steps = {s["source"]: s for s in summary["sources"]}
    assert steps["reddit"] == dict(steps["reddit"], version="2026-11-21", extract=True)
    for source in SOURCES[1:]:
        assert steps[source] == dict(steps[source], version="2026-11-20", extract=False)
    out = first_run["out"]
    assert not (out / "stackexchange" / "2026-11-21").exists()
    assert (out / "ccpairs" / "LATEST").read_text() == "2026-11-21\n"
    assert summary["report"] == str(out / "ccpairs" / "2026-11-21" / "report.html")


def test_an_unchanged_day_makes_no_version_and_a_failed_run_leaves_latest(first_run, capsys):
    out = first_run["out"]
    latest = (out / "ccpairs" / "LATEST").read_text()
    summary = run_schedule(first_run["spec"], "2026-11-22", capsys)  # nothing changed since the last run
    assert summary["version"] == latest.strip() and not any(s["extract"] for s in summary["sources"])
    assert not (out / "ccpairs" / "2026-11-22").exists()
    # reddit changed, but another live run holds reddit's version of the day: its job fails, the run stops
    reddit.write_demo_dumps(str(first_run["tmp"] / "dumps" / "reddit"), n_threads=90, seed=2)
    (out / "reddit" / ".2026-11-23.claim").write_text(json.dumps(
        {"run_id": "other", "pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))
    with pytest.raises(SystemExit, match="pipelines.reddit failed"):
        schedule.main([str(first_run["spec"]), "--date", "2026-11-23"])
    assert (out / "ccpairs" / "LATEST").read_text() == latest
    assert not (out / "ccpairs" / "2026-11-23").exists()


def test_plan_runs_nothing(first_run, capsys):
    assert schedule.main([str(first_run["spec"]), "--date", "2026-11-24", "--plan"]) == 0
    planned = {s["source"]: s for s in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sources"]}
    assert planned["reddit"]["extract"] and not planned["stackexchange"]["extract"]
    assert not pathlib.Path(first_run["out"] / "reddit" / "2026-11-24").exists()


def small_spec(tmp_path, **extra):
    """A spec over a small demo Reddit dump (no decontamination, no report), for runs of their own."""
    if not (tmp_path / "in").exists():
        reddit.write_demo_dumps(str(tmp_path / "in"), n_threads=30)
    spec = tmp_path / "ccpairs.yaml"
    spec.write_text(yaml.safe_dump(dict({
        "output": str(tmp_path / "out"),
        "sources": {"reddit": {"input": [str(tmp_path / "in" / "R*_demo.zst")]}},
        "corpus": {"options": {"pool_size": 10, "no_report": True}},
    }, **extra)))
    return spec


def refused(argv, capsys):
    """The one stderr line of a schedule that stops before any job."""
    with pytest.raises(SystemExit) as exit_info:
        schedule.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1, lines
    return lines[0]


def test_case_14_retrying_a_failed_date_after_its_inputs_changed_makes_that_dates_version_again(tmp_path, capsys):
    """Issue 22, case 14: a date whose run failed after a source was extracted, retried once that source's
    inputs changed, failed with VersionExists on every attempt. The retry now makes the source's version
    of the date again (--overwrite), since no corpus was made from it; once one was, it is never replaced."""
    spec, out = small_spec(tmp_path), tmp_path / "out"
    (out / "ccpairs").mkdir(parents=True)  # the corpus job fails: another live run holds its version
    (out / "ccpairs" / ".2026-11-22.claim").write_text(json.dumps(
        {"run_id": "other", "pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))
    with pytest.raises(SystemExit, match="pipelines.ccpairs failed"):
        schedule.main([str(spec), "--date", "2026-11-22"])
    first = versions.read_manifest(out / "reddit" / "2026-11-22")
    (out / "ccpairs" / ".2026-11-22.claim").unlink()

    reddit.write_demo_dumps(str(tmp_path / "in"), n_threads=40, seed=3)  # a bad dump replaced, say
    summary = run_schedule(spec, "2026-11-22", capsys)
    assert summary["sources"][0] == dict(summary["sources"][0], version="2026-11-22", extract=True, overwrite=True)
    remade = versions.read_manifest(out / "reddit" / "2026-11-22")
    assert remade["inputs"] != first["inputs"]
    assert (out / "ccpairs" / "LATEST").read_text() == "2026-11-22\n"

    reddit.write_demo_dumps(str(tmp_path / "in"), n_threads=50, seed=4)
    line = refused([str(spec), "--date", "2026-11-22"], capsys)
    assert "sources.reddit: its inputs or flags changed since its version 2026-11-22 was made, and corpus " \
           "version 2026-11-22 was made from that: give another --version" in line
    assert versions.read_manifest(out / "reddit" / "2026-11-22") == remade


@pytest.mark.parametrize("version_format, bad", [("LATEST", "'LATEST'"), (".%Y-%m-%d", "'.2026-11-22'"),
                                                 ("%Y\n%m", "'2026\\n11'")])
def test_case_7_a_version_format_that_makes_a_reserved_or_control_name_is_refused(tmp_path, capsys, version_format, bad):
    """Issue 22, case 7: version_format: LATEST made a corpus folder named LATEST in place of the pointer."""
    spec = small_spec(tmp_path, version_format=version_format)
    line = refused([str(spec), "--date", "2026-11-22", "--plan"], capsys)
    assert f"version_format {version_format!r} gives the bad version {bad}" in line
    assert not (tmp_path / "out").exists()


def test_case_11_bad_evaluation_folders_stop_the_schedule_before_any_job(tmp_path, capsys):
    """Issue 22, case 11: a --decontaminate folder the corpus job would refuse is refused before the sources run."""
    evals = tmp_path / "beir"
    (evals / "qrels").mkdir(parents=True)
    (evals / "queries.jsonl").write_text('{"_id": "q0", "text": "a question"}\n')
    (evals / "corpus.jsonl").write_text('{"_id": "d0", "text": "a passage"}\n')
    (evals / "qrels" / "test.tsv").write_text("q0,d0,1\n")
    spec = small_spec(tmp_path, corpus={"decontaminate": [str(evals)]})
    line = refused([str(spec), "--date", "2026-11-22", "--plan"], capsys)
    assert "corpus.decontaminate:" in line and "test.tsv:1" in line and "neither BEIR qrels" in line
    assert not (tmp_path / "out").exists()
