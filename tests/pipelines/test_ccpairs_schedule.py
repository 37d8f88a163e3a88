"""Scheduled runs on the demo inputs: versions named by date, unchanged sources not re-extracted,
LATEST moved only after a whole run; and the demo corpus's report rendered by a real browser."""

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
from sources.demo_inputs import reddit, stackexchange
from tests.pipelines.test_ccpairs import eval_folder


def run_schedule(spec, date, capsys):
    assert schedule.main([str(spec), "--date", date]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schedule")
    reddit.write_demo_dumps(str(tmp / "in" / "reddit"))
    stackexchange.write_demo_dumps(str(tmp / "in" / "stackexchange"))
    spec = tmp / "ccpairs.yaml"
    spec.write_text(yaml.safe_dump({
        "output": str(tmp / "out"),
        "sources": {"reddit": {"input": [str(tmp / "in" / "reddit" / "R*_demo.zst")]},
                    "stackexchange": {"input": [str(tmp / "in" / "stackexchange" / "*.7z")],
                                      "options": {"top_n": 1}}},
        "corpus": {"decontaminate": [eval_folder(tmp)], "options": {"pool_size": 100}},
    }))
    assert schedule.main([str(spec), "--date", "2026-11-20"]) == 0
    return {"tmp": tmp, "spec": spec, "out": tmp / "out"}


def test_first_run_extracts_every_source_and_points_latest_at_the_dated_version(first_run):
    out = first_run["out"]
    assert (out / "ccpairs" / "LATEST").read_text() == "2026-11-20\n"
    manifest = versions.read_manifest(out / "ccpairs" / "2026-11-20")
    assert [i["path"] for i in manifest["inputs"]] == [str(out / s / "2026-11-20") for s in ("reddit", "stackexchange")]
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
    reddit.write_demo_dumps(str(first_run["tmp"] / "in" / "reddit"), n_threads=120, seed=1)
    summary = run_schedule(first_run["spec"], "2026-11-21", capsys)
    steps = {s["source"]: s for s in summary["sources"]}
    assert steps["reddit"] == dict(steps["reddit"], version="2026-11-21", extract=True)
    assert steps["stackexchange"] == dict(steps["stackexchange"], version="2026-11-20", extract=False)
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
    reddit.write_demo_dumps(str(first_run["tmp"] / "in" / "reddit"), n_threads=90, seed=2)
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
