"""Issue 25: the Common Crawl parser's faster paths give what the plain ones gave, record for record.

Each fast path is held to a reference written here the slow, obvious way (the code it replaced):
the bad-word scan, the control-byte count, the cld2 line of a metadata record, WARC header decoding,
and removing a site's boilerplate lines with their keys computed once. The pipeline's in-batch
rules are held to the whole job's counts in tests/pipelines/test_commoncrawl_pipeline.py."""

import random
import re

import pytest

from sources import commoncrawl
from sources.formats import warc
from sources.text import web_quality, web_text
from sources.text.web_badwords import LONGEST_PHRASE, WORDS

_WORD = re.compile(r"\w+(?:[&'\-]\w+)*", re.UNICODE)


def bad_word_reference(text, words, longest):
    tokens = _WORD.findall(text[:web_quality.MAX_CHARS].lower())
    for i, token in enumerate(tokens):
        if token in words:
            return token
        for n in range(2, longest + 1):
            if i + n > len(tokens):
                break
            phrase = " ".join(tokens[i:i + n])
            if phrase in words:
                return phrase
    return None


def test_bad_word_scan_finds_what_the_word_by_word_scan_found():
    rng = random.Random(25)
    vocabulary = sorted({t for w in WORDS for t in w.split()}) + ["the", "ball", "big", "class", "glass", "2", "1"]
    texts = ["A ball gag and a big black dog.", "Classic glass class.", "2 girls 1 cup", "two girls one cup",
             "BALL   SUCKING", "ball-sucking", "a big", "", "big big black", "s&m and s & m"]
    texts += [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for text in texts:
        assert web_quality.bad_word_in(text, WORDS, LONGEST_PHRASE) == bad_word_reference(text, WORDS, LONGEST_PHRASE)
    other = frozenset({"red fox", "fox", "quick brown fox"})
    assert web_quality.bad_word_in("the quick brown fox", other, 3) == "quick brown fox"  # it starts first
    assert web_quality.bad_word_in("a red fox", other, 3) == "red fox"
    assert web_quality.bad_word_in("quick brown foxes", other, 3) is None


def test_control_bytes_are_counted_as_byte_by_byte():
    rng = random.Random(7)
    for _ in range(500):
        body = bytes(rng.choice([9, 10, 12, 13, 1, 2, 27, 31, 32, 65, 200]) for _ in range(rng.randint(0, 300)))
        head = body[:4096]
        expected = b"\x00" in head or sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13)) > len(head) * 0.05
        assert web_text.looks_binary(body) == expected


@pytest.mark.parametrize("block", [
    b"fetchTimeMs: 1\r\nlanguages-cld2: {\"reliable\":true}\r\n",
    b"languages-cld2:\nlanguages-cld2: x\n",  # an empty value, then one
    b"xlanguages-cld2: a\n",  # not at a line start
    b"a\nlanguages-cld2:   \r\nlanguages-cld2: {}\r\n",
    b"outlink: http://a/languages-cld2: b\nlanguages-cld2: c",
    b"no such field here",
])
def test_the_cld2_line_is_the_one_the_multiline_pattern_finds(block):
    expected, found = warc._CLD2_LINE.search(block), warc._cld2_line(block)
    assert (found and (found.span(), found.group(1))) == (expected and (expected.span(), expected.group(1)))


def decode_reference(data):
    end = data.find(b"\r\n\r\n")
    lines = data[:end].split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            try:
                text = value.strip().decode("utf-8")
            except UnicodeDecodeError:
                text = value.strip().decode("latin-1")
            fields.setdefault(name.strip().lower().decode("latin-1"), text)
    return lines[0].decode("latin-1").strip(), fields, data[end + 4:]


@pytest.mark.parametrize("head", [
    b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI:  http://a.example/ \r\nX: a\x1f\r\nx: second",
    b"WARC/1.0 \r\nWARC-Type: response\r\nWARC-Target-URI: http://a.example/\xc3\xa9\r\nno colon line",
    b"WARC/0.17\r\nWARC-Target-URI: http://a.example/\xe9\r\n Folded: \x0bv\x0c",
])
def test_warc_headers_decode_as_line_by_line(head):
    data = head + b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody"
    record = warc.decode(data)
    assert (record.version, record.fields, record.block) == decode_reference(data)


def test_boilerplate_removal_with_keys_computed_once_removes_the_same_lines():
    text = "Menu\n\nA line of prose that the site repeats on every page.\nOwn text 1.\n\n  \nMenu\nOwn text 2."
    page = commoncrawl.WebPage("http://a.example/x", "a.example/x", "r", "c", 0, "", title="T", text=text)
    keys = commoncrawl.page_line_keys(page)
    assert len(keys) == 5 and keys[1] != keys[2] == keys[4]  # non-empty lines; digits read as 0
    prose = "A line of prose that the site repeats on every page."
    boilerplate = frozenset({web_text.line_key("Menu"), web_text.line_key(prose)})
    assert web_text.without_lines(text, boilerplate, keys) == web_text.without_lines(text, boilerplate)
    assert web_text.without_lines(text, boilerplate, keys) == ("\nOwn text 1.\n\n  \nOwn text 2.", 3,
                                                               4 + 4 + len(prose))
    assert web_text.without_lines(text, frozenset({"0" * 16}), keys) == (text, 0, 0)
    config = commoncrawl.CommonCrawlConfig()
    assert commoncrawl.page_lines(page, config, keys) == commoncrawl.page_lines(page, config)
