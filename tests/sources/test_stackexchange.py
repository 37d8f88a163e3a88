"""One small row per Stack Exchange rule: safe row parsing, rejects, site names, HTML text, drops, selection."""

import dataclasses
import datetime as dt
import io
import random

import py7zr
import pytest

from schemas import reasons
from schemas.pairs import validate_pair
from sources import stackexchange
from sources.demo_inputs.stackexchange import BILLION_LAUGHS, XXE, generate_rows, write_posts_xml, write_site_archive
from sources.errors import RejectRecord
from sources.formats.line_ranges import iter_range_lines, plan_ranges
from sources.formats.readers import RawLine, TruncatedTail, iter_lines
from sources.formats.sevenzip import SevenZipMemberReader, UnreadableArchive
from sources.formats.stackexchange_xml import check_prolog, is_structure_line, parse_row, prolog_of, strip_line
from sources.text.html_text import html_to_text

SITE = "beer.stackexchange.com"
ANSWER_BODY = "&lt;p&gt;Dry hopping adds aroma without much bitterness, so add the hops after fermentation.&lt;/p&gt;"
CONFIG = stackexchange.StackExchangeConfig()


def row(**attrs) -> bytes:
    return ("<row " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + " />").encode("utf-8")


def question(post_id=1, **kw):
    attrs = dict(Id=post_id, PostTypeId=1, CreationDate="2014-01-21T20:26:05.383", Score=5,
                 Title="What is dry hopping and why do brewers do it?", Body="&lt;p&gt;I keep reading about it.&lt;/p&gt;")
    attrs.update(kw)
    return stackexchange.parse_row_line(row(**attrs), SITE)


def answer(post_id=4, parent=1, score=3, accepted=False, **kw):
    attrs = dict(Id=post_id, PostTypeId=2, ParentId=parent, CreationDate="2014-01-21T20:31:18.120", Score=score,
                 Body=ANSWER_BODY)
    attrs.update(kw)
    post = stackexchange.parse_row_line(row(**attrs), SITE)
    return dataclasses.replace(post, accepted=accepted)


def reason(post, config=CONFIG, english=True):
    return stackexchange.drop_reason(post, config, is_english=lambda text: english)


def rejected(raw, site=SITE):
    with pytest.raises(RejectRecord) as info:
        stackexchange.parse_row_line(raw, site)
    return info.value.reason


# --------------------------------------------------------------------------- XML rows


def test_row_with_bom_crlf_and_escaped_html_parses():
    line = b"\xef\xbb\xbf  " + row(Id=4, PostTypeId=2, ParentId=1, Score=2, Body="&lt;p&gt;a &amp;amp; b&#xA;c&lt;/p&gt;") + b"\r"
    assert parse_row(line) == {"Id": "4", "PostTypeId": "2", "ParentId": "1", "Score": "2", "Body": "<p>a &amp; b\nc</p>"}


def test_structure_lines_are_not_records():
    for line in (b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\r", b"<posts>", b"</posts>", b"  ", b"<!-- x -->"):
        assert is_structure_line(strip_line(line))
    assert not is_structure_line(strip_line(b"  <row Id=\"1\" />"))


@pytest.mark.parametrize("raw, expected", [
    (row(Id=1, PostTypeId=2, Body="&lol9;"), reasons.REJECT_UNSAFE_XML),  # undefined entity: never expanded
    (row(Id=1, PostTypeId=2, Body="&xxe;"), reasons.REJECT_UNSAFE_XML),
    (b"<!DOCTYPE posts [<!ENTITY a 'b'>]>", reasons.REJECT_UNSAFE_XML),  # a DTD line past the prolog
    (b"<!ENTITY lol \"lol\">", reasons.REJECT_UNSAFE_XML),
    (row(Id=1, PostTypeId=2, Body="fish & chips"), reasons.REJECT_INVALID_XML),  # bare ampersand
    (row(Id=1, PostTypeId=2, Body="&#0;"), reasons.REJECT_INVALID_XML),  # not an XML character
    (b'<row Id="1" PostTypeId="2" Body="cut off', reasons.REJECT_INVALID_XML),  # truncated row
    (b'<row Id="1" Id="2" />', reasons.REJECT_INVALID_XML),  # duplicate attribute
    (b'<row Id="1" /><row Id="2" />', reasons.REJECT_INVALID_XML),  # two elements on a line
    (b"<post Id=\"1\" />", reasons.REJECT_INVALID_XML),
    (b"some junk", reasons.REJECT_INVALID_XML),
    (b'<row Id="1" PostTypeId="2" Body="caf\xe9" />', reasons.REJECT_INVALID_UTF8),
    (row(PostTypeId=1, Score=1, Title="t"), reasons.REJECT_MISSING_FIELDS),  # no Id
    (row(Id=1, PostTypeId=2, Score=1, Body="x"), reasons.REJECT_MISSING_FIELDS),  # answer without ParentId
    (row(Id=1, PostTypeId=1, Score=1, Body="x"), reasons.REJECT_MISSING_FIELDS),  # question without Title
    (row(Id=1, PostTypeId=2, ParentId=3, Body="x"), reasons.REJECT_MISSING_FIELDS),  # no Score
    (row(Id="x1", PostTypeId=1), reasons.REJECT_BAD_FIELD_TYPE),
    (row(Id=1, PostTypeId=2, ParentId=3, Score="high", Body="x"), reasons.REJECT_BAD_FIELD_TYPE),
    (row(Id=1, PostTypeId=2, ParentId=3, Score=1, CreationDate="yesterday", Body="x"), reasons.REJECT_BAD_FIELD_TYPE),
])
def test_malformed_rows_are_rejected_with_a_reason(raw, expected):
    assert rejected(raw) == expected


def test_prolog_with_dtd_or_entities_is_refused():
    for data in (BILLION_LAUGHS, XXE):
        with pytest.raises(RejectRecord) as info:
            check_prolog(prolog_of(data))
        assert info.value.reason == reasons.REJECT_UNSAFE_XML
    check_prolog(prolog_of(b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n  <row Id="1" />'))


def test_other_post_types_need_only_an_id():
    for post_type in (3, 4, 5, 6, 7, 8):
        post = stackexchange.parse_row_line(row(Id=9, PostTypeId=post_type), SITE)
        assert reason(post) == reasons.DROP_OTHER_POST_TYPE


def test_question_and_answer_become_typed_posts_with_site_qualified_keys():
    q, a = question(AcceptedAnswerId=4), answer()
    assert (q.key, q.accepted_key, q.text) == (f"{SITE}/q/1", f"{SITE}/a/4", "What is dry hopping and why do brewers do it?")
    assert (a.key, a.question_key, a.score) == (f"{SITE}/a/4", f"{SITE}/q/1", 3)
    assert a.text.startswith("Dry hopping adds aroma")
    assert a.created_utc == int(dt.datetime(2014, 1, 21, 20, 31, 18, tzinfo=dt.timezone.utc).timestamp())


def test_question_body_joins_the_query_when_asked_or_when_the_title_is_short():
    raw = row(Id=1, PostTypeId=1, Score=1, Title="Why is IPA so bitter?", Body="&lt;p&gt;Hops.&lt;/p&gt;")
    assert stackexchange.parse_row_line(raw, SITE).text == "Why is IPA so bitter?"  # 5 words: the title alone
    assert stackexchange.parse_row_line(
        raw, SITE, stackexchange.StackExchangeConfig(include_question_body=True)
    ).text.endswith("\n\nHops.")
    short = row(Id=1, PostTypeId=1, Score=1, Title="Glassware for Beer", Body="&lt;p&gt;Does glass affect taste?&lt;/p&gt;")
    assert stackexchange.parse_row_line(short, SITE).text == "Glassware for Beer\n\nDoes glass affect taste?"
    assert (
        stackexchange.parse_row_line(short, SITE, stackexchange.StackExchangeConfig(short_title_words=0)).text
        == "Glassware for Beer"
    )


def test_a_real_short_title_gets_its_body(shared_data):
    q = _real_post(shared_data, 939)  # "Recommended Android app": says nothing of beer alone
    assert q.text.startswith("Recommended Android app\n\n") and "beer" in q.text.lower()


# --------------------------------------------------------------------------- site names


@pytest.mark.parametrize("path, site", [
    ("/dumps/beer.stackexchange.com.7z", "beer.stackexchange.com"),
    ("gs://bucket/stackoverflow.com-Posts.7z", "stackoverflow.com"),
    ("/data/beer.stackexchange.com-2017-03.Posts.xml", "beer.stackexchange.com"),
    ("/x/beer.stackexchange.com/Posts.xml", "beer.stackexchange.com"),
    ("/x/meta.stackoverflow.com/posts.xml.gz", "meta.stackoverflow.com"),
    ("/x/my_extract/Posts.xml", "my_extract"),
    ("Posts.xml", "unknown"),
])
def test_site_comes_from_file_name_then_folder(path, site):
    assert stackexchange.site_from_path(path) == site


# --------------------------------------------------------------------------- HTML to text


def test_html_to_text_keeps_blocks_as_lines_and_unescapes_once():
    body = ("<p>Use a <a href=\"https://x.org\">scale</a> &amp; a timer.</p>\n\n<ul>\n<li>grind</li>\n<li>steep</li>\n</ul>\n"
            "<pre><code>if a &lt; b:\n    print(&quot;&amp;lt;&quot;)\n</code></pre>\n<p>Line<br>break</p>")
    assert html_to_text(body) == 'Use a scale & a timer.\ngrind\nsteep\n\nif a < b:\n    print("&lt;")\n\nLine\nbreak'
    assert html_to_text("") == "" and html_to_text("<p> </p>") == ""


def test_comments_scripts_and_pre_are_found_in_one_pass_and_unclosed_ones_stay_text():
    body = ('<p>a<!-- hidden --></p><script>var x = "<p>";</script ><pre class="lang-py"><code>  i = 1\n    j\n'
            '</code></pre><p>tail <!-- unclosed <pre>x')
    assert html_to_text(body) == "a\n\n  i = 1\n    j\n\ntail <!-- unclosed\nx"


def test_a_real_table_in_pre_keeps_its_alignment(shared_data):
    text = _real_post(shared_data, 713).text  # Trappist breweries, a column-aligned table in <pre><code>
    assert "Monastery    Production Brew staff      Monks   Monks in br’y\nAchel        2,000 HL   2" in text
    assert "Chimay       120,000 HL 82              20      0\n" in text  # trailing spaces trimmed only


# --------------------------------------------------------------------------- drop reasons


def test_each_drop_reason():
    long_body = "&lt;p&gt;" + "Hops add aroma. " * 300 + "&lt;/p&gt;"
    assert reason(question()) is None and reason(answer()) is None
    assert reason(answer(score=0)) == reasons.DROP_LOW_SCORE  # not accepted: needs an upvote
    assert reason(answer(score=0, accepted=True)) == reasons.DROP_LOW_SCORE  # accepted needs one too (E5: upvoted)
    assert reason(answer(score=0, accepted=True), stackexchange.StackExchangeConfig(accepted_min_score=0)) is None
    assert reason(answer(Body="&lt;p&gt; &lt;/p&gt;")) == reasons.DROP_EMPTY_TEXT
    assert reason(answer(Body="&lt;a href='https://x.org/a'&gt;https://x.org/a&lt;/a&gt;")) == reasons.DROP_LINK_ONLY
    assert reason(answer(Body=long_body)) == reasons.DROP_TOO_LONG
    assert reason(answer(Body="Thanks!")) == reasons.DROP_TOO_SHORT
    assert reason(answer(), english=False) == reasons.DROP_NON_ENGLISH
    assert reason(question(Title="Hops?", Body="")) == reasons.DROP_TOO_SHORT
    assert reason(question(), english=False) == reasons.DROP_NON_ENGLISH


def test_answer_drop_reasons_are_drop_reason_with_and_without_acceptance():
    """The pipeline judges an answer before its question is joined: both outcomes, each as drop_reason gives it."""
    long_body = "&lt;p&gt;" + "Hops add aroma. " * 300 + "&lt;/p&gt;"
    configs = [CONFIG, stackexchange.StackExchangeConfig(accepted_min_score=0),
               stackexchange.StackExchangeConfig(accepted_min_score=3, min_score=1),
               stackexchange.StackExchangeConfig(accepted_min_score=-5, min_score=2)]
    answers = [answer(score=s, **body) for s in (-6, -1, 0, 1, 2, 3, 9)
               for body in ({}, {"Body": "Thanks!"}, {"Body": long_body})]
    answers.append(dataclasses.replace(answer(), site="beer.meta.stackexchange.com"))
    for config in configs:
        for english in (True, False):
            for post in answers:
                both = stackexchange.answer_drop_reasons(post, config, is_english=lambda text: english)
                assert both == (reason(dataclasses.replace(post, accepted=True), config, english),
                                reason(dataclasses.replace(post, accepted=False), config, english))


def test_closed_questions_are_kept_unless_asked_and_meta_sites_dropped_unless_asked():
    closed = question(ClosedDate="2015-02-01T10:00:00.000")
    assert closed.closed and reason(closed) is None
    assert reason(closed, stackexchange.StackExchangeConfig(drop_closed_questions=True)) == reasons.DROP_CLOSED_QUESTION
    for site in ("meta.stackexchange.com", "bicycles.meta.stackexchange.com", "meta.stackoverflow.com"):
        post = stackexchange.parse_row_line(
            row(Id=1, PostTypeId=1, Score=1, Title="Opinion and Debate", Body="x"), site
        )
        assert reason(post) == reasons.DROP_META_SITE
        assert reason(post, stackexchange.StackExchangeConfig(drop_meta_sites=False)) is None
    assert not stackexchange.is_meta_site("metal.stackexchange.com") and not stackexchange.is_meta_site(SITE)


def test_question_language_is_judged_on_title_and_body():
    seen = []
    stackexchange.drop_reason(question(), CONFIG, is_english=lambda text: seen.append(text) or True)
    assert seen == ["What is dry hopping and why do brewers do it?\n\nI keep reading about it."]


# --------------------------------------------------------------------------- selection and pairs


def test_accepted_answer_wins_when_its_score_is_high_enough():
    q = question(AcceptedAnswerId=5)
    best, acc = answer(4, score=10), answer(5, score=1, accepted=True)
    assert stackexchange.select_answers(q, {5: acc}, [best], CONFIG) == [acc]
    unvoted = answer(5, score=0, accepted=True)  # accepted but not upvoted: the best upvoted answer instead
    assert stackexchange.select_answers(q, {5: unvoted}, [best], CONFIG) == [best]
    assert stackexchange.select_answers(
        q, {5: unvoted}, [best], stackexchange.StackExchangeConfig(accepted_min_score=0)
    ) == [unvoted]
    assert stackexchange.select_answers(q, {5: acc}, [best], stackexchange.StackExchangeConfig(top_n=2)) == [acc, best]


def test_accepted_flag_counts_only_for_the_answer_the_question_names():
    stray = answer(7, score=0, accepted=True)
    assert stackexchange.select_answers(question(AcceptedAnswerId=5), {7: stray}, [], CONFIG) == []


def test_rank_prefers_score_then_earlier_then_lower_id():
    a = answer(4, score=3, CreationDate="2014-01-22T00:00:00")
    b = answer(6, score=3, CreationDate="2014-01-21T00:00:00")
    c = answer(5, score=3, CreationDate="2014-01-21T00:00:00")
    assert sorted([a, b, c], key=stackexchange.answer_rank_key, reverse=True) == [c, b, a]


def test_pair_has_site_qualified_ids_score_and_answer_time():
    pair = stackexchange.make_stackexchange_pair(question(), answer(score=7))
    validate_pair(pair)
    assert (pair["subsource"], pair["query_id"], pair["passage_id"], pair["score"]) == (SITE, f"{SITE}/q/1", f"{SITE}/a/4", 7)
    assert pair["created_at"] == dt.datetime(2014, 1, 21, 20, 31, 18, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------- reading: ranges and 7z


def test_byte_ranges_read_every_line_exactly_once():
    rng = random.Random(3)
    for _ in range(200):
        lines = [bytes(rng.choice(b"ab\r") for _ in range(rng.randrange(0, 9))) for _ in range(rng.randrange(0, 25))]
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        expected = [line.rstrip(b"\r") for line in data.split(b"\n") if line]  # empty lines are no records
        for target in (1, 4, 64):
            got = [(offset, line) for start, end in plan_ranges(len(data), target)
                   for offset, line in iter_range_lines(io.BytesIO(data), start, end, chunk_bytes=3)]
            assert [line for _, line in got] == expected
            assert all(data[offset:].startswith(line) and (offset == 0 or data[offset - 1:offset] == b"\n")
                       for offset, line in got)


def test_7z_member_streams_in_slices_and_matches_the_bare_file(tmp_path):
    bare = write_posts_xml(str(tmp_path / "x" / "Posts.xml"), generate_rows(40, seed=2))
    archive = write_site_archive(str(tmp_path / "demo.stackexchange.com.7z"), bare)
    with open(archive, "rb") as fh, SevenZipMemberReader(fh, "posts.xml", slice_bytes=4096, max_queued_slices=2) as reader:
        streamed = [i.data for i in iter_lines(reader, "Posts.xml")]
    with open(bare, "rb") as fh:
        assert streamed == [i.data for i in iter_lines(fh, bare)]
    with open(archive, "rb") as fh, SevenZipMemberReader(fh, "Posts.xml", slice_bytes=64, max_queued_slices=1) as reader:
        assert next(iter_lines(reader, "Posts.xml")).position == 1  # closing early stops the thread


def test_bad_archives_are_unreadable_or_truncated(tmp_path):
    not_7z = tmp_path / "a.7z"
    not_7z.write_bytes(b"this is not an archive")
    with open(not_7z, "rb") as fh, pytest.raises(UnreadableArchive):
        SevenZipMemberReader(fh, "Posts.xml")
    with py7zr.SevenZipFile(tmp_path / "tags.7z", "w") as archive:
        archive.writestr(b"<tags/>", "Tags.xml")
    with open(tmp_path / "tags.7z", "rb") as fh, pytest.raises(UnreadableArchive, match="no Posts.xml"):
        SevenZipMemberReader(fh, "Posts.xml")
    bare = write_posts_xml(str(tmp_path / "big" / "Posts.xml"), generate_rows(300, seed=1))
    damaged = bytearray(open(write_site_archive(str(tmp_path / "full.7z"), bare), "rb").read())
    middle = len(damaged) // 2
    damaged[middle:middle + 64] = bytes(64)  # packed data hit; the index at the end survives
    (tmp_path / "damaged.7z").write_bytes(bytes(damaged))
    with open(tmp_path / "damaged.7z", "rb") as fh, SevenZipMemberReader(fh, "Posts.xml") as reader:
        items = list(iter_lines(reader, "Posts.xml"))
    assert isinstance(items[-1], TruncatedTail) and "7z member Posts.xml" in items[-1].detail


# --------------------------------------------------------------------------- the real sample


def _sample_posts(path):
    with open(path, "rb") as fh:
        lines = [i.data for i in iter_lines(fh, path) if isinstance(i, RawLine) and not is_structure_line(strip_line(i.data))]
    return [stackexchange.parse_row_line(line, stackexchange.site_from_path(path)) for line in lines]


def _real_post(shared_data, post_id, config=CONFIG):
    path = shared_data / "stackexchange" / "beer.stackexchange.com.7z"
    with open(path, "rb") as fh, SevenZipMemberReader(fh, "Posts.xml") as reader:
        for item in iter_lines(reader, "Posts.xml"):
            if f' Id="{post_id}" '.encode() in item.data:
                return stackexchange.parse_row_line(item.data, SITE, config)
    raise AssertionError(f"post {post_id} not in the sample")


def test_real_sample_parses_completely(shared_data):
    posts = _sample_posts(str(shared_data / "stackexchange" / "beer.stackexchange.com-2017-03.Posts.xml"))
    kinds = [p.post_type for p in posts]
    assert (len(posts), kinds.count(1), kinds.count(2)) == (2354, 663, 1572)
    assert {p.site for p in posts} == {"beer.stackexchange.com"}


def test_real_2020_archive_streams_its_posts(shared_data):
    path = shared_data / "stackexchange" / "beer.stackexchange.com.7z"
    if not path.exists():
        pytest.skip("the 2020 archive is not in shared/data")
    with open(path, "rb") as fh, SevenZipMemberReader(fh, "Posts.xml") as reader:
        rows = sum(1 for i in iter_lines(reader, "Posts.xml") if not is_structure_line(strip_line(i.data)))
    assert rows == 3471
