"""Common Crawl parsing without Beam: WARC reading, HTTP, charsets, titles, passages, rules, bad input.

Inputs are the three real WARCs in ../shared/data/commoncrawl, records rewritten from them (a
real page re-served gzip'd, chunked, under a lying charset), and records written in code by
sources.demo_inputs.commoncrawl's writer.
"""

import gzip
import io
import os
import subprocess
import sys
import zlib

import pytest

import schemas.reasons
from sources import commoncrawl
from sources.demo_inputs.commoncrawl import capture, http_response, page, warc_record, warcinfo, write_warc
from sources.errors import RejectRecord
from sources.formats import http_message, warc
from sources.formats.readers import InputReadError, TruncatedTail
from sources.text.web_text import (Site, decode_html, is_generic_title, passage_of, prose_lines, sentences,
                                   split_site_name)

CC = "commoncrawl/CC-MAIN-20200808165417-20200808195417-00395.excerpt.warc.gz"
IA = "commoncrawl/IAH-20080430204825-00000-blackbook.part1-of-2.warc.gz"
WGET = "commoncrawl/dolma-wget-sample-0000.warc.gz"
CONFIG = commoncrawl.CommonCrawlConfig()


def read_all(data: bytes, path="x.warc.gz", config=CONFIG):
    return list(warc.WarcFileReader(io.BytesIO(data), path, config.max_record_bytes, config.max_html_bytes))


def parse(record_bytes: bytes, config=CONFIG):
    """One WARC record's bytes through the reader and the parser, as the pipeline does it."""
    (raw,) = [r for r in read_all(gzip.compress(record_bytes), config=config) if not isinstance(r, TruncatedTail)]
    return commoncrawl.parse_record(raw.data, config)


def response(uri, body, **kwargs):
    return warc_record("response", uri, http_response(body, **kwargs))


def real_response(shared_data, name, uri_part):
    """A real response record's HTTP block (head + body) from a sample, found by its URI."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(shared_data / name, "rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response, parse_http=False):
            if uri_part in (record.headers.get("WARC-Target-URI") or ""):
                return record.reader.read()
    raise AssertionError(f"no response for {uri_part}")


ARTICLE = page("How tides work", [
    "Tides are the slow rise and fall of the sea that happens twice a day on most coasts. They are caused mainly "
    "by the gravity of the Moon, with a smaller pull from the Sun.",
    "The Moon pulls the water on the near side of the Earth a little more than the Earth itself. Two bulges of "
    "water form, and the planet turns beneath them every day.",
    "When the Sun and the Moon line up, their pulls add up and the tides are larger. These are called spring "
    "tides, and they come twice a month.",
])


# ---- reading WARC files ----

@pytest.mark.parametrize("name, records, types, crawl", [
    (CC, 50, {"warcinfo": 1, "request": 17, "response": 16, "metadata": 16}, "CC-MAIN-2020-34"),
    (IA, 411, {"warcinfo": 1, "response": 152, "request": 129, "metadata": 129}, "IAH"),
    (WGET, 48, {"warcinfo": 1, "request": 22, "response": 22, "metadata": 1, "resource": 2}, "dolma-wget-sample"),
])
def test_real_files_give_one_raw_record_per_warc_record(shared_data, name, records, types, crawl):
    raws = read_all((shared_data / name).read_bytes(), str(shared_data / name))
    decoded = [warc.decode(r.data) for r in raws]
    assert len(raws) == records and [r.position for r in raws] == list(range(1, records + 1))
    counts = {}
    for record in decoded:
        counts[record.get("warc-type")] = counts.get(record.get("warc-type"), 0) + 1
    assert counts == types
    assert {r.get(warc.CRAWL) for r in decoded[1:]} == {crawl}
    # only responses carry block bytes; the rest travel as headers
    assert all(not r.block for r in decoded if r.get("warc-type") != "response")


def test_every_piece_of_a_cut_file_gets_the_same_crawl(shared_data):
    """The real Heritrix file cut in two at a record: the second piece has no warcinfo record."""
    data = (shared_data / IA).read_bytes()
    raws = read_all(data, str(shared_data / IA))
    cut = raws[len(raws) // 2].offset
    first = read_all(data[:cut], "in/IAH-20080430204825-00000-blackbook.part1-of-2.warc.gz")
    second = read_all(data[cut:], "in/IAH-20080430204825-00000-blackbook.part2-of-2.warc.gz")
    assert warc.decode(first[0].data).get("warc-type") == "warcinfo" != warc.decode(second[0].data).get("warc-type")
    assert {warc.decode(r.data).get(warc.CRAWL) for r in first + second} == {"IAH"}


@pytest.mark.parametrize("name, crawl", [
    ("crawl-data/CC-MAIN-2020-34/segments/1596439738015.38/warc/CC-MAIN-20200808165417-20200808195417-00395.warc.gz",
     "CC-MAIN-2020-34"),
    ("IAH-20080430204825-00000-blackbook.warc.gz", "IAH"),
    ("WEB-20240101000000000-00042-crawler01.example.org.warc.gz", "WEB"),
    ("sample-00001.warc.gz", "sample"),
    ("my-crawl.part3-of-9.warc", "my-crawl"),
    ("pages.warc.zst", "pages"),
])
def test_crawl_names_are_the_stable_part_of_the_file_name(name, crawl):
    assert warc.crawl_of(f"gs://bucket/dumps/{name}", {}) == crawl


def test_common_crawl_metadata_language_rides_on_its_response(shared_data):
    decoded = [warc.decode(r.data) for r in read_all((shared_data / CC).read_bytes())]
    hints = [commoncrawl.language_hint(r) for r in decoded if r.get("warc-type") == "response"]
    assert sorted(hints) == sorted(["zh"] * 11 + ["de"] * 2 + ["ru", "nl", "en"])  # PROVENANCE.md's cld2 mix


def test_warc_identified_content_language_wins_and_is_mapped_to_iso_639_1():
    record = warc.decode(warc.encode(b"WARC/1.0", [(b"WARC-Identified-Content-Language", b"deu,eng")],
                                     {warc.CLD2: '{"reliable":true,"languages":[{"code":"en"}]}'}, b""))
    assert commoncrawl.language_hint(record) == "de"
    unreliable = warc.decode(warc.encode(b"WARC/1.0", [], {warc.CLD2: '{"reliable":false,"languages":[{"code":"en"}]}'},
                                         b""))
    assert commoncrawl.language_hint(unreliable) == ""


def test_a_file_cannot_set_the_fields_the_reader_adds():
    spoof = warc_record("response", "http://x.example/", http_response(ARTICLE),
                        extra=[("ccpairs-omitted", "record_too_large"), ("ccpairs-crawl", "CC-MAIN-1999-01")])
    (raw,) = read_all(gzip.compress(warcinfo() + spoof))[1:]
    record = warc.decode(raw.data)
    assert record.get(warc.OMITTED) == "" and record.get(warc.CRAWL) == "CC-MAIN-2024-22"
    assert isinstance(commoncrawl.parse_record(raw.data), commoncrawl.WebPage)


def test_plain_warc_and_one_gzip_stream_read_like_members(shared_data):
    members = (shared_data / WGET).read_bytes()
    plain = gzip.decompress(members)
    one_stream = gzip.compress(plain)
    as_members = [r.data for r in read_all(members)]
    assert [r.data for r in read_all(plain, "x.warc")] == as_members
    assert [r.data for r in read_all(one_stream)] == as_members


def test_truncated_gzip_member_is_one_truncated_tail_after_the_good_records(shared_data):
    data = (shared_data / CC).read_bytes()
    items = read_all(data[: len(data) // 2])
    tails = [i for i in items if isinstance(i, TruncatedTail)]
    assert len(tails) == 1 and items[-1] is tails[0]
    assert 15 <= len(items) - 1 < 50 and "record" in tails[0].detail


def test_garbage_between_records_ends_the_file_with_a_truncated_tail(shared_data):
    data = (shared_data / CC).read_bytes()
    cut = len(data) // 2
    items = read_all(data[:cut] + os.urandom(300) + data[cut:])
    assert isinstance(items[-1], TruncatedTail) and "unread" in items[-1].detail
    assert sum(isinstance(i, TruncatedTail) for i in items) == 1


def test_a_corrupt_byte_inside_a_record_ends_the_file_with_a_truncated_tail(shared_data):
    """Found by fuzzing: fastwarc raised its OSError from inside a record's block, past the reader."""
    data = bytearray((shared_data / WGET).read_bytes())
    data[int(0.75 * (len(data) - 1))] = 0
    items = read_all(bytes(data))
    assert isinstance(items[-1], TruncatedTail) and sum(isinstance(i, TruncatedTail) for i in items) == 1
    assert 20 < len(items) < 48


@pytest.mark.parametrize("data", [b"", gzip.compress(b"", mtime=0), b"hello, this is not a WARC\n" * 40,
                                  gzip.compress(b"<html>not a warc</html>" * 40, mtime=0), os.urandom(2000)],
                         ids=["empty", "empty-gzip", "text", "gzip-html", "random"])
def test_a_file_that_is_not_a_warc_is_refused_before_any_record(data):
    with pytest.raises(RejectRecord) as exc:
        warc.WarcFileReader(io.BytesIO(data), "x.warc.gz", 1 << 20, 1 << 19)
    assert exc.value.reason == schemas.reasons.REJECT_NOT_A_WARC


def test_a_failing_read_propagates_and_is_not_taken_for_a_broken_file(shared_data):
    data = (shared_data / CC).read_bytes()

    class Failing(io.RawIOBase):
        def __init__(self):
            self._inner, self._reads = io.BytesIO(data), 0

        def readable(self):
            return True

        def read(self, size=-1):
            self._reads += 1
            if self._reads > 1:
                raise OSError("connection reset")
            return self._inner.read(min(size, 20000) if size and size > 0 else 20000)

    with pytest.raises(InputReadError):
        list(warc.WarcFileReader(warc.guarded(Failing()), "x.warc.gz", 1 << 20, 1 << 19))


def test_a_record_over_the_cap_is_skipped_and_counted_without_being_read_whole(tmp_path):
    """A 64 MiB response (a gzip member of ~64 KiB) under a 1 MiB cap: the reader's peak memory grows
    by far less than the record (it is skipped on the stream)."""
    big = warc_record("response", "http://big.example/", http_response(b"<html><title>x</title>" + b" " * (64 << 20)))
    path = write_warc(str(tmp_path / "big.warc.gz"), [warcinfo(), big, response("http://small.example/", ARTICLE)])
    del big
    script = f"""
import resource, sys
sys.path.insert(0, {str(os.getcwd())!r})
from sources import commoncrawl
from sources.formats import warc
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
items = list(warc.WarcFileReader(open({path!r}, "rb"), "big.warc.gz", 1 << 20, 1 << 19))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
kinds = [type(commoncrawl.parse_record(i.data)).__name__ + ":" + getattr(commoncrawl.parse_record(i.data), "reason", "") for i in items]
print(grown, kinds)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    out = done.stdout.split(" ", 1)
    grown_kib, kinds = int(out[0]), out[1]
    assert "Skipped:record_too_large" in kinds and "WebPage:" in kinds
    assert grown_kib < 16 << 10  # KiB: the 64 MiB record never sat in memory


# ---- HTTP ----

def test_broken_http_headers_are_invalid_http_rejects():
    for block in (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + b"X" * 100,  # the header block never ends
                  b"HTTTP/1.1 two hundred\r\n\r\n<html></html>",
                  b"\x00\x01garbage\r\n\r\n<html></html>"):
        with pytest.raises(RejectRecord) as exc:
            parse(warc_record("response", "http://x.example/", block))
        assert exc.value.reason == schemas.reasons.REJECT_INVALID_HTTP


def test_response_without_target_uri_is_a_missing_fields_reject():
    with pytest.raises(RejectRecord) as exc:
        parse(warc_record("response", None, http_response(ARTICLE)))
    assert exc.value.reason == schemas.reasons.REJECT_MISSING_FIELDS


def test_gzip_and_chunked_payloads_give_the_same_page_as_the_plain_one(shared_data):
    block = real_response(shared_data, WGET, "maria-antoniak.github.io/2020/03/25/pip.html")
    head, body = http_message.split_head(block)
    url = "https://maria-antoniak.github.io/2020/03/25/pip.html"
    plain = parse(warc_record("response", url, block))
    gz = gzip.compress(body)
    pieces = [gz[i:i + 999] for i in range(0, len(gz), 999)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    coded = head + b"\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    again = parse(warc_record("response", url, coded))
    assert isinstance(plain, commoncrawl.WebPage) and plain.passage and again.passage == plain.passage
    assert again.title == plain.title == "Make Your Project Pippable"


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_compression_bomb_is_bounded_and_dropped(coding):
    import brotli

    zeros = b"\0" * (200 << 20)
    bomb = gzip.compress(zeros, compresslevel=9) if coding == "gzip" else brotli.compress(zeros, quality=5)
    del zeros
    assert len(bomb) < 300_000  # 200 MiB in at most ~200 KiB
    item = parse(response("http://bomb.example/", bomb, headers=[("Content-Encoding", coding)]))
    assert isinstance(item, commoncrawl.Skipped) and item.reason == schemas.reasons.DROP_RECORD_TOO_LARGE
    head = http_message.HttpHead(200, (("content-encoding", coding),))
    with pytest.raises(http_message.PayloadTooLarge):  # decoding stops just past the limit
        http_message.decoded_body(head, bomb, max_bytes=1000, limit=1 << 20)
    small = gzip.compress(b"<p>x</p>") if coding == "gzip" else brotli.compress(b"<p>x</p>")
    assert http_message.decoded_body(head, small, max_bytes=1000, limit=1 << 20) == b"<p>x</p>"


@pytest.mark.parametrize("coding, body", [("gzip", b"\x1f\x8b\x08\x00not gzip at all"), ("br", b"not brotli"),
                                         ("compress", b"\x1f\x9d\x90")])
def test_a_corrupt_or_unknown_payload_coding_is_a_bad_content_encoding_reject(coding, body):
    with pytest.raises(RejectRecord) as exc:
        parse(response("http://x.example/", body, headers=[("Content-Encoding", coding)]))
    assert exc.value.reason == schemas.reasons.REJECT_BAD_CONTENT_ENCODING


def test_common_crawl_payloads_are_not_decoded_twice(shared_data):
    """CC stores bodies decoded and renames the header: X-Crawler-Content-Encoding must be ignored."""
    block = real_response(shared_data, CC, "037426.cn")
    assert b"X-Crawler-Content-Encoding: gzip" in block
    item = parse(warc_record("response", "http://037426.cn/", block), commoncrawl.CommonCrawlConfig(english_only=False))
    assert isinstance(item, commoncrawl.WebPage) and item.passage.startswith("Who Are We?")


# ---- what is no candidate ----


@pytest.mark.parametrize(
    "record, reason",
    [
        (warc_record("request", "http://x.example/", b"GET / HTTP/1.1\r\n\r\n"), schemas.reasons.DROP_WARC_REQUEST),
        (warc_record("metadata", "http://x.example/", b"fetchTimeMs: 5\r\n"), schemas.reasons.DROP_WARC_METADATA),
        (warcinfo(), schemas.reasons.DROP_WARC_INFO),
        (warc_record("revisit", "http://x.example/", b"HTTP/1.1 200 OK\r\n\r\n"), schemas.reasons.DROP_WARC_REVISIT),
        (warc_record("resource", "metadata://wget/log", b"log"), schemas.reasons.DROP_WARC_RESOURCE),
        (warc_record("conversion", "http://x.example/", b"text"), schemas.reasons.DROP_WARC_OTHER),
        (
            warc_record(
                "response",
                "dns:www.archive.org",
                b"20080430204825\nwww.archive.org.\t589\tIN\tA\t207.241.229.39\n",
                content_type="text/dns",
            ),
            schemas.reasons.DROP_DNS_RECORD,
        ),
        (
            response("http://x.example/a.jpg", b"\xff\xd8\xff\xe0" + bytes(300), content_type="image/jpeg"),
            schemas.reasons.DROP_NOT_HTML,
        ),
        (
            response("http://x.example/a.pdf", b"%PDF-1.4\n...", content_type="application/pdf"),
            schemas.reasons.DROP_NOT_HTML,
        ),
        (
            response("http://x.example/a.js", b"var x = 1;", content_type="application/x-javascript"),
            schemas.reasons.DROP_NOT_HTML,
        ),
        (
            response("http://x.example/robots.txt", b"User-agent: *\n", content_type="text/plain"),
            schemas.reasons.DROP_NOT_HTML,
        ),
        (response("http://x.example/old", b"", status="301 Moved Permanently"), schemas.reasons.DROP_HTTP_STATUS),
        (response("http://x.example/gone", ARTICLE, status="404 Not Found"), schemas.reasons.DROP_HTTP_STATUS),
        (
            response("http://x.example/bin", os.urandom(3000).replace(b"<", b"") + b"\x00" * 10),
            schemas.reasons.DROP_BINARY_PAYLOAD,
        ),
    ],
)
def test_records_that_are_no_html_page_are_skipped_with_their_reason(record, reason):
    item = parse(record)
    assert isinstance(item, commoncrawl.Skipped) and item.reason == reason


def test_real_samples_skip_dns_and_non_html_and_keep_html(shared_data):
    items = [commoncrawl.parse_record(r.data) for r in read_all((shared_data / IA).read_bytes())]
    reasons = [i.reason for i in items if isinstance(i, commoncrawl.Skipped)]
    assert reasons.count(schemas.reasons.DROP_DNS_RECORD) == 23
    assert (
        reasons.count(schemas.reasons.DROP_NOT_HTML) == 71 - 1
    )  # every non-HTML 2xx, the 301 robots.txt counts as http_status
    assert reasons.count(schemas.reasons.DROP_HTTP_STATUS) == 14 + 3 + 1
    assert sum(isinstance(i, commoncrawl.WebPage) for i in items) == 41


def test_an_untyped_response_is_html_only_when_it_starts_like_html():
    assert isinstance(parse(response("http://x.example/", ARTICLE, content_type=None)), commoncrawl.WebPage)
    item = parse(response("http://x.example/", b"just some bytes, no markup at all", content_type=None))
    assert isinstance(item, commoncrawl.Skipped) and item.reason == schemas.reasons.DROP_NOT_HTML


# ---- charsets ----

def test_a_lying_charset_header_gives_the_page_not_mojibake():
    text = "Vienna’s coffee houses — «Melange» for everyone."
    html = f"<html><head><title>Café</title></head><body><p>{text}</p></body></html>"
    assert decode_html(html.encode("utf-8"), "iso-8859-1")[0] == html  # declared Latin-1, bytes are UTF-8
    russian = "<html><body><p>Привет, мир. Это тестовая страница.</p></body></html>"
    decoded, how = decode_html(russian.encode("cp1251"), "utf-8")  # declared UTF-8, bytes are cp1251
    assert decoded == russian and how.startswith("detected:")


@pytest.mark.parametrize("name, uri_part, words", [
    (CC, "037426.cn", ["亚洲精品", "KUNSHAN"]),  # http: gb2312
    (CC, "01spb.ru", ["О компании", "пожарной безопасности"]),  # http: windows-1251
    (CC, "003338.cn", ["广东省人民政府"]),  # no http charset: <meta charset="utf-8">
])
def test_real_pages_decode_with_their_charsets(shared_data, name, uri_part, words):
    item = parse(warc_record("response", f"http://{uri_part}/", real_response(shared_data, name, uri_part)),
                 commoncrawl.CommonCrawlConfig(english_only=False))
    text = item.title + item.text
    assert all(word in text for word in words) and "\ufffd" not in text


def test_a_page_without_any_charset_is_detected(shared_data):
    block = real_response(shared_data, CC, "01spb.ru")
    head, body = http_message.split_head(block)
    stripped = body.replace(b"charset=windows-1251", b"").replace(b"charset=\"windows-1251\"", b"")
    decoded, how = decode_html(stripped, None)
    assert "О компании" in decoded and how.startswith("detected:")


def test_a_page_cut_inside_a_character_still_decodes():
    text = ("Grüße aus Köln. " * 200).encode("utf-8")
    cut = text[: text.index("ö".encode()) + 1]  # half of an "ö"
    assert decode_html(cut, "utf-8")[1] == "utf-8"


# ---- titles, prose, passages ----

@pytest.mark.parametrize("title, site, expected", [
    ("Data Science Crash Course | Maria Antoniak", Site("", "maria-antoniak.github.io"), "Data Science Crash Course"),
    ("Apple - Wikipedia", Site("Wikipedia", "en.wikipedia.org"), "Apple"),
    ("BBC Good Food | How to bake bread", Site("", "www.bbcgoodfood.com"), "How to bake bread"),
    ("Best Pizza in Town – Joe's", Site("", "joes.example"), "Best Pizza in Town"),
    ("Spider-Man: Homecoming", Site("", "movies.example"), "Spider-Man: Homecoming"),
    ("Internet Archive: Details: No Thoroughfare", Site("", "www.archive.org"), "No Thoroughfare"),
    ("Re: Jack Straw at Autzen", Site("", "forum.example"), "Jack Straw at Autzen"),
    ("Chapter 3 - The Long Walk Home", Site("", "books.example"), "Chapter 3 - The Long Walk Home"),
])
def test_site_names_are_split_off_titles(title, site, expected):
    assert split_site_name(title, site) == expected


def test_generic_titles():
    for title in ("Home", "Index of /pub/linux", "404 Not Found", "Untitled Document", "Welcome!", "View Post"):
        assert is_generic_title(title), title
    for title in ("Homemade bread", "Index funds explained", "Welcome to Night Vale (podcast)"):
        assert not is_generic_title(title), title


def test_a_blog_titled_with_its_authors_name_gets_the_posts_h1(shared_data):
    block = real_response(shared_data, WGET, "2018/11/19/data-science-crash-course")
    post = parse(warc_record("response", "https://maria-antoniak.github.io/2018/11/19/ds.html", block))
    home = parse(warc_record("response", "https://maria-antoniak.github.io/",
                             real_response(shared_data, WGET, "maria-antoniak.github.io/>")))
    assert post.title == "Data Science Crash Course: Interview Prep" and home.title == "Maria Antoniak"


def test_prose_lines_keep_prose_and_drop_menus_notices_and_markup():
    text = "\n".join([
        "Home | News | Sport | Weather",
        "We use cookies to improve your experience. Read our cookie policy.",
        "Please enable JavaScript to view the comments.",
        "• Tides rise and fall twice a day on most coasts.",
        "Skin: classic | columns | custom!",
        "The <b>moon</b> pulls the water.",
        "Read more...",
        "Ok.",
        "The Moon pulls the near side of the Earth more than the far side.[1]",
        "A line with a byte no charset could read: caf\ufffd society.",
        "Click here to contribute your audio!",
        "6. Alice's Adventures Under Ground, a facsimile.",
        "5. Alice's Adventures Under Ground, a facsimile.",
    ])
    assert prose_lines(text) == ["Tides rise and fall twice a day on most coasts.",
                                 "The Moon pulls the near side of the Earth more than the far side.",
                                 "6. Alice's Adventures Under Ground, a facsimile."]


def test_passages_are_whole_sentences_up_to_the_word_budget():
    lines = ["One two three. Four five six seven.", "Eight nine ten. Eleven twelve."]
    assert passage_of(lines, 8) == "One two three. Four five six seven."
    assert passage_of(lines, 10) == "One two three. Four five six seven.\nEight nine ten."
    assert passage_of(["One two three four five six seven eight nine ten."], 5) == "One two three four five"
    assert sentences("He met Dr. Smith. Then he left!") == ["He met Dr. Smith.", "Then he left!"]


def test_a_page_gives_title_and_passage_without_markup_scripts_or_boilerplate():
    item = parse(response("https://demo.example/tides", ARTICLE))
    assert item.title == "How tides work"
    assert item.passage.startswith("Tides are the slow rise and fall of the sea")
    for leftover in ("<", "&middot;", "&copy;", "dataLayer", "font-family", "cookies", "Privacy", "Related", "Sports"):
        assert leftover not in item.passage, leftover
    assert commoncrawl.drop_reason(item, CONFIG, is_english=lambda text: True) is None


def test_leftover_entities_and_mojibake_are_repaired():
    body = ("<html><head><title>Caf&amp;eacute; &amp;amp; bar</title></head><body><p>"
            + "The cafÃ© opened in 1685 and it still serves coffee every day. " * 6 + "</p></body></html>")
    item = parse(response("http://x.example/cafe", body.encode("utf-8")))
    assert item.title == "Café & bar" and "café opened" in item.passage and "Ã" not in item.passage


# ---- rules, each on a small page ----

def web_page(**fields):
    base = dict(url="http://x.example/a", url_key="x.example/a", record_id="r", crawl="c", fetched=0, lang_hint="",
                title="A fine title", text="", prose="", passage="")
    base.update(fields)
    return commoncrawl.WebPage(**base)


GOOD = " ".join(["The tide comes in twice a day on this coast and goes out again."] * 6)


@pytest.mark.parametrize("fields, reason", [
    (dict(title=""), schemas.reasons.DROP_NO_TITLE),
    (dict(title="Home"), schemas.reasons.DROP_GENERIC_TITLE),
    (dict(title="Hi"), schemas.reasons.DROP_TITLE_TOO_SHORT),
    (dict(title="buy " * 60), schemas.reasons.DROP_TITLE_TOO_LONG),
    (dict(lang_hint="de"), schemas.reasons.DROP_NON_ENGLISH),
    (dict(passage=""), schemas.reasons.DROP_EMPTY_TEXT),
    (dict(passage="Too short a passage. Really."), schemas.reasons.DROP_TOO_FEW_WORDS),
    (dict(passage=" ".join(["word"] * 60) + "."), schemas.reasons.DROP_TOO_FEW_SENTENCES),
    (dict(text=GOOD + " #a #b #c #d #e #f #g #h #i #j"), schemas.reasons.DROP_SYMBOL_RATIO),
    (dict(text="\n".join(["• an item"] * 19 + [GOOD])), schemas.reasons.DROP_BULLET_LINES),
    (dict(text="\n".join(["A teaser of another story..."] * 4 + [GOOD] * 6)), schemas.reasons.DROP_ELLIPSIS_LINES),
    (dict(prose=GOOD + " Lorem ipsum dolor sit amet."), schemas.reasons.DROP_LOREM_IPSUM),
    (dict(prose=GOOD + " function f() { return 1; }."), schemas.reasons.DROP_CURLY_BRACE),
    (dict(passage=GOOD + " Buy cheap porn here."), schemas.reasons.DROP_BAD_WORDS),
    (dict(title="亚洲精品无码免费视频"), schemas.reasons.DROP_NON_ENGLISH),
])
def test_each_rule_drops_its_page(fields, reason):
    fields = dict(dict(text=GOOD, prose=GOOD, passage=GOOD), **fields)
    assert commoncrawl.drop_reason(web_page(**fields), CONFIG, is_english=lambda text: True) == reason
    assert (
        commoncrawl.drop_reason(web_page(text=GOOD, prose=GOOD, passage=GOOD), CONFIG, is_english=lambda text: True)
        is None
    )


def test_bad_words_match_whole_words_only_and_can_be_kept():
    clean = web_page(text=GOOD, prose=GOOD, passage=GOOD + " A class on the bass guitar, in Scunthorpe.")
    assert commoncrawl.drop_reason(clean, CONFIG, is_english=lambda text: True) is None
    dirty = web_page(text=GOOD, prose=GOOD, passage=GOOD + " Free porn.")
    assert (
        commoncrawl.drop_reason(
            dirty, commoncrawl.CommonCrawlConfig(drop_bad_words=False), is_english=lambda text: True
        )
        is None
    )


def test_without_a_crawler_guess_language_id_reads_the_passage():
    german = web_page(title="Gezeiten", text=GOOD, prose=GOOD, passage=GOOD)
    assert commoncrawl.drop_reason(german, CONFIG, is_english=lambda text: False) == schemas.reasons.DROP_NON_ENGLISH
    assert commoncrawl.drop_reason(web_page(text=GOOD, prose=GOOD, passage=GOOD, lang_hint="en"), CONFIG,
                         is_english=lambda text: False) is None  # the crawler said English


def test_perplexity_rule_is_off_without_a_model_and_drops_with_a_real_kenlm_model(tmp_path):
    assert not any(isinstance(rule, commoncrawl.MaxPerplexity) for rule in commoncrawl.rules(CONFIG))
    assert commoncrawl.perplexity_rule(CONFIG) == "off: no --lm_model"
    pytest.importorskip("kenlm")
    from sources.text.perplexity import load_scorer, normalize_for_lm

    vocabulary = sorted(set(normalize_for_lm(GOOD).split()))
    arpa = tmp_path / "tiny.arpa"
    unigrams = ["-1.0\t<s>\t0", "-1.0\t</s>", "-3.0\t<unk>"] + [f"-1.2\t{word}\t0" for word in vocabulary]
    bigrams = [f"-0.5\t<s> {vocabulary[0]}"]  # KenLM reads models of order 2 and up
    arpa.write_text("\\data\\\nngram 1=%d\nngram 2=1\n\n\\1-grams:\n%s\n\n\\2-grams:\n%s\n\n\\end\\\n"
                    % (len(unigrams), "\n".join(unigrams), "\n".join(bigrams)))
    scorer = load_scorer(str(arpa))
    config = commoncrawl.CommonCrawlConfig(lm_model=str(arpa), max_perplexity=50.0)
    known = web_page(text=GOOD, prose=GOOD, passage=GOOD)
    unknown = web_page(text=GOOD, prose=GOOD, passage=" ".join(["Zygomorphic quokkas vex jabberwocky."] * 15))
    assert scorer.perplexity(known.passage) < 50 < scorer.perplexity(unknown.passage)
    assert commoncrawl.drop_reason(known, config, is_english=lambda text: True) is None
    assert (
        commoncrawl.drop_reason(unknown, config, is_english=lambda text: True) == schemas.reasons.DROP_HIGH_PERPLEXITY
    )


# ---- ids, dates, URLs, settings ----

def test_url_keys_merge_captures_of_one_page():
    same = ["http://www.Example.com:80/a?x=1#top", "https://example.com/a?x=1", "HTTPS://EXAMPLE.COM:443/a?x=1"]
    assert len({commoncrawl.url_key(u) for u in same}) == 1
    assert commoncrawl.url_key("https://example.com/a") != commoncrawl.url_key("https://example.com/b")
    assert commoncrawl.url_key("http://[::1") == "http://[::1"  # unparsable: itself


def test_warc_dates_and_bad_ones():
    assert commoncrawl.warc_date("2020-08-08T17:27:41Z") == 1596907661
    assert commoncrawl.warc_date("2020-08-08T17:27:41.123456Z") == 1596907661
    for bad, reason in (
        ("", schemas.reasons.REJECT_MISSING_FIELDS),
        ("20080430204825", schemas.reasons.REJECT_BAD_FIELD_TYPE),
    ):
        with pytest.raises(RejectRecord) as exc:
            commoncrawl.warc_date(bad)
        assert exc.value.reason == reason


def test_a_page_makes_a_pair_with_crawl_url_and_date():
    item = parse(response("<https://demo.example/tides>", ARTICLE))
    pair = commoncrawl.make_web_pair(commoncrawl.kept_page(item, CONFIG))
    assert pair["query_id"] == "https://demo.example/tides" and pair["passage_id"].endswith("#passage")
    assert pair["created_at"].isoformat() == "2024-05-22T10:00:00+00:00" and pair["lang"] == "en"


URLS_THAT_FORGE_IDS = ["http://x.example/a", "http://x.example/a#passage", "http://x.example/a#passage#passage",
                       "http://y.example/b#top", "http://[bad/c", "http://[bad/c#passage",
                       "http://z.example:x/d#passage", "http://q.example/e?f=#passage", "http://q.example/e%23passage",
                       "http://w.example/g #passage"]


def test_ids_of_a_page_never_equal_another_pages_ids_whatever_its_url_holds():
    """A URL ending in "#passage" once got the query_id of another page's passage_id (and its record two
    outcomes). query_id = the URL without its fragment (no "#"), passage_id = that + "#passage": both
    lead back to the page, and pages with distinct url_keys (one each, as the job keeps them) share no id."""
    pages = {}
    for url in URLS_THAT_FORGE_IDS:
        pair = commoncrawl.make_web_pair(commoncrawl.kept_page(parse(response(url, ARTICLE)), CONFIG))
        pages.setdefault(commoncrawl.url_key(url), []).append(pair)
    owner = {}
    for key, pairs in pages.items():
        for pair in pairs:
            for id_ in (pair["query_id"], pair["passage_id"]):
                assert owner.setdefault(id_, key) == key, f"{id_!r} names pages {owner[id_]!r} and {key!r}"
    for pair in (pair for pairs in pages.values() for pair in pairs):
        assert "#" not in pair["query_id"] and pair["passage_id"] == pair["query_id"] + commoncrawl.PASSAGE_SUFFIX
        assert commoncrawl.page_url(pair["passage_id"]) == pair["query_id"]
    plain = commoncrawl.kept_page(parse(response("https://d.example/t?a=1", ARTICLE)), CONFIG)
    pair = commoncrawl.make_web_pair(plain)  # an ordinary URL keeps the ids it always had
    assert (pair["query_id"], pair["passage_id"]) == ("https://d.example/t?a=1", "https://d.example/t?a=1#passage")


def test_a_target_uri_that_is_only_a_fragment_is_a_reject():
    with pytest.raises(RejectRecord) as exc:
        parse(response("#passage", ARTICLE))
    assert exc.value.reason == schemas.reasons.REJECT_BAD_FIELD_TYPE


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_record_bytes=0), "--max_record_bytes must be at least 1"),
    (dict(min_words=-1), "--min_words must be >= 0"),
    (dict(max_bullet_lines=1.5), "--max_bullet_lines must be a fraction"),
    (dict(min_title_chars=300), "must not exceed --max_title_chars"),
    (dict(max_perplexity=0.0), "--max_perplexity must be positive"),
    (dict(lm_model="/no/such/model.arpa"), "is not a local file"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        commoncrawl.CommonCrawlConfig(**kwargs)


def test_http_dechunk_keeps_what_arrived_and_refuses_no_chunks():
    assert http_message.dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") == b"hello world"
    assert http_message.dechunk(b"5\r\nhello\r\n6\r\n wo") == b"hello wo"
    with pytest.raises(RejectRecord):
        http_message.dechunk(b"not chunked at all")
    raw_deflate = zlib.compressobj(wbits=-15)
    data = raw_deflate.compress(b"<html>x</html>") + raw_deflate.flush()
    head = http_message.HttpHead(200, (("content-encoding", "deflate"),))
    assert http_message.decoded_body(head, data, 1000, 10000) == b"<html>x</html>"


def test_demo_capture_helper_writes_cc_order():
    records = capture("https://d.example/x", ARTICLE)
    assert [r.split(b"\r\n")[1] for r in records] == [b"WARC-Type: request", b"WARC-Type: response",
                                                      b"WARC-Type: metadata"]


# ---- hostile input: no page may hang a worker ----

def deep_page(depth: int) -> bytes:
    """ARTICLE with its whole body inside `depth` unclosed <div>: 50,000 of them once took 39 s in
    resiliparse's main-content extraction, whose time grows with elements x depth."""
    return ARTICLE.replace(b"<body>", b"<body>" + b"<div>" * depth)


HOSTILE_RECORDS = {
    "50,000 nested <div>": lambda: response("http://deep.example/", deep_page(50_000)),
    "<div> left open 42,000 times": lambda: response(
        "http://open.example/", ARTICLE.replace(b"</footer>", b"</footer>" + b"<div>x" * 42_000)),
    "an untyped body of 40 comments": lambda: response("http://comments.example/", b"<!---->" * 40 + b"x",
                                                       content_type=None),
}


def run_child(script: str, timeout: int = 60) -> str:
    """A script in a child process, killed after `timeout` s: a hang fails the test instead of
    holding it (no signal interrupts resiliparse's C code or a regex)."""
    code = f"import sys\nsys.path.insert(0, {os.getcwd()!r})\n" + script
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("name", sorted(HOSTILE_RECORDS))
def test_hostile_html_parses_in_time_through_the_whole_page_path(name, tmp_path):
    """Reader, decode, title, guarded extraction, clean_text, prose_lines, passage_of and every rule,
    as the job runs them, on a page built to be slow: done in well under a second, not minutes."""
    path = write_warc(str(tmp_path / "hostile.warc.gz"), [HOSTILE_RECORDS[name]()])
    out = run_child(f"""
from sources import commoncrawl
from sources.formats import warc
config = commoncrawl.CommonCrawlConfig()
(raw,) = warc.WarcFileReader(open({path!r}, "rb"), "hostile.warc.gz", config.max_record_bytes, config.max_html_bytes)
item = commoncrawl.parse_record(raw.data, config)
reason = commoncrawl.drop_reason(item, config, is_english=lambda text: True)
print(type(item).__name__, reason, getattr(item, "too_deep", None), getattr(item, "passage", "")[:40])
""")
    if name.startswith("an untyped"):
        assert out.split()[:2] == ["Skipped", schemas.reasons.DROP_NOT_HTML]
    else:  # too deep for main content: the plain text still gives the article's passage
        assert out.startswith("WebPage None True Tides are the slow rise and fall"), out


def test_sentence_and_title_splitting_are_linear_on_runs_of_marks_and_spaces():
    """Each was quadratic: a run of 80,000 "!" that ends a line (10 s at 20,000, inside the
    20,000-character text cap; minutes here), "a. " 30,000 times, 50,000 spaces in a title (35 s)."""
    out = run_child("""
from sources.text import web_text
assert web_text.sentences("a b c " + "!" * 80_000) == ["a b c " + "!" * 80_000]
assert web_text.sentences("a b c " + "!" * 80_000 + " d.") == ["a b c " + "!" * 80_000, "d."]
assert web_text.sentences("a. " * 30_000) == [("a. " * 30_000).strip()]
assert web_text.split_site_name("Tides" + " " * 50_000 + "x") == "Tides" + " " * 50_000 + "x"
print("done")
""")
    assert out.strip() == "done"


def test_a_page_nested_deeper_than_max_dom_depth_gets_plain_text_and_is_counted():
    """ARTICLE nests 7 deep (html > body > header > nav > ul > li > a): at --max_dom_depth 7 it gets
    main-content extraction, at 6 the plain text (its prose lines give the same passage)."""
    at_limit = parse(response("http://d.example/", ARTICLE), commoncrawl.CommonCrawlConfig(max_dom_depth=7))
    over = parse(response("http://d.example/", ARTICLE), commoncrawl.CommonCrawlConfig(max_dom_depth=6))
    assert not at_limit.too_deep and at_limit.cleanup == ()
    assert over.too_deep and over.cleanup == ((commoncrawl.PLAIN_TEXT_OVER_MAX_DOM_DEPTH, 1),)
    assert over.passage == at_limit.passage and over.passage.startswith("Tides are the slow rise")
    bold = ARTICLE.replace(b"<body>", b"<body><p>" + b"<b>" * 80_000 + b"</p>")  # under --max_html_bytes
    assert parse(response("http://b.example/", bold)).too_deep
    with pytest.raises(ValueError, match="--max_dom_depth must be at least 1"):
        commoncrawl.CommonCrawlConfig(max_dom_depth=0)


# ---- issue 24: about/donate/contact titles, section labels, repeated sentences, command lines, boilerplate ----

def test_about_donate_and_contact_pages_are_generic_unless_the_site_name_stays():
    archive = Site("Internet Archive", "www.archive.org")
    for title, path in (("Donate", "/donate/"), ("Who We Are", "/about/"), ("About IA", "/about/about.php"),
                        ("Donate Now", "/"), ("Contact Us", "/contact"), ("About the Project", "/about/")):
        assert is_generic_title(title, archive, path), title
    for title, path in (("About the Internet Archive", "/about/"), ("About Internet Archive", "/about/about.php"),
                        ("About a Boy", "/films/about-a-boy"), ("Support Vector Machines", "/notes/svm"),
                        ("Contact lenses and dry eyes: what helps", "/contact"),
                        ("About IA", "/details/ia-report")):
        assert not is_generic_title(title, archive, path), title


def test_a_real_about_page_titled_about_ia_is_dropped_as_generic(shared_data):
    """archive.org's credits page (a real record) re-served as its about page under "About IA"."""
    block = real_response(shared_data, IA, "archive.org/about/credits.php")
    assert b"<title>Internet Archive: Credits</title>" in block
    about = block.replace(b"<title>Internet Archive: Credits</title>", b"<title>Internet Archive: About IA</title>")
    item = parse(warc_record("response", "http://www.archive.org/about/about.php", about))
    assert item.title == "About IA" and not item.text  # refused before extraction
    assert commoncrawl.drop_reason(item, CONFIG) == schemas.reasons.DROP_GENERIC_TITLE
    named = parse(warc_record("response", "http://www.archive.org/about/about.php", block.replace(
        b"<title>Internet Archive: Credits</title>", b"<title>About the Internet Archive</title>")))
    assert named.title == "About the Internet Archive" and named.text


@pytest.mark.parametrize("title, expected, cut", [
    ("Blog - Moving from Paperpile to Zotero", "Moving from Paperpile to Zotero", True),
    ("Blog: Moving from Paperpile to Zotero", "Moving from Paperpile to Zotero", True),
    ("Moving from Paperpile to Zotero | News", "Moving from Paperpile to Zotero", True),
    ("Blog", "Blog", False),
    ("Chapter 3 - The Long Walk Home", "Chapter 3 - The Long Walk Home", False),
    ("News - Spider-Man: Homecoming - Review", "Spider-Man: Homecoming - Review", True),
])
def test_section_labels_are_cut_from_titles(title, expected, cut):
    from sources.text.web_text import strip_section_label

    assert strip_section_label(title) == (expected, cut)


def test_a_real_post_titled_blog_dash_loses_the_label_and_it_is_counted(shared_data):
    block = real_response(shared_data, WGET, "2023/04/11/paperpile-to-zotero")
    old = b">Moving from Paperpile to Zotero</h1>"  # its <title> is the author's name: the title is its <h1>
    assert old in block
    labelled = block.replace(old, b">Blog - Moving from Paperpile to Zotero</h1>")
    url = "https://maria-antoniak.github.io/2023/04/11/paperpile-to-zotero.html"
    item = parse(warc_record("response", url, labelled))
    assert item.title == "Moving from Paperpile to Zotero"
    assert (commoncrawl.TITLE_SECTION_LABEL_CUT, 1) in item.cleaned
    kept = parse(warc_record("response", url, labelled), commoncrawl.CommonCrawlConfig(strip_title_labels=False))
    assert kept.title == "Blog - Moving from Paperpile to Zotero"


def test_a_sentence_repeated_on_a_real_page_is_left_out_of_its_passage_once(shared_data):
    block = real_response(shared_data, IA, "archive.org/details/GratefulDead")
    sentence = "At this time, the Grateful Dead collection is not open to public uploads."
    item = parse(warc_record("response", "http://www.archive.org/details/GratefulDead", block))
    assert item.text.count(sentence) == 2 and item.passage.count(sentence) == 1
    assert (commoncrawl.REPEATED_SENTENCES_DROPPED, 1) in item.cleaned
    kept = parse(warc_record("response", "http://www.archive.org/details/GratefulDead", block),
                 commoncrawl.CommonCrawlConfig(drop_repeated_sentences=False))
    assert kept.passage.count(sentence) == 2
    assert passage_of(["Two two. One two three. One two three!", "Two two."], 20, [0]) == "Two two. One two three.\nTwo two."


def test_command_lines_on_a_real_page_are_left_out_of_its_prose(shared_data):
    """The real "Make Your Project Pippable" page, its commands ending in a full stop (as some pages write them)."""
    block = real_response(shared_data, WGET, "2020/03/25/pip.html")
    commands = [b"python3 -m pip install --user --upgrade twine", b"python3 setup.py sdist bdist_wheel"]
    for command in commands:
        assert command in block
        block = block.replace(command, command + b".")
    url = "https://maria-antoniak.github.io/2020/03/25/pip.html"
    item = parse(warc_record("response", url, block))
    assert "python3" not in item.prose and (commoncrawl.COMMAND_LINES_DROPPED, 2) in item.cleaned
    assert "This is a no nonsense guide to making your Python project installable via pip." in item.passage
    kept = parse(warc_record("response", url, block), commoncrawl.CommonCrawlConfig(drop_command_lines=False))
    assert "python3 setup.py sdist bdist_wheel." in kept.prose


def test_command_lines_and_prose_that_starts_like_one():
    from sources.text.web_text import is_command_line

    for line in ("$ ls -la", "pip install --user twine.", "sudo apt-get install git.", "git clone https://x.org/r.git",
                 "user@host:~/src$ make", "cd ~/projects && make.", "npm install.", "C:\\Users\\me> dir"):
        assert is_command_line(line), line
    for line in ("Make sure the water is cold.", "cd players and vinyl both came back.", "git is a version control system.",
                 "Go to the store.", "python is a snake and a language."):
        assert not is_command_line(line), line


def test_site_boilerplate_keys_need_pages_of_one_site_and_short_lines_fewer():
    config = commoncrawl.CommonCrawlConfig()
    page = lambda url, text: commoncrawl.WebPage(url, commoncrawl.url_key(url), "", "", 0, "", text=text, unit="u")
    lines = commoncrawl.RepeatedLines(config.boilerplate_min_pages)
    long = "A line of real content that the site repeats on two of its pages, word for word."
    pages = [page("http://s.example/1", f"New: Read the Team's Blog!\n{long}\nOne."),
             page("http://s.example/2", f"New: Read the Team's Blog!\n{long}\nTwo."),
             page("https://www.s.example/2#x", "Menu line\nA third capture of page 2."),  # the same page: counts once
             page("http://s.example/3", "Menu line\nThree.")]
    counts = lines.create()
    for p in pages:
        counts = lines.add(counts, commoncrawl.page_lines(p, config))
    found = set(lines.extract(lines.merge([counts, lines.create()])))
    key = commoncrawl.line_key
    assert found == {key("New: Read the Team's Blog!"), key("Menu line")}
    assert {commoncrawl.boilerplate_group(p) for p in pages} == {"u\ts.example"}
