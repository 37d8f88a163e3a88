from sources.text.markdown import clean_markdown, clean_markdown_counted, drop_quoted_lines, markdown_blocks
from sources.text.normalize import (is_link_only, may_be_mojibake, normalize_code, normalize_whitespace,
                                    repair_mojibake, unescape_entities)


def test_entities_including_double_escaped():
    assert unescape_entities("a &gt; b &amp;amp; c") == "a > b & c"


def test_markdown_links_emphasis_and_quotes():
    text = "&gt; quoted\n\nSee **this** and *that* in [the docs](https://example.com/a_(b)) ~~old~~ `x = 1`"
    assert clean_markdown(text) == "quoted\n\nSee this and that in the docs old x = 1"


def test_identifiers_with_underscores_and_arithmetic_survive():
    assert clean_markdown("use snake_case_name and 2*3*4") == "use snake_case_name and 2*3*4"


def test_typed_html_formatting_tags_go_and_their_text_stays():
    assert clean_markdown("&lt;i&gt;not&lt;/i&gt; <B>so</B> <a href=\"http://x.org/?a=1&amp;b#c>thread</a>") == "not so thread"
    assert clean_markdown("line<br/>next <p class='x'>para</p>") == "line\nnext\npara"
    for words in ("a <b and c> d", "if a<b && c>d", "<web> and </joking>", "< webware >"):
        assert clean_markdown(words) == words
    assert clean_markdown("    <i>html in code</i>") == "<i>html in code</i>"


def test_whitespace_is_normalised():
    assert normalize_whitespace("a \t b\r\n\r\n\r\n\r\nc\u200b ") == "a b\n\nc"


def test_link_only():
    assert is_link_only("https://imgur.com/abc")
    assert is_link_only("  www.example.com/x  !")
    assert not is_link_only("have a look at https://example.com it explains it")
    assert not is_link_only("no links here")


def test_quoted_lines_are_dropped_only_when_asked_and_counted():
    text = "&gt; their words\n&gt; more of them\nstill quoted (lazy)\n\nmy reply\n\n    &gt; code, not a quote"
    assert clean_markdown_counted(text, drop_quotes=True) == ("my reply\n\n> code, not a quote", 3)
    assert clean_markdown_counted(text) == ("their words\nmore of them\nstill quoted (lazy)\n\nmy reply\n\n"
                                            "> code, not a quote", 0)
    assert drop_quoted_lines(">!spoiler!<\n>quote") == (">!spoiler!<", 1)


def test_markdown_code_blocks_are_cut_out_verbatim():
    text = "intro  **bold**\n\n    for x in y:\n        print(x)\n\n```py\nA   B\n  C\n```\n~~~\nunclosed\n  fence"
    assert markdown_blocks(text) == [(False, "intro  **bold**\n"), (True, "for x in y:\n    print(x)\n"),
                                     (True, "A   B\n  C"), (True, "unclosed\n  fence")]
    assert clean_markdown(text) == "intro bold\n\nfor x in y:\n    print(x)\n\nA   B\n  C\n\nunclosed\n  fence"
    # an indented line right after a paragraph line continues the paragraph; ```x``` is inline code
    assert markdown_blocks("para\n    more") == [(False, "para\n    more")]
    assert markdown_blocks("```x = 1``` is inline") == [(False, "```x = 1``` is inline")]


def test_normalize_code_trims_line_ends_only():
    assert normalize_code("\n\n  a  =  1  \r\n\tb\u200b\n\n") == "  a  =  1\n\tb"


def test_mojibake_is_repaired_only_where_it_may_be():
    assert repair_mojibake("I donâ\x80\x99t know, passÃ©") == ("I don’t know, passé", True)
    for clean in ("plain ASCII", "naïve café — “quoted” 10 €", "Ã alone"):
        assert repair_mojibake(clean) == (clean, False)
    assert not may_be_mojibake("naïve café") and may_be_mojibake("Ã©")
