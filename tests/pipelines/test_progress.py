"""Progress lines: what a stage logs, what the main job reads back from a stage's log, and the
heartbeat it prints while a stage runs."""

import pytest

from pipelines import main, progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_log_speaks_at_most_every_interval_with_rate_share_and_eta():
    clock, said = FakeClock(), []
    log = progress.ProgressLog("reddit RC_2019-08.zst", "records", total=1000, every=30, clock=clock, emit=said.append)
    clock.now += 10
    assert log.update(50, 100) is None and said == []
    clock.now += 30
    line = log.update(400, 250)
    assert line == "progress: reddit RC_2019-08.zst: 400 records (10/s, 25% of 1,000, ETA 2m00s, 40s so far)"
    assert said == [line]
    clock.now += 5
    assert log.update(500, 300) is None


def test_progress_log_without_a_total_gives_count_and_rate_only():
    clock = FakeClock()
    log = progress.ProgressLog("corpus read", "pairs", every=1, clock=clock, emit=lambda line: None)
    clock.now += 4
    assert log.update(2000) == "progress: corpus read: 2,000 pairs (500/s, 4s so far)"


def test_latest_progress_reads_the_newest_tqdm_bar_or_progress_line():
    bar = "embed passage:  44%|####3     | 2176/5000 [01:21<01:13, 38.20text/s]"
    assert progress.latest_progress("noise\n" + bar.replace("2176", "2048") + "\r" + bar) == \
        "embed passage:  44% 2176/5000 [01:21<01:13, 38.20text/s]"
    line = "2026-12-07 INFO progress: wikipedia enwiki.xml.bz2: 1,200 records (40/s, 10% of 9, ETA 4m30s, 30s so far)"
    assert progress.latest_progress(bar + "\n" + line + "\n") == \
        "wikipedia enwiki.xml.bz2: 1,200 records (40/s, 10% of 9, ETA 4m30s, 30s so far)"
    assert progress.latest_progress("just a log line\nanother\n") is None


@pytest.mark.parametrize("seconds, text", [(5, "5s"), (65, "1m05s"), (3725, "1h02m")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


def test_run_stage_prints_a_start_line_then_the_stages_latest_progress_while_it_runs(tmp_path, capsys):
    log = tmp_path / "stage.log"
    assert main.run_stage(["tests.pipelines.slow_stage"], log, "slow", every=0.25) == '{"done": true}'
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"[slow] started (log: {log})"
    beats = lines[1:]
    assert beats and all(line.startswith("[slow] ") for line in beats)
    assert any("2/5 [00:01<00:01,  2.00text/s]" in line for line in beats)
    assert any(line.endswith("corpus read: 3 pairs (5/s, 60% of 5, ETA 1s, 2s so far)") for line in beats)
    assert '{"done": true}' in log.read_text()  # the stage's stdout ends up in its log too
    assert not (tmp_path / "stage.log.stdout").exists()


def test_run_stage_names_the_log_when_the_stage_fails(tmp_path):
    with pytest.raises(SystemExit, match="stage failed .* see .*stage.log"):
        main.run_stage(["tests.pipelines.slow_stage", "3"], tmp_path / "stage.log", "slow", every=5)


def test_a_source_job_logs_its_readers_progress_with_the_files_share_read(tmp_path, monkeypatch, caplog):
    import logging

    import pipelines.reddit
    from sources.demo_inputs import reddit as reddit_demo

    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)
    dumps = reddit_demo.write_demo_dumps(str(tmp_path / "in"))
    with caplog.at_level(logging.INFO, logger="ccpairs.progress"):
        pipelines.reddit.run([a for d in dumps for a in ("--input", d)] + ["--output", str(tmp_path / "out")])
    lines = [r.getMessage() for r in caplog.records if r.name == "ccpairs.progress"]
    assert lines and all(line.startswith("progress: reddit R") for line in lines)
    assert any(" records (" in line and "% of " in line and "ETA" in line for line in lines)
