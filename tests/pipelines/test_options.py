"""A source's flags come from its settings dataclass: names, defaults, switches, help."""

import dataclasses

import pytest

from pipelines import reddit, stackexchange
from pipelines.options import config_from_options, parse_options
from sources.reddit import RedditConfig
from sources.settings import as_dict, settable_fields
from sources.stackexchange import StackExchangeConfig

BASE = ["--input", "x", "--output", "y"]


def test_flags_build_the_settings_and_switches_flip_their_default():
    options = parse_options(BASE + ["--top_n", "3", "--any_language", "--keep_bots", "--min_score=2"],
                            reddit.RedditOptions)
    config = config_from_options(options, reddit.RedditOptions)
    assert config == RedditConfig(top_n=3, english_only=False, drop_bots=False, min_score=2)


def test_no_flags_give_the_default_settings():
    for module, config_class in ((reddit, RedditConfig), (stackexchange, StackExchangeConfig)):
        options = parse_options(BASE, module.JOB.options_class)
        assert config_from_options(options, module.JOB.options_class) == config_class()


@pytest.mark.parametrize("config_class", [RedditConfig, StackExchangeConfig])
def test_every_setting_has_help_and_a_json_friendly_value(config_class):
    for field, flag in settable_fields(config_class):
        assert field.metadata["help"] and flag.isidentifier()
    assert set(as_dict(config_class())) == {f.name for f in dataclasses.fields(config_class)}


def test_help_lists_our_flags_not_beams_hundreds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        reddit.run(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--top_n" in out and "--drop_removed_submissions" in out and "--input" in out
    assert "--flink_master" not in out and "--split_mb" not in out
    assert "Apache Beam pipeline option" in out


def test_beam_knows_every_job_flag_so_it_warns_about_none(caplog):
    """Beam parses the flags again at run time (get_all_options): it sees our settings as flags it
    knows, with the values we parsed, and logs nothing about them."""
    from apache_beam.utils import logger as beam_logger

    beam_logger._LOG_COUNTER.clear()
    options = parse_options(BASE + ["--top_n", "3", "--keep_bots", "--job_name=x"], reddit.RedditOptions)
    with caplog.at_level("WARNING"):
        every = options.get_all_options()
        kept = options.get_all_options(retain_unknown_options=True, display_warnings=True)
    assert every["top_n"] == kept["top_n"] == 3 and every["drop_bots"] is False and every["job_name"] == "x"
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        stackexchange.run(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "answers kept per question (default: 1)" in out
    assert "drop questions with a ClosedDate (and so their answers) (default: off)" in out
    assert "(required)" in out
