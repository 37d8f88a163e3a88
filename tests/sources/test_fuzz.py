"""Property-based fuzzing of every source's record parser and text cleaner (hypothesis).

The promise under test: any input gives a typed record or a RejectRecord with a known reason,
never another exception; a parsed record always becomes a pair that the Parquet schema holds;
cleaners return text for any text. CI runs a small budget (profile "ci"); benchmarks/fuzz.py runs
the same properties with a large one and records how many inputs were tried.
"""

import json
import os

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.pairs import PAIR_SCHEMA
from schemas.reasons import REJECT_REASONS
from sources import reddit, semanticscholar, stackexchange
from sources.errors import RejectRecord
from sources.text.html_text import html_to_text
from sources.text.langid import explain
from sources.text.markdown import clean_markdown
from sources.text.ngrams import COPY_MIN_WORDS, drop_copied_runs, word_ngrams, words

settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TRIED = {}  # property name -> inputs tried (read by benchmarks/fuzz.py)

# Texts with the characters that break things: markup, entities, surrogates escaped in JSON, controls.
MARKUP = st.sampled_from(["**", "__", "~~", ">!", "!<", "^(", "[", "](", ")", "`", "```", "&amp;", "&#x0;", "<p>",
                          " ::: ", "BACKGROUND", "...", "\\%", "(ABSTRACT TRUNCATED AT 250 WORDS)",
                          "</p>", "<code>", "\n", "\r\n", "\t", "http://x.y/(z)", "\u200b", "\x1f", "\x00", "\ufeff"])
TEXT = st.lists(st.one_of(st.text(max_size=12), MARKUP), max_size=30).map("".join)
NUMBER = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
                   TEXT, st.sampled_from(["12", "1e3", "\u0661\u0662", "99999999999999999999", "-0", " 7 "]))
FIELD = st.one_of(TEXT, NUMBER, st.lists(st.integers(), max_size=2), st.dictionaries(TEXT, st.integers(), max_size=2))


def count(name):
    TRIED[name] = TRIED.get(name, 0) + 1


def assert_pair_fits(pair):
    pa.Table.from_pylist([pair], schema=PAIR_SCHEMA)  # the Parquet write would fail later otherwise


def outcome(parse, *args):
    try:
        return parse(*args)
    except RejectRecord as exc:
        assert exc.reason in REJECT_REASONS
        return None


@given(st.binary(max_size=300))
def test_reddit_any_line_is_a_post_or_a_reject(raw):
    count("reddit: raw bytes")
    outcome(reddit.decode_line, raw)


@given(st.dictionaries(st.sampled_from(["id", "title", "selftext", "body", "parent_id", "link_id", "author",
                                        "subreddit", "score", "created_utc", "over_18", "removed_by_category"]),
                       FIELD, max_size=9),
       st.sampled_from(["t1_p", "t3_p", "p", "t1_x"]))
def test_reddit_any_object_is_a_post_or_a_reject_and_posts_make_pairs(obj, parent_id):
    count("reddit: JSON objects")
    obj.setdefault("id", "x")
    if "body" in obj:
        obj.setdefault("parent_id", parent_id)
    line = json.dumps(obj, ensure_ascii=True).encode()  # lone surrogates travel as \\udxxx escapes
    post = outcome(reddit.decode_line, line)
    if post is not None and post.text:
        parent = reddit.RedditPost("submission", "t3_p", None, "s", "a", "q", "a query", 1, 0, False, False)
        assert_pair_fits(reddit.make_reddit_pair(parent, post))


@given(st.binary(max_size=300))
def test_semanticscholar_any_line_is_a_record_or_a_reject(raw):
    count("semanticscholar: raw bytes")
    outcome(semanticscholar.decode_line, raw)


@given(st.sampled_from(["corpusid", "paper_id", "citingcorpusid", "content"]),
       st.dictionaries(st.sampled_from(["title", "abstract", "year", "citationcount", "citedcorpusid",
                                        "outbound_citations", "content", "corpusid"]), FIELD, max_size=6),
       st.one_of(st.integers(), TEXT, st.none()))
def test_semanticscholar_any_object_is_a_record_or_a_reject_and_papers_make_pairs(kind, fields, paper_id):
    count("semanticscholar: JSON objects")
    obj = dict(fields, **{kind: paper_id})
    record = outcome(semanticscholar.decode_line, json.dumps(obj, ensure_ascii=True).encode())
    if isinstance(record, semanticscholar.PaperPart) and record.title and record.abstract:
        assert_pair_fits(semanticscholar.make_title_abstract_pair(semanticscholar.paper_of(record)))


ROW_ATTRS = ["Id", "PostTypeId", "ParentId", "AcceptedAnswerId", "Score", "Title", "Body", "CreationDate",
             "LastActivityDate"]


@given(st.binary(max_size=300))
def test_stackexchange_any_line_is_a_post_or_a_reject(raw):
    count("stackexchange: raw bytes")
    outcome(stackexchange.parse_row_line, raw, "site")


@given(st.dictionaries(st.sampled_from(ROW_ATTRS), st.one_of(TEXT, st.integers().map(str),
                                                             st.sampled_from(["1", "2", "2020-01-01T00:00:00",
                                                                              "0001-01-01", "\u0661"])), max_size=9),
       st.sampled_from(["1", "2", "3"]))
def test_stackexchange_any_row_is_a_post_or_a_reject_and_posts_make_pairs(attrs, post_type):
    from xml.sax.saxutils import quoteattr

    count("stackexchange: rows")
    attrs = dict({"Id": "5", "PostTypeId": post_type}, **attrs)
    clean = {k: "".join(c for c in v if c >= " " or c in "\t\n\r") for k, v in attrs.items()}
    clean = {k: v.replace("\ufffe", "").replace("\uffff", "") for k, v in clean.items()}
    clean = {k: "".join(c for c in v if not "\ud800" <= c <= "\udfff") for k, v in clean.items()}
    line = ("<row " + " ".join(f"{k}={quoteattr(v)}" for k, v in clean.items()) + " />").encode()
    post = outcome(stackexchange.parse_row_line, line, "site")
    if post is not None and post.is_answer and post.text:
        question = stackexchange.StackExchangePost("site", 1, 1, None, None, 1, 0, 0, "a question")
        assert_pair_fits(stackexchange.make_stackexchange_pair(question, post))


@given(TEXT)
def test_cleaners_return_text_for_any_text(text):
    count("cleaners: texts")
    for clean in (clean_markdown, html_to_text, semanticscholar.clean_abstract):
        out = clean(text)
        assert isinstance(out, str) and "\r" not in out and out == out.strip()
    code, confidence, stage = explain(text)
    assert isinstance(code, str) and 0.0 <= confidence <= 1.0 and stage


WORDY = st.lists(st.one_of(st.sampled_from(["the", "cat", "sat", "on", "mat", "\"", "\n", "  ", ".", "“"]), TEXT),
                 max_size=40).map(" ".join)


@given(WORDY, WORDY)
def test_a_cut_of_copied_runs_leaves_no_copy_and_only_removes(reply, query):
    count("copied runs: pairs")
    text, cut = drop_copied_runs(reply, query)
    assert cut == 0 and text == reply or cut >= COPY_MIN_WORDS and len(words(text)) == len(words(reply)) - cut
    assert not set(word_ngrams(words(text), COPY_MIN_WORDS)) & set(word_ngrams(words(query), COPY_MIN_WORDS))


# ---- Common Crawl: WARC files, records, HTTP, HTML ----

HTTP_STATUS = st.sampled_from(["HTTP/1.1 200 OK", "HTTP/1.0 200", "HTTP/1.1 404 Not Found", "HTTP/1.1 301 Moved",
                               "HTTP/2 200", "HTTP/1.1 2000 OK", "HTTP/1.1", "ICY 200 OK", "", "\x00\x01"])
HTTP_HEADER = st.sampled_from(["Content-Type: text/html", "Content-Type: text/html; charset=utf-8",
                               "Content-Type: text/html; charset=gb2312", "Content-Type: text/html; charset=bogus",
                               "Content-Type: image/png", "Content-Type:", "Content-Encoding: gzip",
                               "Content-Encoding: deflate", "Content-Encoding: br", "Transfer-Encoding: chunked",
                               "X-Crawler-Content-Encoding: gzip", "no colon here", " folded continuation"])
HTML_BODY = st.one_of(st.binary(max_size=200), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.lists(st.one_of(TEXT, st.sampled_from(["<title>", "</title>", "<p>", "</p>", "<h1>", "<script>",
                                                                "</script>", "<meta charset=koi8-r>", "&amp;", "{",
                                                                "The tide comes in. ", "\u00c3\u00a9"])),
                               max_size=40).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")))


@given(st.sampled_from(["response", "request", "metadata", "warcinfo", "revisit", "resource", "conversion", "bogus"]),
       st.one_of(st.none(), st.sampled_from(["http://x.example/a", "<https://x.example/b>", "dns:x.example", "",
                                             "http://[::1", "http://x.example/\u00e9"])),
       st.one_of(st.none(), st.sampled_from(["2024-05-22T10:00:00Z", "2024-05-22T10:00:00.5Z", "yesterday", ""])),
       HTTP_STATUS, st.lists(HTTP_HEADER, max_size=4), HTML_BODY,
       st.sampled_from(["", "WARC-Identified-Content-Language: eng", "WARC-Identified-Content-Language: zho,eng"]))
def test_commoncrawl_any_warc_record_is_a_page_a_skip_or_a_reject_and_pages_make_pairs(kind, uri, date, status,
                                                                                      headers, body, language):
    import gzip
    import io

    from sources import commoncrawl
    from sources.formats import warc
    from sources.formats.readers import TruncatedTail

    count("commoncrawl: WARC records")
    block = ("\r\n".join([status] + headers) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
    head = [f"WARC-Type: {kind}"] + ([f"WARC-Target-URI: {uri}"] if uri is not None else [])
    head += ([f"WARC-Date: {date}"] if date is not None else []) + ([language] if language else [])
    record = ("\r\n".join(["WARC/1.0"] + head + [f"Content-Length: {len(block)}"]) + "\r\n\r\n").encode() + block
    config = commoncrawl.CommonCrawlConfig(min_words=1, min_sentences=1, min_title_chars=1)
    try:
        items = list(warc.WarcFileReader(io.BytesIO(gzip.compress(record + b"\r\n\r\n")), "f.warc.gz", 1 << 20, 1 << 16))
    except RejectRecord as exc:
        assert exc.reason in REJECT_REASONS
        return
    for item in items:
        if isinstance(item, TruncatedTail):
            continue
        parsed = outcome(commoncrawl.parse_record, item.data, config)
        if isinstance(parsed, commoncrawl.WebPage) and parsed.title and parsed.passage:
            assert_pair_fits(commoncrawl.make_web_pair(commoncrawl.kept_page(parsed, config)))


@given(st.sampled_from(["dolma-wget-sample-0000.warc.gz", "CC-MAIN-20200808165417-20200808195417-00395.excerpt.warc.gz"]),
       st.booleans(), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255), st.integers(0, 40)), min_size=1,
                               max_size=12), st.floats(0.01, 1))
def test_commoncrawl_any_damaged_warc_file_is_records_a_truncated_tail_or_a_reject(name, plain, damage, keep):
    import gzip
    import io
    import pathlib

    from sources.formats import warc

    count("commoncrawl: damaged WARC files")
    path = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "commoncrawl" / name
    if not path.exists():
        return
    data = bytearray(path.read_bytes())
    data = bytearray(gzip.decompress(bytes(data))) if plain else data
    data = data[: max(1, int(len(data) * keep))]
    for where, value, width in damage:  # overwrite, cut out or insert bytes anywhere
        at = int(where * (len(data) - 1))
        if width == 0:
            data[at] = value
        elif value % 2:
            del data[at:at + width]
        else:
            data[at:at] = bytes([value]) * width
    try:
        list(warc.WarcFileReader(io.BytesIO(bytes(data)), name, 1 << 20, 1 << 16))
    except RejectRecord as exc:
        assert exc.reason in REJECT_REASONS


@given(TEXT, st.binary(max_size=300), st.integers(1, 40))
def test_web_text_cleaners_return_text_for_any_input(text, raw, max_words):
    from sources.text import web_text

    count("web text cleaners: texts")
    cleaned = web_text.clean_text(text)
    assert isinstance(cleaned, str) and "\r" not in cleaned and cleaned == cleaned.strip()
    lines = web_text.prose_lines(cleaned)
    passage = web_text.passage_of(lines, max_words)
    assert len(passage.split()) <= max_words and all(line.strip() for line in lines)
    decoded, how = web_text.decode_html(raw, "utf-8")
    assert isinstance(decoded, str) and how
