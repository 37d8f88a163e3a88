"""Issue 24, Wikipedia: what removals leave behind, on records from the real samples (../shared/data/wikipedia:
the gensim enwiki 2016 shard), shortened where marked. Gaps left by removed inline templates and formulas,
introductions whose list or table is gone, runs of symbols, and a dump that does not say its language."""

import pytest

import sources.text.wikitext
from schemas import reasons
from sources import wikipedia
from sources.formats.mediawiki_xml import base_language_of, root_language_of

CONFIG = wikipedia.WikipediaConfig()
SHORT = wikipedia.WikipediaConfig(min_passage_chars=10)  # the records below are a sentence or two


def sections(wikitext, config=CONFIG):
    return wikipedia.page_sections_counted(wikitext, config)


def lead(wikitext, config=SHORT):
    kept, drops, cleaned = sections(wikitext, config)
    return (kept[0].text if kept else None), drops, cleaned


# ---- templates that carry words -----------------------------------------------------------------

# "A", section "Use in writing systems / Other languages" (page 290), whole.
A_OTHER_LANGUAGES = (
    "In most languages that use the [[Latin alphabet]], {{angbr|a}} denotes an [[open unrounded vowel]], such as "
    "{{IPA|/[[Open front unrounded vowel|a]]/}}, {{IPA|/[[Open central unrounded vowel|ä]]/}}, or "
    "{{IPA|/[[Open back unrounded vowel|ɑ]]/}}. An exception is [[Saanich dialect|Saanich]], in which {{angbr|a}} "
    "(and the glyph [[Á]]) stands for a [[close-mid front unrounded vowel]] {{IPA|/e/}}.")


def test_ipa_transcriptions_in_a_sentence_are_rendered():
    text, _, cleaned = lead(A_OTHER_LANGUAGES)
    assert text == ("In most languages that use the Latin alphabet, ⟨a⟩ denotes an open unrounded vowel, such as /a/, "
                    "/ä/, or /ɑ/. An exception is Saanich, in which ⟨a⟩ (and the glyph Á) stands for a close-mid front "
                    "unrounded vowel /e/.")
    assert cleaned == {}


@pytest.mark.parametrize("wikitext, expected", [
    # "A" (290), lead, shortened: a pronunciation that is a word of the sentence
    ("'''A''' ([[English alphabet#Letter names|named]] {{IPAc-en|'|eɪ}}, plural ''As'', ''A's'', ''a''s) is the "
     "first letter.", "A (named /ˈeɪ/, plural As, A's, as) is the first letter."),
    # "Asphalt" (657), lead: the second pronunciation follows a word
    ("'''Asphalt''' ({{IPAc-en|ˈ|æ|s|f|æ|l|t}}, occasionally {{IPAc-en|ˈ|æ|ʃ|f|ɔː|l|t}}), also known as "
     "'''bitumen''' is a sticky, black and highly viscous liquid.",
     "Asphalt (occasionally /ˈæʃfɔːlt/), also known as bitumen is a sticky, black and highly viscous liquid."),
    # "Abacus" (655): a language's IPA after the word it transcribes
    ("The word Nepōhualtzintzin {{IPA-nah|nepoːwaɬˈt͡sint͡sin|}} comes from [[Nahuatl]].",
     "The word Nepōhualtzintzin [nepoːwaɬˈt͡sint͡sin] comes from Nahuatl."),
    # "A" (290), English: {{vr}}
    ("However, {{vr|a}} occurs in many common digraphs, particularly {{vr|ai}}, {{vr|au}} and {{vr|oa}}.",
     "However, a occurs in many common digraphs, particularly ai, au and oa."),
    # "Ampere" (772): a numbered parameter
    ("In general, charge ''Q'' is determined by steady current ''I'' flowing for a time ''t'' as "
     "{{nowrap|1=''Q'' = ''It''}}.", "In general, charge Q is determined by steady current I flowing for a time t as "
                                     "Q = It."),
    # "Alkali metal" (666): {{e}}
    ("The mass of the Earth is approximately 5.98{{e|24}}&nbsp;kg.", "The mass of the Earth is approximately "
                                                                     "5.98×10^24 kg."),
])
def test_templates_that_carry_words_are_rendered(wikitext, expected):
    text, _, cleaned = lead(wikitext)
    assert text == expected and cleaned == {}


def test_pronunciation_asides_are_dropped_by_default_and_rendered_with_all():
    # "Achilles" (305), lead, shortened
    wikitext = ("'''Achilles''' ({{IPAc-en|ə|ˈ|k|ɪ|l|iː|z}} {{respell|ə|KIL|eez}}; {{lang-grc|Ἀχιλλεύς}}, "
                "''Akhilleus'', {{IPA-el|akʰilːéu̯s|pron}}) was a Greek hero of the Trojan War.")
    assert lead(wikitext)[0] == "Achilles (Ἀχιλλεύς, Akhilleus) was a Greek hero of the Trojan War."
    everything = wikipedia.WikipediaConfig(pronunciations="all", min_passage_chars=10)
    assert lead(wikitext, everything)[0] == ("Achilles (/əˈkɪliːz/ ə-KIL-eez; Ἀχιλλεύς, Akhilleus, [akʰilːéu̯s]) "
                                             "was a Greek hero of the Trojan War.")
    none = wikipedia.WikipediaConfig(pronunciations="none", min_passage_chars=10)
    assert lead("'''A''' (named {{IPAc-en|'|eɪ}}, plural ''As'') is the first letter. " + LONG, none)[0] == LONG


# ---- sentences a removal broke -------------------------------------------------------------------

LONG = ("The valley was settled by farmers who grew barley and kept sheep on the hills above the river. "
        "Their villages traded wool for salt with the towns of the coast for many centuries.")


@pytest.mark.parametrize("wikitext, kept", [
    # "Apollo 11" (662), Splashdown: a template that is no word list ({{Coord}}) inside a sentence
    ("On July 24, the astronauts returned home aboard the Command Module ''Columbia'' just before dawn local time "
     "(16:51 UTC) at {{Coord|13|19|N|169|9|W|type:event|name=Apollo 11 splashdown}}, in the Pacific Ocean. "
     "A second Sea King helicopter hoisted the astronauts aboard one by one.",
     "A second Sea King helicopter hoisted the astronauts aboard one by one."),
    # "Arithmetic mean" (612), Weighted average: formulas inside a sentence
    ("A weighted average is an average in which some data points count more strongly than others. For example, the "
     "arithmetic mean of 3 and 5 is <math>\\frac{3+5}{2}=4</math>, or equivalently "
     "<math>\\frac{1}{2} \\cdot 3+\\frac{1}{2} \\cdot 5=4</math>. Here the weights sum to one.",
     "A weighted average is an average in which some data points count more strongly than others. Here the weights "
     "sum to one."),
    # "Autism" (25), Cost: {{CURRENTYEAR}} (no word we can know) in a sentence
    ("Treatment is expensive; indirect costs are more so. For someone born in 2000, a US study estimated an average "
     "lifetime cost of $4 million (net present value in {{CURRENTYEAR}} dollars). Publicly supported programs are "
     "often inadequate.", "Treatment is expensive; indirect costs are more so. Publicly supported programs are often "
                          "inadequate."),
])
def test_a_sentence_a_removed_template_or_formula_broke_is_dropped(wikitext, kept):
    text, _, cleaned = lead(wikitext)
    assert text == kept and cleaned == {sources.text.wikitext.BROKEN_SENTENCE: 1}


def test_footnotes_and_maintenance_tags_inside_a_sentence_break_nothing():
    # "Anarchism" (12) and "Andorra" (600), shortened
    wikitext = ("The origins of anarchism have often been divided{{by whom|date=February 2016}} into two categories."
                "{{sfn|Ward|2004|p=1}} Its relative advantage has recently{{When|date=June 2015}} eroded as the "
                "economies of France and Spain opened up.{{citation needed|date=May 2016}}")
    text, _, cleaned = lead(wikitext)
    assert text == ("The origins of anarchism have often been divided into two categories. Its relative advantage has "
                    "recently eroded as the economies of France and Spain opened up.")
    assert cleaned == {}


def test_with_drop_broken_sentences_off_the_sentence_stays_with_its_gap():
    config = wikipedia.WikipediaConfig(drop_broken_sentences=False, min_passage_chars=10)
    text, _, cleaned = lead("Oranjestad, the capital, is located at {{coord|12|31|N|70|02|W}}. " + LONG, config)
    assert text == "Oranjestad, the capital, is located at. " + LONG and cleaned == {}


# ---- introductions left dangling -------------------------------------------------------------------

# "Alabama", "Economy / Largest employers" (303): both introductions introduce tables (shortened to 2 rows).
ALABAMA_EMPLOYERS = """== Economy ==
{LONG}
=== Largest employers ===
[[File:Enterprise lifted.jpg|thumb|The [[Space Shuttle Enterprise|Space Shuttle ''Enterprise'']] being tested.]]

The five employers that employed the most employees in Alabama in April 2011 were:<ref name="a">A. McMillan.</ref>

{{| class="wikitable"
|-
! Employer
! Employees
|-
| [[Redstone Arsenal]]
| 25,373
|}}

The next twenty largest employers, {{{{as of|2011|lc=y}}}}, included:<ref>{{{{cite web |title=T}}}}</ref>

{{| class="wikitable"
|-
| [[Honda Manufacturing of Alabama]]
|}}
=== Agriculture ===
{LONG}
""".format(LONG=LONG)


def test_a_section_of_introductions_whose_tables_are_gone_is_dropped():
    kept, drops, cleaned = sections(ALABAMA_EMPLOYERS)
    assert [s.headings for s in kept] == [("Economy",), ("Economy", "Agriculture")]
    assert drops == {reasons.DROP_EMPTY_TEXT: 2}  # the page's lead, and Largest employers
    assert cleaned == {sources.text.wikitext.DANGLING_INTRO: 2}
    kept, drops, _ = sections(ALABAMA_EMPLOYERS, wikipedia.WikipediaConfig(drop_dangling_intros=False,
                                                                            min_passage_chars=10))
    assert kept[1].text == ("The five employers that employed the most employees in Alabama in April 2011 were:\n"
                            "The next twenty largest employers, as of 2011, included:")


@pytest.mark.parametrize("wikitext, expected", [
    # "Angola" (701), Administrative divisions: the introduction ends the section (its list is a template)
    ("Angola is divided into eighteen provinces (províncias) and 163 municipalities. The municipalities are further "
     "divided into 475 communes (townships). The provinces are:\n{{Angola provinces list}}",
     "Angola is divided into eighteen provinces (províncias) and 163 municipalities. The municipalities are further "
     "divided into 475 communes (townships)."),
    # "Ampere" (772): a display formula after an introduction
    ("The SI unit of charge, the coulomb, \"is the quantity of electricity carried in 1 second by a current of 1 "
     "ampere\". Conversely, a current of one ampere is one coulomb of charge going past a given point per second:\n"
     ":<math>1\\ \\mathrm{A}=1\\ \\frac{\\mathrm{C}}{\\mathrm{s}}.</math>\n\n" + LONG,
     "The SI unit of charge, the coulomb, \"is the quantity of electricity carried in 1 second by a current of 1 "
     "ampere\".\n" + LONG),
    # "Analysis of variance" (634), shortened: an introduction with no colon, and what goes on after the formula
    ("ANOVA uses traditional standardized terminology. The definitional equation of sample variance is\n"
     ":<math>s^2 = \\textstyle\\frac{1}{n-1}\\sum(y_i-\\bar{y})^2</math>\nwhere the divisor is called the degrees of "
     "freedom. " + LONG, "ANOVA uses traditional standardized terminology.\n" + LONG),
])
def test_introductions_whose_list_table_or_formula_is_gone_are_dropped(wikitext, expected):
    assert lead(wikitext)[0] == expected


def test_an_introduction_whose_list_follows_stays():
    # "Andorra" (600), Parishes, shortened
    wikitext = ("Andorra consists of seven [[Parishes of Andorra|parishes]]:\n* [[Andorra la Vella]]\n* [[Canillo]]\n"
                + LONG)
    text, _, cleaned = lead(wikitext, wikipedia.WikipediaConfig(min_passage_chars=10))
    assert text.startswith("Andorra consists of seven parishes:\nAndorra la Vella\nCanillo\n") and cleaned == {}


def test_the_word_budget_cutting_a_list_off_its_introduction_drops_the_introduction():
    config = wikipedia.WikipediaConfig(max_passage_words=36, min_passage_chars=10)
    text, _, cleaned = lead(LONG + "\nThe provinces are:\n" + "\n".join(f"* Province number {i}" for i in range(20)),
                            config)
    assert text == LONG and cleaned == {sources.text.wikitext.DANGLING_INTRO: 1}


# ---- runs of symbols --------------------------------------------------------------------------------


def test_a_sentence_holding_a_run_of_symbols_is_dropped():
    # "Alphabet" (670)-like, rewritten: a {{math}} template listing symbols
    wikitext = ("Mathematical writing borrows many letters. Symbols such as {{math|↔ ± ≃ ↦ ℂ ° ∘ ≤ ℚ}} are set apart. "
                "In geometry, 0 ≤ x ≤ 1 and 5 ± 2 stay as they are.")
    text, _, cleaned = lead(wikitext)
    assert text == "Mathematical writing borrows many letters. In geometry, 0 ≤ x ≤ 1 and 5 ± 2 stay as they are."
    assert cleaned == {sources.text.wikitext.SYMBOL_RUN: 1}
    assert lead(wikitext, wikipedia.WikipediaConfig(drop_symbol_runs=False, min_passage_chars=10))[0].startswith(
        "Mathematical writing borrows many letters. Symbols such as ↔ ± ≃ ↦ ℂ ° ∘ ≤ ℚ are set apart.")


# ---- a dump that does not say its language ----------------------------------------------------------


def test_the_language_of_a_dump_comes_from_what_it_tells():
    root = b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="de-AT">\n'
    assert root_language_of(root) == "de" and root_language_of(b"<mediawiki>") is None
    assert base_language_of(b"<base>https://fr.wikipedia.org/wiki/Accueil</base>") == "fr"
    assert wikipedia.site_of("enwiki", "en", None, "x.xml") == wikipedia.Site("enwiki", "en")
    assert wikipedia.site_of(None, None, None, "/d/dewiki-20240601-pages-articles.xml.bz2") == wikipedia.Site("dewiki",
                                                                                                              "de")
    assert wikipedia.site_of(None, "de", None, "dump.xml") == wikipedia.Site("dewiki", "de")
    assert wikipedia.site_of(None, None, "fr", "dump.xml") == wikipedia.Site("frwiki", "fr")
    assert wikipedia.site_of(None, None, None, "dump.xml") == wikipedia.Site(wikipedia.UNKNOWN_WIKI, "")


@pytest.mark.parametrize("text, lang", [
    (LONG, "en"),
    ("Bier ist ein alkoholisches Getränk, das aus Getreide, Hopfen und Wasser gebraut wird. Es wird in vielen "
     "Ländern der Welt getrunken und hat eine lange Geschichte, die bis in die Jungsteinzeit zurückreicht.", "de"),
])
def test_without_anything_to_tell_the_language_is_identified_from_the_text(text, lang):
    from sources.demo_inputs.wikipedia import page_xml

    page = wikipedia.parse_page_xml(page_xml("Bier", 0, 7, text), wikipedia.UNKNOWN_WIKI)
    pair = wikipedia.pairs_of(page, CONFIG)[0]
    assert (pair["lang"], pair["subsource"], pair["query_id"]) == (lang, f"{lang}wiki", f"{lang}wiki/7/0")
    off = wikipedia.parse_page_xml(page_xml("Bier", 0, 7, text), wikipedia.UNKNOWN_WIKI,
                                   wikipedia.WikipediaConfig(detect_language=False))
    assert (off.lang, off.wiki) == ("", wikipedia.UNKNOWN_WIKI)


def test_settings_are_checked():
    with pytest.raises(ValueError):
        wikipedia.WikipediaConfig(pronunciations="some")
