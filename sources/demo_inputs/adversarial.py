"""Adversarial text shapes for every markup family: what makes a cleaner or framer superlinear.

Each shape is a function of a size n (in repeats of its unit) that builds one text:
  - unclosed openers x n: a construct opened and never closed ("**a ", "[[File:", "<ref ");
  - nesting x n: n openers, one word, n closers ("<div>" x n ... "</div>" x n);
  - separators x n: a punctuation or whitespace run ("," x n, "|" x n, "\\n" x n).
A linear cleaner takes about 4x as long on the shape at 4n as at n; a quadratic one 16x.
benchmarks/adversarial_cleaners.py times every cleaner on every shape at 1x, 4x and 16x;
tests/sources/test_adversarial_shapes.py runs the large size of each in CI as a hang guard.
"""

from typing import Callable, Dict, List, Tuple

Shape = Callable[[int], str]


def _unclosed(unit: str) -> Shape:
    return lambda n: unit * n


def _nested(opener: str, closer: str, middle: str = "x") -> Shape:
    return lambda n: opener * n + middle + closer * n


def _after(prefix: str, unit: str) -> Shape:
    return lambda n: prefix + unit * n


# family -> [(name, shape)]; the names are what the benchmark's rows show
FAMILIES: Dict[str, List[Tuple[str, Shape]]] = {
    "markdown": [
        *[(f"unclosed {u!r}", _unclosed(u)) for u in
          ("**a ", "__a ", "~~a ", ">!a ", "*a ", "_a ", "^(a ", "[a](", "![a](", "[a](<", "[a][", "`a ", "***a ",
           "```a\n", "> a\n", "    a\n\n", "http://a.b/( ", "\\")],
        ("nested '> ' quotes", _nested("> ", "", "a\n")),
        ("nested '**' emphasis", _nested("**", "**", "a")),
        ("nested '[' links", _nested("[", "](u)", "a")),
        ("deep list item", _after("a\n", "  ")),
    ],
    "html": [
        *[(f"unclosed {u!r}", _unclosed(u)) for u in
          ("<p>a ", "<code>a ", "<pre>a\n  b ", "<a ", "<a x=y ", "<i>a ", "<script>a ", "<div>", "<b><p>", "<!--a ",
           "&amp;", "&#", "<a href=\"")],
        ("nested <div>", _nested("<div>", "</div>")),
        ("nested <b><i>", _nested("<b><i>", "</i></b>")),
        ("nested <table><tr><td>", _nested("<table><tr><td>", "</td></tr></table>")),
    ],
    "wikitext": [
        *[(f"unclosed {u!r}", _unclosed(u)) for u in
          ("[[File:", "[[a ", "{{a ", "{{a|", "{|a ", "<ref ", "<ref>a ", "<math ", "<gallery ", "<!--a ", "''a ",
           "'''", "{{a\n\nb ", "x <math>y ", "[http://a ", "==a ")],
        ("nested {{a|...}}", _nested("{{a|", "}}")),
        ("nested [[a|...]]", _nested("[[a|", "]]")),
        ("nested <ref><ref>", _nested("<ref>", "</ref>")),
        ("nested {| tables", _nested("{|\n|", "\n|}")),
    ],
    "latex": [
        *[(f"unclosed {u!r}", _unclosed(u)) for u in ("$a ", "\\frac{", "\\textbf{", "$$", "\\% ", "\\\\", "^{")],
        ("nested {}", _nested("{", "}")),
        ("nested \\frac{", _nested("\\frac{", "}{b}")),
    ],
    "punctuation": [
        ("'(see ' then commas", _after("(see ", ",")),
        *[(f"run of {u!r}", _unclosed(u)) for u in
          (",", "|", "-", "(", ")", ". ", "\u2026", " ", "\n", "\t", "a\u200b ", "\u00c3\u00a9a ", " ::: a",
           "BACKGROUND ::: ", "a ... ")],
        ("nested ()", _nested("(", ")")),
    ],
}


def all_shapes() -> List[Tuple[str, str, Shape]]:
    """(family, name, shape) for every shape."""
    return [(family, name, shape) for family, shapes in FAMILIES.items() for name, shape in shapes]


def sized(shape: Shape, chars: int) -> str:
    """The shape at about `chars` characters (at least one unit)."""
    unit = max(1, len(shape(1)) - len(shape(0)))
    return shape(max(1, chars // unit))


def cleaners() -> Dict[str, Callable[[str], object]]:
    """Every transform of input text, by the name the benchmark shows: the ones the sources run."""
    from sources import commoncrawl, semanticscholar, wikipedia
    from sources.text import abstract_text, html_text, langid, latex, markdown, ngrams, normalize
    from sources.text import web_text, wikitext

    config = commoncrawl.CommonCrawlConfig(max_html_bytes=64 << 20)  # the whole shape read, not a capped prefix

    def web_page(html: str):
        """Common Crawl's page path (sources.commoncrawl.read_page: title, depth guard, extraction, clean
        text, prose lines, passage) on the shape as a page's body."""
        page = commoncrawl.WebPage("http://a.example/", commoncrawl.url_key("http://a.example/"), "", "", 0, "")
        body = f"<html><head><title>A page about the tides</title></head><body>{html}</body></html>"
        return commoncrawl.read_page(page, body.encode("utf-8"), "utf-8", config).passage

    return {
        "markdown.clean_markdown": markdown.clean_markdown,
        "clean_markdown(drop_quotes)": lambda text: markdown.clean_markdown(text, drop_quotes=True),
        "normalize.normalize_whitespace": normalize.normalize_whitespace,
        "normalize.repair_mojibake": lambda text: normalize.repair_mojibake(text)[0],
        "html_text.html_to_text": html_text.html_to_text,
        "langid.clean_text": langid.clean_text,
        "wikipedia.page_sections": lambda text: wikipedia.page_sections(text, wikipedia.WikipediaConfig()),
        # issue 24: the rules that read what removals left (a GAP for every comma, a BLOCK at every line end)
        "wikitext.resolve_marks": lambda text: wikitext.resolve_marks(
            text.replace(",", wikitext.GAP).replace("\n", "\n" + wikitext.BLOCK + "\n"), wikitext.CleanOptions()),
        "wikitext.drop_dangling_end": lambda text: wikitext.drop_dangling_end(text.replace("\n", ":\n") + ":"),
        "wikipedia.page_sections(pronunciations=all)": lambda text: wikipedia.page_sections(
            text, wikipedia.WikipediaConfig(pronunciations="all")),
        "semanticscholar.clean_abstract": semanticscholar.clean_abstract,
        "semanticscholar.clean_title": semanticscholar.clean_title,
        "semanticscholar.foreign_script": semanticscholar.foreign_script,
        "abstract_text.not_an_abstract": abstract_text.not_an_abstract,
        "latex.latex_to_text": lambda text: latex.latex_to_text(text)[0],
        "ngrams.drop_copied_runs": lambda text: ngrams.drop_copied_runs(text, text)[0],
        "commoncrawl.read_page": web_page,
        # issue 24
        "web_text.strip_section_label": web_text.strip_section_label,
        "web_text.is_generic_title(site page)": lambda text: web_text.is_generic_title(
            "about " + text, web_text.Site("a", "a.example"), "/about/"),
        "web_text.is_command_line": lambda text: [web_text.is_command_line(line) for line in text.split("\n")],
        "web_text.prose_lines(commands)": lambda text: web_text.prose_lines(text, [0]),
        "web_text.passage_of(repeats)": lambda text: web_text.passage_of(text.split("\n"), 256, [0]),
        "web_text.without_lines": lambda text: web_text.without_lines(text, frozenset(web_text.line_keys(text)[:50])),
        "commoncrawl.page_lines": lambda text: commoncrawl.page_lines(
            commoncrawl.WebPage("http://a.example/", "a.example/", "", "", 0, "", text=text), config),
        "markdown.join_hard_wraps": markdown.join_hard_wraps,
        "clean_markdown_tally(join_wraps)": lambda text: markdown.clean_markdown_tally(text, True, True),
        "html_text.drop_footnote_marks": html_text.drop_footnote_marks,
        "html_text.html_to_text(footnotes)": lambda text: html_text.html_to_text(text, [0]),
    }
