"""Issue 24 (Reddit): the job on the real dumps in ../shared/data/reddit leaves no hard-wrapped line
in a pair's texts, and says how many breaks it joined. The scan is written apart from the rule
(sources.text.markdown.join_hard_wraps), so it checks the rule rather than repeating it."""

import glob
import os
import re

import pyarrow.parquet as pq

from pipelines import accounting, reddit
from sources import reddit as reddit_source

from .conftest import run_counting

# A hard wrap as a reader sees it: a line of 25+ characters that stops mid-sentence (on a letter, a
# digit or a comma) and a next line that goes on in lowercase.
HARD_WRAP = re.compile(r"^[^\n]{24,}[\w,](?=\n[a-z])", re.M)


def hard_wraps(text: str) -> list:
    return [m.group(0) for m in HARD_WRAP.finditer(text)]


def read_pairs(out: str) -> list:
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "pairs-*.parquet"))):
        rows += pq.read_table(path, columns=["pair_id", "query", "passage"]).to_pylist()
    return rows


def test_real_dumps_leave_no_hard_wrapped_lines_and_count_the_joins(tmp_path, shared_data):
    argv = ["--input", str(shared_data / "reddit" / "*.zst"), "--output", str(tmp_path / "out"), "--version", "v"]
    counters = run_counting(reddit, argv)
    pairs = read_pairs(str(tmp_path / "out" / "reddit" / "v"))
    found = [(p["pair_id"], w) for p in pairs for field in ("query", "passage") for w in hard_wraps(p[field])]
    assert found == []
    assert len(pairs) >= 104  # 109 before the rule: it joins lines, it drops no pair
    assert counters[(accounting.CLEANUP_NAMESPACE, reddit_source.HARD_WRAPS_JOINED)] >= 10


def real_comment(shared_data, comment_id: str) -> dict:
    """One comment of the real RC_2005-12 dump, by its id."""
    import io
    import json

    import zstandard

    with open(shared_data / "reddit" / "RC_2005-12.zst", "rb") as handle:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(handle)
        for line in io.TextIOWrapper(reader, encoding="utf-8"):
            if f'"id":"{comment_id}"' in line.replace(" ", ""):
                return json.loads(line)
    raise AssertionError(f"no comment {comment_id}")


def test_the_real_hard_wrapped_comment_is_joined_and_counted(shared_data):
    """RC_2005-12's comment c1941, typed with a line break every ~65 characters (CRLF)."""
    record = real_comment(shared_data, "c1941")
    assert len(hard_wraps(record["body"].replace("\r\n", "\n"))) >= 5
    post = reddit_source.parse_post(record)
    assert hard_wraps(post.text) == [] and "\n" not in post.text
    assert post.text.startswith("I experiment a form of recursive procrastination, that is I start hacking on")
    assert dict(post.cleanup)[reddit_source.HARD_WRAPS_JOINED] >= 5
    kept = reddit_source.parse_post(record, reddit_source.RedditConfig(join_hard_wraps=False))
    assert len(hard_wraps(kept.text)) >= 5 and reddit_source.HARD_WRAPS_JOINED not in dict(kept.cleanup)


def test_lists_quotes_code_and_short_lines_keep_their_breaks():
    from sources.text.markdown import join_hard_wraps

    kept = ("It has equal measures of 6 liqueurs and spirits:\nGrenadine\nMaraschino\n\n"
            "- a list item that is long enough to wrap\n- and another one\n\n"
            "> a quoted line that is long enough to wrap\n> and its next line\n\n"
            "Cheers,\nJon Harrop.\n\n"
            "if (l.isEmpty == true) the code goes on\nreturn acc;")
    assert join_hard_wraps(kept) == (kept, 0)
