from sources.text import clean_markdown, is_link_only, normalize_whitespace, unescape_entities


def test_entities_including_double_escaped():
    assert unescape_entities("a &gt; b &amp;amp; c") == "a > b & c"


def test_markdown_links_emphasis_and_quotes():
    text = "&gt; quoted\n\nSee **this** and *that* in [the docs](https://example.com/a_(b)) ~~old~~ `x = 1`"
    assert clean_markdown(text) == "quoted\n\nSee this and that in the docs old x = 1"


def test_identifiers_with_underscores_and_arithmetic_survive():
    assert clean_markdown("use snake_case_name and 2*3*4") == "use snake_case_name and 2*3*4"


def test_whitespace_is_normalised():
    assert normalize_whitespace("a \t b\r\n\r\n\r\n\r\nc\u200b ") == "a b\n\nc"


def test_link_only():
    assert is_link_only("https://imgur.com/abc")
    assert is_link_only("  www.example.com/x  !")
    assert not is_link_only("have a look at https://example.com it explains it")
    assert not is_link_only("no links here")
