"""Wikitext -> the plain text a reader sees of an article, section by section.

mwparserfromhell is the reference: its C tokenizer is fast, but it builds a tree of Python
objects for every link, template and tag, ~0.7 s per MB of wikitext on the real sample, where
bz2 decompression takes ~0.04 s. Most of that markup is thrown away (references, templates,
tables) or trivial ([[link|label]]), so the work goes in stages, cheapest first:

1. ``strip_page`` (whole page, regex and bracket matching): HTML comments; ``<ref>``, ``<math>``
   (a bare variable is kept), ``<gallery>`` and the other tags whose content is no prose;
   templates, except the inline ones that render words (``{{convert}}``, ``{{lang}}``,
   ``{{nowrap}}``, dates, …: INLINE_TEMPLATES); ``[[File:]]``, ``[[Category:]]`` and interlanguage
   links, captions with nested links included; magic words; then every link without markup inside
   becomes its label.
2. ``split_sections``: the page cut at heading lines (headings are line syntax in MediaWiki).
3. ``section_text``: tables dropped (line syntax too), then paragraphs rendered one at a time,
   only until the word budget is filled: simple inline templates, external links and HTML tags by
   regex; a paragraph that still holds nested markup goes to mwparserfromhell (``render``), if every
   opening in it closes (else its section is dropped: the parser is quadratic on unclosed ones). Tests
   check that the regex stages give mwparserfromhell's text on every paragraph of the real samples.
   ``tidy`` then removes what removals leave behind ("( ; )", " ,", doubled spaces).

``leftover_markup`` says whether any wiki markup survived; the caller drops such a section.

Every step is linear in its input, whatever the input (issue 22: 80,000 unclosed ``[[File:`` took
minutes): a regex's span ends at the next opening or line end, never a lazy scan to the end of the
page for a closer that may not come; no regex can start again inside a run it has just read; each
bracket is paired once, in one pass (``_closing_ends``, ``_unclosed_openings``).
"""

import html
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import mwparserfromhell
import mwparserfromhell.definitions
from mwparserfromhell.nodes import ExternalLink, HTMLEntity, Tag, Template, Text, Wikilink

from sources.text.normalize import normalize_whitespace

# What a removal leaves behind until the section's text is assembled (private-use characters, never
# in wikitext that matters): GAP where a template or formula stood inside a sentence (that sentence
# is then broken: "such as , or ."), BLOCK where a table or display formula stood on lines of its own
# (an introduction ending in ":" just before it has lost what it introduced).
GAP, BLOCK = "\ue000", "\ue001"


@dataclass(frozen=True)
class CleanOptions:
    """The cleaning rules a caller may turn off (sources.wikipedia.WikipediaConfig sets them)."""

    pronunciations: str = "in_text"  # "in_text": rendered inside a sentence, dropped as asides; "all"; "none"
    broken_sentences: bool = True  # drop a sentence a removed template or formula left broken
    dangling_intros: bool = True  # drop "…are:" whose list or table is gone
    symbol_runs: bool = True  # drop a sentence holding a run of 3+ symbols ("↔±≃↦ℂ")


# ---- stage 1: whole constructs removed before parsing ------------------------------------------

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
# Tags whose content is never prose (or is reference apparatus). Closed, self-closing, or, for an
# opening tag that is never closed, left alone (MediaWiki shows it as text; the guard then drops
# the section).
DROPPED_TAGS = ("ref", "references", "math", "chem", "ce", "gallery", "timeline", "score", "syntaxhighlight",
                "source", "graph", "imagemap", "templatedata", "hiero", "mapframe", "maplink", "inputbox",
                "categorytree", "indicator", "includeonly", "pre", "templatestyles", "charinsert", "table")
# Every span is bounded by the next opening: the attributes may not hold a "<" (40,000 "<ref " with
# no ">" were one scan to the end of the page each), the content not another opening of the same
# tag (an unclosed <ref> costs one scan to the next <ref>, not one to the end of the page).
_DROPPED_TAG = re.compile(r"<(%s)\b[^<>]*?(?:/>|>(?:(?!<\1\b).)*?</\1\s*>)" % "|".join(DROPPED_TAGS), re.S | re.I)
_MATH = re.compile(r"<math\b[^<>]*?(?:/>|>((?:(?!<math\b).)*?)</math\s*>)", re.S | re.I)
_GREEK = {name: chr(code) for name, code in (
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5), ("zeta", 0x3B6),
    ("eta", 0x3B7), ("theta", 0x3B8), ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC),
    ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0), ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4),
    ("phi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394),
    ("Theta", 0x398), ("Lambda", 0x39B), ("Pi", 0x3A0), ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Omega", 0x3A9))}
_GREEK_COMMAND = re.compile(r"\\(%s)(?![A-Za-z])" % "|".join(sorted(_GREEK, key=len, reverse=True)))
_PLAIN_MATH = re.compile(r"^[A-Za-z0-9\u0370-\u03ff .,+\-=()/]{1,40}$")


def _inline_math(match: re.Match) -> str:
    """<math>x</math>, <math>n = 2</math>, <math>\\alpha</math> read as text; any real formula goes,
    leaving GAP where a sentence needed it ("the mean of 3 and 5 is <math>…</math>") and BLOCK where
    it stood on a line of its own (":<math>…</math>", a display formula)."""
    tex = _GREEK_COMMAND.sub(lambda m: _GREEK[m.group(1)], (match.group(1) or "").strip())
    if _PLAIN_MATH.match(tex):
        return tex
    return _removal_mark(match.string, match.start())


def _inline_math_unmarked(match: re.Match) -> str:
    tex = _GREEK_COMMAND.sub(lambda m: _GREEK[m.group(1)], (match.group(1) or "").strip())
    return tex if _PLAIN_MATH.match(tex) else ""


_STRAY_TAG = re.compile(r"</?(?:%s)\b[^<>]*>" % "|".join(DROPPED_TAGS), re.I)  # unpaired: the marker goes
_BRACES = re.compile(r"\{\{|\}\}")
_BRACKETS = re.compile(r"\[\[|\]\]")
_TEMPLATE_NAME = re.compile(r"\{\{\s*(?:template\s*:\s*)?([^|{}<\n]*)", re.I)
_MAGIC_WORD = re.compile(r"__[A-Z]{3,}__")
# Links that show no prose: files, categories, and interlanguage links ([[de:Bier]]).
_LANGUAGE_PREFIXES = frozenset((
    "aa ab ace af ak als am an ang ar arc arz as ast av ay az azb ba bar bat-smg bcl be be-tarask be-x-old bg "
    "bh bi bjn bm bn bo bpy br bs bug bxr ca cbk-zam cdo ce ceb ch chr chy ckb co cr crh cs csb cu cv cy da de "
    "diq dsb dv dz ee el eml en eo es et eu ext fa ff fi fiu-vro fj fo fr frp frr fur fy ga gag gan gd gl glk "
    "gn gom got gu gv ha hak haw he hi hif ho hr hsb ht hu hy hz ia id ie ig ii ik ilo io is it iu ja jbo jv ka "
    "kaa kab kbd kg ki kj kk kl km kn ko koi kr krc ks ksh ku kv kw ky la lad lb lbe lez lg li lij lmo ln lo "
    "lrc lt ltg lv mai map-bms mdf mg mh mhr mi min mk ml mn mo mr mrj ms mt mus mwl my myv mzn na nah nap nds "
    "nds-nl ne new ng nl nn no nov nrm nso nv ny oc om or os pa pag pam pap pcd pdc pfl pi pih pl pms pnb pnt "
    "ps pt qu rm rmy rn ro roa-rup roa-tara ru rue rw sa sah sc scn sco sd se sg sh si simple sk sl sm sn so sq "
    "sr srn ss st stq su sv sw szl ta te tet tg th ti tk tl tn to tpi tr ts tt tum tw ty tyv udm ug uk ur uz ve "
    "vec vep vi vls vo wa war wo wuu xal xh xmf yi yo za zea zh zh-classical zh-min-nan zh-yue zu"
).split())
_DROPPED_PREFIXES = frozenset({"file", "image", "media", "category"}) | _LANGUAGE_PREFIXES
_LINK_PREFIX = re.compile(r"\[\[\s*([A-Za-z][A-Za-z-]*)\s*:")


def _is_dropped_link(text: str, start: int = 0) -> bool:
    """Does the link opening at `start` ("[[…") point at a file, a category or another language?"""
    match = _LINK_PREFIX.match(text, start)
    return bool(match) and match.group(1).lower() in _DROPPED_PREFIXES


def template_name(text: str) -> str:
    """`` Lang-fr `` / ``Template:Birth_date`` -> ``lang-fr`` / ``birth date`` (as MediaWiki matches names)."""
    return " ".join(text.replace("_", " ").split()).lower()


def _outermost(pattern: re.Pattern, text: str) -> List[Tuple[int, int]]:
    """(start, end) of the outermost balanced ``{{…}}`` or ``[[…]]`` spans; unmatched openers stay text."""
    pairs, stack = [], []
    for match in pattern.finditer(text):
        if match.group()[0] in "{[":
            stack.append(match.start())
        elif stack:
            pairs.append((stack.pop(), match.end()))
    pairs.sort()
    outer, covered = [], -1
    for start, end in pairs:
        if start >= covered:
            outer.append((start, end))
            covered = end
    return outer


def _closing_ends(pattern: re.Pattern, text: str) -> Dict[int, int]:
    """{start of an opener: end of the closer that balances it} for every opener that closes, in one
    pass: looking for each opener's closer on its own rescans the text once per unclosed opener
    (80,000 unclosed ``[[File:`` took minutes)."""
    ends, stack = {}, []
    for match in pattern.finditer(text):
        if match.group()[0] in "{[":
            stack.append(match.start())
        elif stack:
            ends[stack.pop()] = match.end()
    return ends


def _dropped_link_spans(text: str) -> List[Tuple[int, int]]:
    """Spans of [[File:…]], [[Category:…]] and interlanguage links (captions may nest links)."""
    spans, covered, ends = [], 0, None
    for match in _LINK_PREFIX.finditer(text):
        if match.start() < covered or match.group(1).lower() not in _DROPPED_PREFIXES:
            continue
        if ends is None:
            ends = _closing_ends(_BRACKETS, text)
        # "[[[File:…": the pass above paired the run's "[[" from its first "[", so this link's "[["
        # may start one "[" after a paired one; from here on both readings meet the same brackets.
        end = ends.get(match.start()) or ends.get(match.start() - 1)
        if end is not None:
            spans.append((match.start(), end))
            covered = end
    return spans


def _cut(text: str, spans: Sequence[Tuple[int, int]], marks: Optional[Sequence[str]] = None) -> str:
    """The text without `spans`; each replaced by its mark when marks are given."""
    if not spans:
        return text
    parts, last = [], 0
    for number, (start, end) in enumerate(spans):
        parts.append(text[last:start])
        if marks is not None:
            parts.append(marks[number])
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _after_word(text: str, start: int) -> bool:
    """Does a letter or digit come just before `start` on its line (spaces skipped)? Then what starts
    there is part of a sentence. The look-back reads only the spaces between it and the text before."""
    j = start
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    if j > 1 and text[j - 2:j] in ("]]", "''"):  # a link or italics close on a word (bold: a title)
        before = text[j - 3] if j > 2 else ""
        return before.isalnum() or before in ("|", ")")
    return j > 0 and text[j - 1].isalnum()


def _at_line_start(text: str, start: int) -> bool:
    """Only indentation (spaces, ":" and list marks) before `start` on its line?"""
    j = start
    while j > 0 and text[j - 1] in " \t:*#;":
        j -= 1
    return j == 0 or text[j - 1] == "\n"


def _removal_mark(text: str, start: int) -> str:
    """What removing a formula at `start` leaves: GAP inside a sentence (after a word, on its line or,
    unindented, at the end of the line before: prose lines are one line), BLOCK on an indented line
    of its own (":<math>…</math>", a display formula), else nothing."""
    if _after_word(text, start):
        return GAP
    if start > 0 and text[start - 1] == "\n" and _after_word(text, start - 1):
        return GAP
    return BLOCK if _at_line_start(text, start) else ""


def _template_cut(text: str, start: int, end: int, options: "CleanOptions") -> Optional[str]:
    """None: the template at text[start:end] stays (it is rendered later); else what replaces it."""
    name = template_name(_TEMPLATE_NAME.match(text, start).group(1))
    if is_pronunciation(name):
        inside = _after_word(text, start)
        if options.pronunciations == "all" or (options.pronunciations == "in_text" and inside):
            return None
        return GAP if inside and options.broken_sentences else ""  # else an aside: "Beer ({{IPAc-en|b|ɪər}}; …)"
    if is_inline_template(name):
        return None
    if options.broken_sentences and _after_word(text, start) and not is_annotation(name, text, start, end):
        return GAP
    return ""


def strip_page(wikitext: str, options: Optional["CleanOptions"] = None) -> str:
    """Remove comments, non-prose tags, templates (bar INLINE_TEMPLATES), files, categories, interlanguage links.

    A template or formula removed from inside a sentence leaves GAP (the sentence is dropped later,
    in ``section_text``, when options.broken_sentences), a display formula leaves BLOCK."""
    options = options or CleanOptions()
    text = _COMMENT.sub("", wikitext) if "<!--" in wikitext else wikitext
    if "<" in text:
        if "<math" in text:
            text = _MATH.sub(_inline_math if options.broken_sentences else _inline_math_unmarked, text)
        text = _DROPPED_TAG.sub("", text)
        text = _STRAY_TAG.sub("", text)
    if "{{" in text:
        spans, marks = [], []
        for start, end in _outermost(_BRACES, text):
            mark = _template_cut(text, start, end, options)
            if mark is not None:
                spans.append((start, end))
                marks.append(mark)
        text = _cut(text, spans, marks)
    if "[[" in text:
        text = _cut(text, _dropped_link_spans(text))
        text = _PLAIN_LINK.sub(_plain_link, text)
    if "__" in text:
        text = _MAGIC_WORD.sub("", text)
    return text


# ---- stage 2: sections ------------------------------------------------------------------------

_HEADING = re.compile(r"^(={1,6})(.+?)(={1,6})[ \t]*$", re.M)


@dataclass(frozen=True)
class RawSection:
    """A heading's wikitext (None for the lead) and the wikitext up to the next heading."""

    index: int  # 0 for the lead, then 1, 2, … for every heading of the page in order
    level: int  # 2 for "== x ==" (1 for the lead's virtual heading… and for "= x =")
    heading: Optional[str]
    body: str


def split_sections(text: str) -> List[RawSection]:
    """The lead and one RawSection per heading line, in page order."""
    sections, last, heading, level = [], 0, None, 1
    for number, match in enumerate(_HEADING.finditer(text)):
        sections.append(RawSection(number, level, heading, text[last:match.start()]))
        left, right = len(match.group(1)), len(match.group(3))
        level = min(left, right)
        heading = "=" * (left - level) + match.group(2) + "=" * (right - level)
        last = match.end()
    sections.append(RawSection(len(sections), level, heading, text[last:]))
    return sections


# ---- stage 3: text of one section ---------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_LIST_LINE = re.compile(r"^[*#:;]")


def drop_tables(text: str) -> str:
    """Remove ``{| … |}`` tables (line syntax; nested ones too). An unclosed table ends with the text."""
    if "{|" not in text:
        return text
    out, depth = [], 0
    for line in text.split("\n"):
        stripped = line.lstrip(" \t:")
        if stripped.startswith("{|"):
            depth += 1
        elif depth:
            if stripped.startswith("|}"):
                depth -= 1
                if not depth:
                    out.extend(("", BLOCK, ""))  # a paragraph of its own where it stood; then a new one
        else:
            out.append(line)
    return "\n".join(out)


def _blocks(text: str) -> List[str]:
    """Blank-line separated blocks; a kept template spanning blank lines ({{quote|…}}) stays whole."""
    out, pending, depth = [], [], 0
    for block in _PARAGRAPH_BREAK.split(text):
        pending.append(block)
        if "{" in block or "}" in block:
            depth += block.count("{{") - block.count("}}")
        if depth <= 0:
            out.append("\n".join(pending))
            pending, depth = [], 0
    if pending:
        out.append("\n".join(pending))
    return out


def _paragraphs(text: str) -> List[str]:
    """Paragraphs; a paragraph's prose lines are one line (as MediaWiki shows them), list and
    indented lines stay lines of their own."""
    out = []
    for block in _blocks(text):
        lines, prose = [], []
        for line in block.split("\n"):
            if _LIST_LINE.match(line) or line.startswith(" "):
                if prose:
                    lines.append(" ".join(prose))
                    prose = []
                lines.append(line)
            elif line.strip():
                prose.append(line.strip())
        if prose:
            lines.append(" ".join(prose))
        if lines:
            out.append("\n".join(lines))
    return out


# Hatnotes typed as text rather than a template (": ''"X" redirects here…''").
_HATNOTE_LINE = re.compile(r'^(?:"[^"\n]{1,100}" redirects here|This article is about|For other uses|For the [^\n]{1,80}, '
                           r'see|Main articles?:|See also:|Further information:|Not to be confused with)[^\n]*\n?', re.M)


def section_text(body: str, max_words: int, options: Optional[CleanOptions] = None) -> str:
    """A section's plain text, rendered paragraph by paragraph until it holds more than max_words words."""
    return section_text_counted(body, max_words, options)[0]


def section_text_counted(body: str, max_words: int,
                         options: Optional[CleanOptions] = None) -> Tuple[str, Dict[str, int]]:
    """section_text, and how many sentences or lines each cleaning rule removed (CLEANUPS)."""
    options = options or CleanOptions()
    words, out = 0, []
    for paragraph in _paragraphs(drop_tables(body)):
        text = render_paragraph(paragraph)
        out.append(text)
        words += len(text.split())
        if words > max_words:
            break
    text, counts = resolve_marks("\n".join(out), options)
    text = tidy(text)
    if _HATNOTE_LINE.search(text):
        text = _HATNOTE_LINE.sub("", text).strip()
    if options.dangling_intros:
        text, dangling = drop_dangling_end(text)
        if dangling:
            counts[DANGLING_INTRO] = counts.get(DANGLING_INTRO, 0) + dangling
    return text, counts


# ---- sentences a removal broke, introductions left dangling, runs of symbols -----------------------

BROKEN_SENTENCE, DANGLING_INTRO, SYMBOL_RUN = "broken_sentence", "dangling_intro", "symbol_run"
CLEANUPS = (BROKEN_SENTENCE, DANGLING_INTRO, SYMBOL_RUN)  # detail counters: cleaned/<name>
# Symbols that are no prose: letterlike symbols (ℂ ℚ ℕ), arrows, mathematical operators, technical,
# box drawing, geometric shapes, dingbats, braille, mathematical alphanumerics, emoji; and the Latin-1
# ones (± × ÷ ° ¬ ¦ § ¶ ©). One or two in a sentence are prose ("5 ± 2", "0 ≤ x ≤ 1"); three in a row,
# spaces or commas between, are a list of symbols or the debris of a formula.
_SYMBOL = "\u00a6\u00a7\u00a9\u00ac\u00ae\u00b0\u00b1\u00b6\u00d7\u00f7\u2100-\u214f\u2190-\u2bff\u2e00-\u2e7f" \
          "\U0001d400-\U0001d7ff\U0001f000-\U0001faff"
# Each repetition reads at least one symbol, and a space or comma can only be followed by a symbol:
# no way to read the same run twice.
_SYMBOL_RUN = re.compile("[%s](?:[ ,]?[%s]){2,}" % (_SYMBOL, _SYMBOL))
_MARKS = re.compile("[%s%s]" % (GAP, BLOCK))
_WORD_CHARACTER = re.compile(r"\w")


def _sentences(line: str) -> List[str]:
    """A line cut into sentences (cut_at_sentence's rule: . ! ? then a space, not after an abbreviation)."""
    out, last = [], 0
    for match in _SENTENCE_END.finditer(line):
        if _ABBREVIATION.search(line, max(0, match.start() - 12), match.start() + 1):
            continue
        out.append(line[last:match.end()])
        last = match.end()
    out.append(line[last:])
    return [piece for piece in out if piece.strip()]


def _broken(sentence: str, options: CleanOptions) -> Optional[str]:
    if GAP in sentence:
        return BROKEN_SENTENCE
    if options.symbol_runs and _SYMBOL_RUN.search(sentence):
        return SYMBOL_RUN
    return None


def resolve_marks(text: str, options: CleanOptions) -> Tuple[str, Dict[str, int]]:
    """GAP, BLOCK and symbol runs -> text: a sentence holding a GAP (or a run of symbols) goes, an
    introduction ending in ":" whose next line is a BLOCK (a table or formula that is gone) goes,
    and the marks go. Linear: each line is cut into sentences once."""
    counts: Dict[str, int] = {}
    has_marks = GAP in text or BLOCK in text
    if not has_marks and not (options.symbol_runs and _SYMBOL_RUN.search(text)):
        return text, counts
    if BLOCK in text:
        text = text.replace(BLOCK, "\n" + BLOCK + "\n")  # a block is a line of its own
    lines: List[Optional[str]] = []  # None: a removed block
    for line in text.split("\n"):
        if line.strip() == BLOCK:
            lines.append(None)
            continue
        if (GAP in line and options.broken_sentences) or (options.symbol_runs and _SYMBOL_RUN.search(line)):
            kept = []
            for sentence in _sentences(line):
                reason = _broken(sentence, options)
                if reason is None:
                    kept.append(sentence)
                else:
                    counts[reason] = counts.get(reason, 0) + 1
            line = "".join(kept)
        if has_marks:
            line = _MARKS.sub("", line) if GAP in line or BLOCK in line else line
            if not _WORD_CHARACTER.search(line):  # "." left of ":<math>…</math>."
                line = ""
        lines.append(line)
    if options.dangling_intros and None in lines:
        _around_blocks(lines, counts)
    return "\n".join(line for line in lines if line), counts  # blocks, and lines left empty, go


def _around_blocks(lines: List[Optional[str]], counts: Dict[str, int]) -> None:
    """In place: the introduction before a removed block goes (its last sentence ends in ":", or in
    no stop at all: "…can be written as" + a formula), and so does a sentence after one that goes on
    from it ("where n is …"). Blocks are None; one pass each way."""
    following = "end"  # what comes after the line looked at: "end", "block" or "text"
    for number in range(len(lines) - 1, -1, -1):
        line = lines[number]
        if line is None:
            following = "block"
            continue
        if not line.strip():
            continue
        if following == "block":
            line, dropped = _drop_intro(line, unfinished=True)
            lines[number] = line
            if dropped:
                counts[DANGLING_INTRO] = counts.get(DANGLING_INTRO, 0) + dropped
        if line.strip():
            following = "text"
    previous = "start"
    for number, line in enumerate(lines):
        if line is None:
            previous = "block"
            continue
        if not line.strip():
            continue
        if previous == "block" and line.lstrip()[:1].islower():
            lines[number] = "".join(_sentences(line)[1:]).strip()
            counts[BROKEN_SENTENCE] = counts.get(BROKEN_SENTENCE, 0) + 1
        previous = "text"


# A sentence that went on into a formula ends in a word that asks for one ("… can be written as",
# "… that is", "… e.g."); a list item that ends in no stop ("Canillo") does not.
_UNFINISHED = re.compile(r"(?:\b(?:is|are|was|were|be|as|by|that|where|of|to|then|gives|yields|equals|namely|"
                         r"thus|hence|so|e\.g\.|i\.e\.|viz\.)|,)\s*$")


def _drop_intro(line: str, unfinished: bool = False) -> Tuple[str, int]:
    """A line without its last sentence when that sentence ends in ":" (an introduction), or, with
    `unfinished`, in a word or comma (it went on into what was removed), and 1; else (line, 0)."""
    tail = line.rstrip()
    if not (tail.endswith(":") or (unfinished and _UNFINISHED.search(tail[-12:]))):
        return line, 0
    sentences = _sentences(line)
    return "".join(sentences[:-1]).rstrip(), 1


def drop_dangling_end(text: str) -> Tuple[str, int]:
    """The text without the introductions ("…are:") it ends with (their list was removed, or cut off by
    the word budget), and how many went. Each line is read once, from the end."""
    if not text.endswith(":"):
        return text, 0
    lines, dropped = text.split("\n"), 0
    while lines:
        line, gone = _drop_intro(lines[-1])
        if not gone:
            break
        dropped += 1
        if line.strip():
            lines[-1] = line
        else:
            lines.pop()
    return "\n".join(lines).rstrip(), dropped


_HEADING_MARKUP = re.compile(r"[\[{<&'(]")


def heading_text(heading: str) -> str:
    """A heading as plain text on one line."""
    if GAP in heading or BLOCK in heading:
        heading = _MARKS.sub("", heading)
    if not _HEADING_MARKUP.search(heading):
        return " ".join(heading.split())
    return " ".join(tidy(render_paragraph(heading)).split())


# A link without markup inside ([[target]], [[target|label]]) is rendered by a regex before parsing
# (strip_page does it for the whole page), as are simple templates, external links and HTML tags:
# most paragraphs then need no parser at all; mwparserfromhell renders whatever is still nested.
_PLAIN_LINK = re.compile(r"\[\[([^\[\]{}<>|\n]+)(?:\|([^\[\]{}<>\n]*))?\]\]")
# The spaces before the label are possessive: the label may start with a space too, and giving them
# back one by one made a run of spaces with no "]" quadratic.
_EXTERNAL_LINK = re.compile(r"\[(?:https?:|ftp:)?//[^\s\[\]<>]*(?:[ \t]++([^\[\]\n]*))?\]", re.I)
_FREE_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\[\]{}|]+", re.I)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.I)
# mwparserfromhell's tokenizer tries each unclosed construct over the rest of the paragraph: 12,000
# unclosed "{{a|" (48,000 characters) take it 150 s, 200 "<span " with no ">" before 48,000
# characters 14 s. So it is only shown paragraphs within these caps in which every opening closes
# (check_parser_input): then its time is linear. Any other paragraph is Unrenderable, and its
# section dropped as markup_left (on the real samples, no paragraph that needs the parser is).
PARSER_MAX_CHARS, PARSER_MAX_TAGS = 50_000, 200
_NEEDS_PARSER = re.compile(r"\[\[|\{\{|<[A-Za-z/!]|://")
_LIST_MARKER = re.compile(r"^[*#:;]+[ \t]*", re.M)
_DEFINITION = re.compile(r"^;([^:\n]*):", re.M)


def _plain_link(match: re.Match) -> str:
    return _link_text(match.group(1), match.group(2))


def _external_label(match: re.Match) -> str:
    return match.group(1) or ""


def render_paragraph(wikitext: str) -> str:
    """Stripped wikitext (plain links already rendered) -> text; mwparserfromhell renders what regexes leave
    (Unrenderable: a paragraph the parser may not be given, see check_parser_input)."""
    if "{{" in wikitext:
        for _ in range(4):  # innermost first: {{nowrap|{{convert|5|km}}}}
            rendered = _SIMPLE_TEMPLATE.sub(_simple_template_text, wikitext)
            if rendered == wikitext or "{{" not in rendered:
                wikitext = rendered
                break
            wikitext = rendered
    if "//" in wikitext:
        wikitext = _EXTERNAL_LINK.sub(_external_label, wikitext)
        if "://" in wikitext:
            wikitext = _FREE_URL.sub("", wikitext)
    if "<" in wikitext:
        wikitext = _HTML_TAG.sub("", _LINE_BREAK.sub(" ", wikitext))
    if _NEEDS_PARSER.search(wikitext):
        check_parser_input(wikitext)
        return render(mwparserfromhell.parse(wikitext, skip_style_tags=True))
    if "&" in wikitext:
        wikitext = html.unescape(wikitext)
    if ";" in wikitext:
        wikitext = _DEFINITION.sub(r";\1 ", wikitext)
    return _LIST_MARKER.sub("", wikitext)


class Unrenderable(ValueError):
    """A paragraph that needs the parser but that it may not be given: over its caps, or with an
    opening that nothing closes (MediaWiki would show it as markup). Its section is dropped."""


# An opening and what closes it: template braces, link brackets, external link brackets, tags.
_OPENINGS = re.compile(r"\{\{|\}\}|\[\[|\]\]|[\[\]]|<(/?)([A-Za-z][^\s/<>]*)([^<>]*)(>?)")
_CLOSER_OF = {"}}": "{{", "]]": "[[", "]": "["}


def check_parser_input(wikitext: str) -> None:
    """Unrenderable unless `wikitext` is within the parser's caps and every ``{{``, ``[[``, ``[`` and
    ``<tag`` in it closes: then the parser's time is linear in it."""
    if len(wikitext) > PARSER_MAX_CHARS or wikitext.count("<") > PARSER_MAX_TAGS:
        raise Unrenderable(f"a paragraph of {len(wikitext)} characters, {wikitext.count('<')} '<'")
    unclosed = _unclosed_openings(wikitext)
    if unclosed:
        start, end = unclosed[0]
        raise Unrenderable(f"{len(unclosed)} openings never closed, the first {wikitext[start:min(end, start + 40)]!r}")


def _unclosed_openings(wikitext: str) -> List[Tuple[int, int]]:
    """(start, end) of each opening no closer pairs with, in order, found in one pass: each closer
    takes the last opening of its kind still waiting (a tag: the last of its name)."""
    brackets: Dict[str, List[Tuple[int, int]]] = {"{{": [], "[[": [], "[": []}
    tags: Dict[str, List[Tuple[int, int]]] = {}
    unclosed = []
    for match in _OPENINGS.finditer(wikitext):
        token = match.group()
        if token in brackets:
            brackets[token].append(match.span())
        elif token in _CLOSER_OF:
            if brackets[_CLOSER_OF[token]]:
                brackets[_CLOSER_OF[token]].pop()
        else:
            _pair_tag(match, tags, unclosed)
    for waiting in (*brackets.values(), *tags.values()):
        unclosed.extend(waiting)
    return sorted(unclosed)


def _pair_tag(match: re.Match, tags: Dict[str, List[Tuple[int, int]]], unclosed: list) -> None:
    """An end tag closes the last open tag of its name; a tag with no ">" is unclosed at once;
    self-closing tags and those the parser takes alone (<br>, <li>, …) wait for nothing."""
    slash, name, attributes, closed = match.groups()
    name, where = name.lower(), match.span()
    if not closed:
        unclosed.append(where)
    elif slash:
        if tags.get(name):
            tags[name].pop()
    elif not attributes.endswith("/") and not mwparserfromhell.definitions.is_single(name):
        tags.setdefault(name, []).append(where)


def render_with_parser(wikitext: str) -> str:
    """The same text through mwparserfromhell alone (the reference the fast paths are tested against)."""
    return render(mwparserfromhell.parse(wikitext, skip_style_tags=True))


# ---- rendering nodes ----------------------------------------------------------------------------

# Tags rendered as nothing (those not removed by strip_page: inside kept templates, or unclosed).
_SILENT_TAGS = frozenset(DROPPED_TAGS) | {"hr"}
_LINE_BREAK_TAGS = frozenset({"br"})
_LIST_MARKERS = frozenset({"li", "dt", "dd"})


def render(code) -> str:
    """mwparserfromhell Wikicode -> text: link labels, rendered inline templates, tag contents."""
    out = []
    for node in code.nodes:
        kind = type(node)
        if kind is Text:
            out.append(node.value)
        elif kind is Wikilink:
            out.append(_link_label(node))
        elif kind is Template:
            out.append(_template_node_text(node))
        elif kind is Tag:
            out.append(_tag_text(node))
        elif kind is HTMLEntity:
            out.append(node.normalize())
        elif kind is ExternalLink:
            out.append(render(node.title).strip() if node.brackets and node.title else "")
        # Comment, Argument ({{{1}}}), Heading: nothing
    return "".join(out)


def _tag_text(node: Tag) -> str:
    name = str(node.tag).strip().lower()
    if name in _SILENT_TAGS:
        return ""
    if name in _LINE_BREAK_TAGS:
        return " "
    if name in _LIST_MARKERS and node.wiki_markup:
        return " " if name == "dd" else ""
    if node.self_closing or node.contents is None:
        return ""
    return render(node.contents)


def _link_label(node: Wikilink) -> str:
    label = None
    if node.text is not None:
        label = render(node.text).strip()
        if not label and str(node.text).strip():  # a label that renders nothing: the title shows
            label = None
    return _link_text(render(node.title), label)


def _link_text(title: str, label: Optional[str]) -> str:
    """What a link shows: its label, else its title ("" for a pipe trick label: [[Paris, Texas|]] shows "Paris")."""
    title = title.strip()
    if ":" in title and _is_dropped_link("[[" + title):
        return ""
    if label is not None:
        label = label.strip()
        return label or _pipe_trick(title.lstrip(":").split(":", 1)[-1])
    title = title.lstrip(":")
    if ":" in title and _is_dropped_link("[[" + title):  # [[:File:x.jpg]] shows the file's page name: no prose
        return ""
    if "#" in title:  # [[Page#Section]] shows "Page#Section": keep the page, or the section for [[#Section]]
        page, _, section = title.partition("#")
        title = page or section
    return title


def _pipe_trick(title: str) -> str:
    """What ``[[Paris, Texas|]]`` shows: the title up to its first comma or, when it ends in ")", up
    to its first "(" and the spaces before it (the rule of the regex ``\\s*\\(.*\\)$|,.*$``, on the
    last line). Found with str.find: that regex was tried from every "(", each try to the end."""
    body = title[:-1] if title.endswith("\n") else title
    line_start = body.rfind("\n") + 1
    cut = body.find(",", line_start)
    if cut < 0:
        cut = len(body)
    if body.endswith(")"):
        bracket = body.find("(", line_start)
        if 0 <= bracket < cut:
            cut = len(body[:bracket].rstrip())
    return title if cut == len(body) else title[:cut] + title[len(body):]


# ---- templates that render words ----------------------------------------------------------------

_MUSIC = {"flat": "♭", "b": "♭", "sharp": "♯", "#": "♯", "natural": "♮", "doubleflat": "𝄫", "doublesharp": "𝄪"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_RANGE_WORDS = {"-": "–", "–": "–", "to": " to ", "and": " and ", "or": " or ", "x": " × ", "×": " × ",
                "by": " by ", "+/-": " ± ", "to(-)": " to ", "and(-)": " and "}
_UNITS = {"km2": "km²", "sqkm": "km²", "m2": "m²", "sqmi": "sq mi", "sqft": "sq ft", "ft2": "sq ft", "acre": "acres",
          "C": "°C", "F": "°F", "K": "K", "kmh": "km/h", "km/h": "km/h", "mph": "mph", "m3": "m³", "cuft": "cu ft",
          "ft3": "cu ft", "e6km2": "million km²", "e6sqmi": "million sq mi", "e3km2": "thousand km²",
          "e6acre": "million acres", "e3acre": "thousand acres", "impgal": "imperial gallons", "USgal": "US gallons"}


class TemplateArgs(NamedTuple):
    """A template's parameters as text: positional values in order, named ones by name."""

    values: List[str]
    named: Dict[str, str]


def _nth(n: int) -> Callable[[TemplateArgs], str]:
    def pick(args: TemplateArgs) -> str:
        return args.values[n] if len(args.values) > n else ""
    return pick


def _last(args: TemplateArgs) -> str:
    return args.values[-1] if args.values else ""


def _number(value: str) -> str:
    """1996 -> 1,996 as {{convert}} shows it."""
    return f"{int(value):,}" if value.isdigit() and len(value) >= 4 else value


def _convert(args: TemplateArgs) -> str:
    values = [_number(v) for v in args.values if v]
    if len(values) >= 4 and values[1] in _RANGE_WORDS:
        amount, unit = _number(values[0]) + _RANGE_WORDS[values[1]] + values[2], values[3]
    elif len(values) >= 2:
        amount, unit = values[0], values[1]
    else:
        return values[0] if values else ""
    return f"{amount} {_UNITS.get(unit, unit)}"


def _date(args: TemplateArgs) -> str:
    """{{birth date|1990|5|3}} -> "May 3, 1990" ("3 May 1990" with df=y)."""
    numbers = [v for v in args.values if v.isdigit()][:3]
    if not numbers:
        return ""
    if len(numbers) < 3 or not (1 <= int(numbers[1]) <= 12):
        return numbers[0]
    year, month, day = numbers[0], _MONTHS[int(numbers[1]) - 1], str(int(numbers[2]))
    return f"{day} {month} {year}" if args.named.get("df", "").lower() in ("y", "yes") else f"{month} {day}, {year}"


def _as_of(args: TemplateArgs) -> str:
    alt = args.named.get("alt", "")
    if alt:
        return alt
    values = [v for v in args.values if v]
    if not values:
        return ""
    date = values[0]
    if len(values) >= 2 and values[1].isdigit() and 1 <= int(values[1]) <= 12:
        date = f"{_MONTHS[int(values[1]) - 1]} {values[0]}"
    prefix = "as of" if args.named.get("lc", "").lower() in ("y", "yes") else "As of"
    return f"{prefix} {date}"


def _frac(args: TemplateArgs) -> str:
    values = [v for v in args.values if v]
    if len(values) == 3:
        return f"{values[0]} {values[1]}/{values[2]}"
    if len(values) == 2:
        return f"{values[0]}/{values[1]}"
    return f"1/{values[0]}" if values else ""


def _harvard(args: TemplateArgs) -> str:
    """{{harvtxt|Boolos|Jeffrey|1974}} -> "Boolos & Jeffrey (1974)", as the citation reads in prose."""
    values = [v for v in args.values if v]
    authors = [v for v in values if not v[:1].isdigit()][:4]
    years = [v for v in values if v[:1].isdigit()][:1]
    if not authors:
        return ""
    names = (authors[0] + " et al." if len(authors) > 3 else
             " & ".join([", ".join(authors[:-1]), authors[-1]]) if len(authors) > 1 else authors[0])
    return f"{names} ({years[0]})" if years else names


def _ship(prefix: str) -> Callable[[TemplateArgs], str]:
    return lambda args: " ".join(v for v in (prefix, _first(args)) if v)


def _with_named(first: Callable[[TemplateArgs], str], key: str) -> Callable[[TemplateArgs], str]:
    """The named parameter when given (``lt=`` of {{ill}}), else `first`."""
    return lambda args: args.named.get(key, "") or first(args)


def _constant(text: str) -> Callable[[TemplateArgs], str]:
    return lambda args: text


def _money(symbol: str) -> Callable[[TemplateArgs], str]:
    return lambda args: symbol + _nth(0)(args) if _nth(0)(args) else ""


_first, _second = _nth(0), _nth(1)
INLINE_TEMPLATES: Dict[str, Callable[[TemplateArgs], str]] = {
    # the words themselves
    **dict.fromkeys(("nowrap", "nobr", "nobreak", "small", "smaller", "big", "larger", "midsize", "sup", "sub",
                     "smallcaps", "small caps", "sc", "sc1", "abbr", "not a typo", "not typo", "proper name",
                     "visible anchor", "vanchor", "nihongo", "flag", "flagcountry", "flagu", "math", "mvar",
                     "var", "em", "strong", "keypress", "kbd", "tooltip", "mono", "code", "linktext", "wikt-lang"),
                    _first),
    "lang": _second, "transl": _last, "chem": lambda args: "".join(args.values),
    "angbr": lambda args: f"⟨{_first(args)}⟩", "quote": _with_named(_first, "text"),
    **dict.fromkeys(("harvtxt", "harvard citation text", "harvcoltxt"), _harvard),
    **{name: _ship(name.upper()) for name in ("hms", "uss", "hmas", "hmcs", "hmnzs", "sms", "ss", "rms", "usns")}, "transliteration": _last, "resize": _last, "script": _second,
    "ill": _with_named(_first, "lt"), "interlanguage link": _with_named(_first, "lt"),
    "interlanguage link multi": _with_named(_first, "lt"),
    "sortname": lambda args: " ".join(v for v in args.values[:2] if v),
    "lit": lambda args: f'lit. "{_first(args)}"' if _first(args) else "",
    # numbers, dates, units
    **dict.fromkeys(("convert", "cvt"), _convert),
    **dict.fromkeys(("birth date", "birth date and age", "death date", "death date and age", "start date",
                     "end date", "dob", "birth-date", "death-date", "start date and age", "film date"), _date),
    "as of": _as_of,
    **dict.fromkeys(("circa", "c."), lambda args: ("c. " + _first(args)).strip()),
    **dict.fromkeys(("frac", "sfrac", "fraction"), _frac),
    "val": lambda args: " ".join(v for v in (_first(args), args.named.get("u", "")) if v),
    **dict.fromkeys(("us$", "usd"), _money("US$")), **dict.fromkeys(("gbp", "£"), _money("£")),
    **dict.fromkeys(("€", "eur", "euro"), _money("€")), "inr": _money("₹"), "jpy": _money("¥"),
    # characters
    **dict.fromkeys(("nbsp", "thinsp", "hair space", "sp"), _constant(" ")),
    **dict.fromkeys(("ndash", "en dash", "endash", "–"), _constant("–")),
    **dict.fromkeys(("mdash", "em dash", "emdash", "—"), _constant("—")),
    **dict.fromkeys(("snd", "spaced ndash", "spaced en dash", "spnd", "sndash"), _constant(" – ")),
    **dict.fromkeys(("·", "dot", "middot", "dot-sep", "•", "bull", "bullet"), _constant(" · ")),
    "'": _constant("'"), "'s": _constant("'s"), '-"': _constant('"'),
    "' \"": _constant("'\""), "\" '": _constant("\"'"),
    "okina": _constant("ʻ"), "=": _constant("="), "pi": _constant("π"), "shy": _constant(""),
    "zwsp": _constant(""), "wbr": _constant(""), "-": _constant(""), "clear": _constant(""),
    "times": _constant("×"), "x": _constant("×"), "minus": _constant("−"), "plusminus": _constant("±"),
    "degree": _constant("°"), "deg": _constant("°"), "mdashb": _constant("—"), "eqm": _constant("⇌"),
    "spaces": _constant(" "),
    # transcriptions and symbols that are words of a sentence ("the vowel {{IPA|/a/}}")
    **dict.fromkeys(("ipa", "ipa link", "ipal", "ipa symbol", "vr", "var serif", "serif", "ipa2"), _first),
    "ipaslink": lambda args: f"/{_first(args)}/" if _first(args) else "",
    "ipablink": lambda args: f"[{_first(args)}]" if _first(args) else "",
    "music": lambda args: _MUSIC.get(_first(args).lower(), ""),
    "e": lambda args: f"×10^{_first(args)}" if _first(args) else "", "ns": _constant(" "),
    "ov": lambda args: f"OV-{_first(args)}" if _first(args) else "", "mv": _ship("MV"),
    "bibleref": lambda args: " ".join(v for v in args.values[:2] if v),
}


# Pronunciation guides: {{IPAc-en|ˈ|æ|s|k|i}} "/ˈæski/", {{IPA-de|tʃ|}} "[tʃ]", {{respell|ASS|kee}}
# "ASS-kee". Inside a sentence ("named {{IPAc-en|eɪ}}, plural …") they are words of it and are
# rendered; as an aside ("Beer ({{IPAc-en|b|ɪər}}; German: Bier)") they are dropped by default.
_PRONUNCIATION_LABELS = frozenset(("uk", "us", "lang", "pron", "local", "also", "ipa", "us also", "uk also",
                                   "pronunciation", "ca", "au", "nz", "ie", "in"))
_IPAC_SYMBOLS = {"'": "ˈ", ",": "ˌ", "_": " ", "-": "-"}


def _ipa_key(args: TemplateArgs) -> str:
    """{{IPAc-en|ˈ|æ|s}} -> "/ˈæs/": the pieces joined, labels (UK, US, pron, …) left out."""
    pieces = [_IPAC_SYMBOLS.get(v, v) for v in args.values if v and v.lower() not in _PRONUNCIATION_LABELS]
    return f"/{''.join(pieces).strip()}/" if pieces else ""


def _ipa_language(args: TemplateArgs) -> str:
    first = _first(args)
    return f"[{first}]" if first else ""


def _respell(args: TemplateArgs) -> str:
    return "-".join(v.replace("_", " ") for v in args.values if v and v != "'")


def is_pronunciation(name: str) -> bool:
    """{{IPAc-xx}}, {{IPA-xx}}, {{respell}}: a word's pronunciation (not {{IPA}}, a transcription in prose)."""
    return name.startswith(("ipac-", "ipa-")) or name in ("respell", "pronunciation")


def _pronunciation_text(name: str, args: TemplateArgs) -> str:
    if name.startswith("ipac-"):
        return _ipa_key(args)
    if name.startswith("ipa-"):
        return _ipa_language(args)
    return _respell(args) if name == "respell" else ""


# Inline notes and maintenance tags: removed from inside a sentence, they leave it whole
# ("divided{{by whom|date=February 2016}} into" -> "divided into"). Any other template removed from
# inside a sentence leaves a gap ("at {{Coord|13|19|N}}, in the Pacific"), and the sentence is dropped.
_ANNOTATIONS = frozenset((
    "rp", "r", "efn", "refn", "sfn", "sfnp", "sfnm", "harvnb", "harvp", "harv", "harvid", "ref", "note", "nb", "fn",
    "clarify", "clarification needed", "dubious", "when", "who", "which", "where", "whom", "by whom", "by how much",
    "according to whom", "vague", "specify", "sic", "better source", "better source needed", "qualify evidence",
    "dead link", "failed verification", "verify source", "verification needed", "cn", "fact", "disputed inline",
    "update inline", "update after", "original research inline", "or", "weasel inline", "peacock inline",
    "lopsided", "anchor", "inflation-fn", "sister project links", "citation", "webarchive", "wayback",
    "self-published inline",
    "unreliable source?", "irrelevant citation", "examples", "elucidate", "definition needed", "context",
    "clarify timeframe", "as of?", "efn-ua", "efn-lr", "efn-la", "notetag", "cref",
))


def is_annotation(name: str, text: str, start: int, end: int) -> bool:
    """A template that holds no words of the sentence around it: a citation, a footnote, an inline
    maintenance tag (``{{When|date=June 2015}}``, ``{{… needed}}``, ``{{… inline}}``), a language icon."""
    if name in _ANNOTATIONS or name.startswith(("cite", "citation", "sfn", "harv", "#tag", "efn", "ref")):
        return True
    if name.endswith((" needed", " inline", " icon", "?")):
        return True
    return "|date=" in text[start:min(end, start + 200)].replace(" ", "")


def render_template(name: str, args: TemplateArgs) -> str:
    """A kept template's words ({{lang-fr|texte}}: the text); any other template: nothing."""
    renderer = INLINE_TEMPLATES.get(name)
    if renderer is not None:
        return renderer(args)
    if name.startswith("lang-"):
        return _first(args)
    return _pronunciation_text(name, args) if is_pronunciation(name) else ""


def _template_node_text(node: Template) -> str:
    values, named = [], {}
    for param in node.params:
        text = render(param.value).strip()
        if param.showkey:
            named[str(param.name).strip()] = text
        else:
            values.append(text)
    return render_template(template_name(str(node.name)), _numbered(values, named))


# A template with no template, link or tag inside is rendered without the parser.
_SIMPLE_TEMPLATE = re.compile(r"\{\{([^{}\[\]<>]*)\}\}")


def _named_arg(part: str) -> Optional[Tuple[str, str]]:
    """``name = value`` -> (name, value), else None. Split at the first "=", not by a regex: a lazy
    name followed by optional spaces retried every space of a long run ("{{x|a" and 40,000 spaces)."""
    name, equals, value = part.partition("=")
    if not equals or not name:
        return None
    return name.strip() or name[-1], value.strip()


def _simple_template_text(match: re.Match) -> str:
    name, *parts = match.group(1).split("|")
    values, named = [], {}
    for part in parts:
        keyed = _named_arg(part)
        if keyed:
            named[keyed[0]] = keyed[1]
        else:
            values.append(part.strip())
    return render_template(template_name(name.replace("template:", "").replace("Template:", "")),
                           _numbered(values, named))


def _numbered(values: List[str], named: Dict[str, str]) -> TemplateArgs:
    """``{{nowrap|1=Q = It}}``: a numbered parameter is the positional one of its number (up to 9)."""
    for key in [k for k in named if len(k) == 1 and k in "123456789"]:
        position = int(key) - 1
        values.extend([""] * (position + 1 - len(values)))
        values[position] = named.pop(key)
    return TemplateArgs(values, named)


def is_inline_template(name: str) -> bool:
    return name in INLINE_TEMPLATES or name.startswith("lang-") or is_pronunciation(name)


# ---- tidying what removals leave ----------------------------------------------------------------

_BOLD_ITALIC = re.compile(r"'{2,}")
# Each pattern starts at a bracket or a punctuation mark, not at whitespace: tidy runs on every section.
_EMPTY_BRACKETS = re.compile(r"\([\s,;:·–—/-]*\)|\[[\s,;:·–—/-]*\]")
_OPENING_PUNCTUATION = re.compile(r"([(\[])(?:\s*[,;:·–—])+")
# A run of punctuation is read once, whole, and then looks for its bracket: a pattern that could
# start again inside the run rescanned it from every comma ("(see" and 40,000 commas: 42 s).
_PUNCTUATION_RUN = re.compile(r"[,;:·–—](?:\s*[,;:·–—])*(\s*[)\]])?")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([,;:.!?%])(?=\s|$|[\"')\]])")
_REPEATED_COMMA = re.compile(r",(?:\s*,)+")
_DOUBLE_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")  # "Jr.." where an abbreviation ends a sentence (not "...")
_LEADING_PUNCTUATION = re.compile(r"^[ \t,;:=]+", re.M)
_HTML_TAG = re.compile(r"</?(?:span|div|small|big|sup|sub|center|font|abbr|s|u|b|i|em|strong|br|p|cite|q|"
                       r"blockquote|poem|onlyinclude|noinclude|nowiki|code|tt|var|kbd|del|ins|mark|wbr|bdi|"
                       r"section|caption|tr|td|th|ul|ol|li|dl|dt|dd)\b[^<>]*?/?>", re.I)


def _before_bracket(match: re.Match) -> str:
    """Punctuation left just before a closing bracket goes ("(a, ;)" -> "(a)"); any other run stays."""
    return match.group(1)[-1] if match.group(1) else match.group()


def tidy(text: str) -> str:
    """Text as rendered -> text as shipped: no emphasis quotes, no emptied brackets, one space."""
    if "''" in text:
        text = _BOLD_ITALIC.sub("", text)
    if "<" in text:
        text = _HTML_TAG.sub("", text)
    if "(" in text or "[" in text:
        text = _EMPTY_BRACKETS.sub("", text)
        text = _OPENING_PUNCTUATION.sub(r"\1", text)
        text = _PUNCTUATION_RUN.sub(_before_bracket, text)
        text = _EMPTY_BRACKETS.sub("", text)
    text = normalize_whitespace(text)  # from here on, single spaces
    if "( " in text or " )" in text or "[ " in text or " ]" in text:
        text = text.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    if ",," in text or ", ," in text:
        text = _REPEATED_COMMA.sub(",", text)
    if ".." in text:
        text = _DOUBLE_PERIOD.sub(".", text)
    return _LEADING_PUNCTUATION.sub("", text).strip()


# ---- the guard ------------------------------------------------------------------------------------

MARKUP = ("{{", "}}", "[[", "]]", "<ref", "{|", "|}", "|-", "File:", "Image:", "Category:", "thumb|", "__", GAP, BLOCK)


def leftover_markup(text: str) -> Optional[str]:
    """The first piece of wiki markup (MARKUP) left in a text, or None."""
    for marker in MARKUP:
        if marker in text:
            return marker
    return None


# ---- sentences --------------------------------------------------------------------------------

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)|\n")
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:[A-Z]|[a-z]|Mr|Mrs|Ms|Dr|St|Mt|Ft|Jr|Sr|No|Nos|Vol|vs|etc|e\.g|i\.e|c|ca|cf|al|approx|"
    r"lit|fl|b|d|r|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Prof|Fr|Inc|Ltd|Co|Corp|Bros|Jan|Feb|Mar|Apr|Jun|Jul|"
    r"Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|U\.N|D\.C|Ph\.D|op|pp|p|ed|eds|trans|var|sp|ssp|subsp)\.$")


def cut_at_sentence(text: str, max_words: int) -> str:
    """The text up to max_words words, cut after the last sentence end inside the budget
    (at the budget itself when no sentence ends in it)."""
    if len(text.split()) <= max_words:
        return text
    words = list(_WORD.finditer(text))
    limit = words[max_words - 1].end()
    best = None
    for match in reversed(list(_SENTENCE_END.finditer(text, 0, limit + 1))):
        if match.group() == "\n":
            best = match.start()
            break
        if not _ABBREVIATION.search(text, max(0, match.start() - 12), match.start() + 1):
            best = match.end()
            break
    return text[:best if best else limit].rstrip()
