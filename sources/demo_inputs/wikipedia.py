"""Wikipedia exports in the real formats, made in code: a small hand-written one, and multistream
dumps with their index built from any export (the real samples included).

``write_multistream`` lays an export out as Wikimedia does for ``…-pages-articles-multistream.xml.bz2``:
the header (``<mediawiki>``, ``<siteinfo>``) as the first bz2 stream, then a stream per
``pages_per_stream`` pages (Wikimedia uses 100), then ``</mediawiki>``; and writes
``…-multistream-index.txt.bz2`` with a line ``offset:pageid:title`` per page. Same input, same bytes.
"""

import bz2
import os
import random
import re
from typing import List, Sequence, Tuple
from xml.sax.saxutils import escape

from sources.demo_inputs.topics import ANCHOR_NAMES, DETAILS, FIELDS, TOPICS, bare, capitalized, person, statement

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
_PAGE = re.compile(rb"[ \t]*<page>.*?</page>\n?", re.S)
_ID = re.compile(rb"<id>(\d+)</id>")
_TITLE = re.compile(rb"<title>(.*?)</title>", re.S)

SITEINFO = """  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.43.0-wmf.8</generator>
    <case>first-letter</case>
  </siteinfo>
"""

# (title, namespace, page id, wikitext, redirect target or None)
DEMO_PAGES: Sequence[Tuple[str, int, int, str, object]] = (
    ("Brewing", 0, 101, """{{Short description|Production of beer}}
{{Infobox process
| name = Brewing
| image = [[File:Brewery.jpg|thumb|A brewery]]
}}
'''Brewing''' is the production of [[beer]] by steeping a starch source in water and fermenting the
resulting sweet liquid with [[yeast]].<ref>{{cite book |title=Brewing |year=2004}}</ref> It may be done in a
[[brewery]] by a commercial brewer, at home by a homebrewer, or communally. Brewing has taken place since
around the 6th millennium&nbsp;BC.

== History ==
[[File:Sumerian beer.jpg|thumb|upright|Sumerian tablet]]
Beer was brewed in [[Mesopotamia]] and [[Ancient Egypt|Egypt]] from barley and emmer. The oldest evidence of
brewing dates to about {{circa|5000 BC}} in what is today [[Iran]], and the recipes were recorded on clay
tablets.<ref name="hornsey"/> Monasteries later kept the craft alive through the Middle Ages.

=== Industrial brewing ===
{| class="wikitable"
|-
! Year !! Output
|-
| 1900 || 10 million
|}
The [[steam engine]] and the [[thermometer]] turned brewing into an industry in the 18th century, and
[[Louis Pasteur]] showed in 1876 how yeast ferments the wort. Breweries of {{convert|20000|m2|sqft}} and more
followed within a few decades.

== Ingredients ==
Short.

== See also ==
* [[Homebrewing]]
* [[List of beer styles]]

== References ==
{{Reflist}}

[[Category:Brewing]]
[[de:Bierbrauen]]
""", None),
    ("Beer (disambiguation)", 0, 102, "'''Beer''' may refer to:\n* [[Beer]], a drink\n\n{{disambiguation}}", None),
    ("Ale", 0, 103, "#REDIRECT [[Beer#Ale]]", "Beer"),
    ("List of beer styles", 0, 104, "This is a '''list of beer styles''' known to brewers across the world.\n"
                                    "* Ale\n* Lager\n", None),
    ("Wikipedia:Sandbox", 4, 105, "A page to test editing, not an article of the encyclopedia at all.", None),
    ("Hops", 0, 106, """'''Hops''' are the flowers of the [[hop plant]] ''Humulus lupulus''.

== Uses ==
Hops are used mainly as a bittering, flavouring and stability agent in [[beer]], to which they give a
bitter, zesty or citric flavour. They have also been used in herbal medicine as a mild sedative.

== External links ==
* [https://example.org Hop growers]
""", None),
)


def page_xml(title: str, namespace: int, page_id: int, text: str, redirect=None, timestamp="2024-05-01T12:00:00Z",
             revision_id=None) -> bytes:
    """One ``<page>`` as an export writes it (two-space indentation, escaped wikitext)."""
    redirect_line = f'    <redirect title="{escape(redirect, {chr(34): "&quot;"})}" />\n' if redirect else ""
    return (f"""  <page>
    <title>{escape(title)}</title>
    <ns>{namespace}</ns>
    <id>{page_id}</id>
{redirect_line}    <revision>
      <id>{revision_id or page_id * 10}</id>
      <timestamp>{timestamp}</timestamp>
      <contributor>
        <username>Example</username>
        <id>1</id>
      </contributor>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>
      <sha1>0</sha1>
    </revision>
  </page>
""").encode("utf-8")


def export_xml(pages: Sequence[bytes], siteinfo: bool = True, namespace: str = EXPORT_NS) -> bytes:
    version = namespace.rstrip("/").rsplit("-", 1)[-1]
    head = (f'<mediawiki xmlns="{namespace}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{namespace} {namespace}export-{version}.xsd" version="{version}" xml:lang="en">\n')
    return head.encode() + (SITEINFO.encode() if siteinfo else b"") + b"".join(pages) + b"</mediawiki>\n"


def demo_export(siteinfo: bool = True) -> bytes:
    return export_xml([page_xml(*page) for page in DEMO_PAGES], siteinfo=siteinfo)


def split_export(xml: bytes) -> Tuple[bytes, List[bytes], bytes]:
    """(header, [page elements], trailer) of an export, byte for byte."""
    pages = list(_PAGE.finditer(xml))
    if not pages:
        return xml, [], b""
    return xml[:pages[0].start()], [m.group(0) for m in pages], xml[pages[-1].end():]


def write_multistream(xml: bytes, dump_path: str, pages_per_stream: int = 100) -> Tuple[str, str]:
    """An export as a multistream .xml.bz2 and its index beside it (named as Wikimedia names them)."""
    from sources.formats.bz2_streams import index_name_for

    index_name = index_name_for(os.path.basename(dump_path))
    if index_name is None:
        raise ValueError(f"{dump_path} is not named like a multistream dump")
    header, pages, trailer = split_export(xml)
    os.makedirs(os.path.dirname(dump_path) or ".", exist_ok=True)
    index_lines = []
    with open(dump_path, "wb") as out:
        out.write(bz2.compress(header, 9))
        for start in range(0, len(pages), pages_per_stream):
            group = pages[start:start + pages_per_stream]
            offset = out.tell()
            for page in group:
                page_id = _ID.search(page).group(1).decode()
                title = _TITLE.search(page).group(1).decode("utf-8")
                index_lines.append(f"{offset}:{page_id}:{title}\n")
            out.write(bz2.compress(b"".join(group), 9))
        out.write(bz2.compress(trailer, 9))
    index_path = os.path.join(os.path.dirname(dump_path), index_name)
    with open(index_path, "wb") as out:
        out.write(bz2.compress("".join(index_lines).encode("utf-8"), 9))
    return dump_path, index_path


def write_small_demo_dumps(directory: str) -> List[str]:
    """The hand-written demo export as a multistream dump (2 pages per stream) and its index; returns both paths."""
    return list(write_multistream(demo_export(), os.path.join(
        directory, "enwiki-20240601-pages-articles-multistream.xml.bz2"), pages_per_stream=2))


# ---- the demo dump: ~160 pages on the demo topics, mixed as a real dump mixes them ----

DEMO_DUMP = "enwiki-20240501-pages-articles-multistream.xml.bz2"
_TOWN_SUFFIXES = ("Harbor", "Falls", "Crossing", "Ridge", "Springs", "Hollow", "Bay", "Vale")
_REGIONS = ("the Northern Uplands", "the Kestrel Coast", "the Amber Valley", "the Western Lakes", "the Salt Marshes",
            "the High Plateau")
_RIVERS = ("Lume", "Arden", "Tessel", "Varro", "Brisk", "Oriel", "Calder", "Sable")


def _sentences(*parts: str) -> str:
    return " ".join(p[:1].upper() + p[1:] + ("" if p.endswith((".", "!", "?", ">")) else ".") for p in parts if p)


def _ref(rng: random.Random) -> str:
    first, last = person(rng).split()
    return (f"<ref>{{{{cite book |last={last} |first={first} |title=A handbook of practice "
            f"|year={rng.randrange(1990, 2023)} |page={rng.randrange(3, 400)}}}}}</ref>")


def _thing_article(rng: random.Random, topic: str, thing: str) -> Tuple[str, str]:
    """(title, wikitext) of an article on one thing of a topic: lead, history, technique, reception."""
    t, field = TOPICS[topic], FIELDS[topic]
    name, plain = capitalized(bare(thing)), bare(thing)
    facts = [statement(f) for f in rng.sample(t["facts"], 3)]
    more = rng.sample(DETAILS[topic], 6)
    verbs = rng.sample(t["verbs"], 3)
    other = [bare(x) for x in rng.sample([x for x in t["things"] if x != thing], 3)]
    inventor, critic = person(rng), person(rng)
    year = rng.randrange(1820, 1990)
    bold = "'''"
    plural = name.endswith("s") and not name.endswith("ss")
    is_, it, was = ("are", "them", "were") if plural else ("is", "it", "was")
    lead = _sentences(
        rng.choice([f"{bold}{name}{bold} {is_} one of the central subjects of [[{field}]]",
                    f"in [[{field}]], {bold}{plain}{bold} {is_} among the first things a newcomer learns about"]),
        rng.choice([f"guides on how to {verbs[0]} and {verbs[1]} treat {it} at length",
                    f"people rely on {it} when they {verbs[0]}, and many also use {it} to {verbs[1]}"]),
        rng.choice([f"it is often compared with [[{other[0]}]] and [[{other[1]}|{other[1]}s]]",
                    f"related subjects include [[{other[0]}]] and {other[1]}"]),
        f"a widely repeated observation is that {facts[0]}.{_ref(rng)}")
    history = _sentences(
        rng.choice([f"the earliest written description of {plain} dates from {year}",
                    f"{plain} came into common use during the {year // 10 * 10}s"]),
        rng.choice([f"{inventor} published a short manual on it, noting that {more[0]}",
                    f"the writer {inventor} popularised it and argued that {more[0]}"]),
        f"by {min(year + rng.randrange(15, 40), 2020)} clubs and shops in several countries had adopted {it}."
        + _ref(rng),
        rng.choice([f"later authors added that {more[1]}", f"subsequent guides stressed that {more[1]}"]))
    technique = _sentences(
        rng.choice([f"to {verbs[2]} well with {thing}, most guides begin from the point that {facts[1]}",
                    f"the basic technique follows from the fact that {facts[1]}"]),
        f"practitioners also note that {more[2]}",
        rng.choice([f"a common error is to forget that {more[3]}", f"experienced users add that {more[3]}"]))
    sections = [("==", "History", history), ("==", "Technique", technique)]
    if rng.random() < 0.5:
        sections.append(("===", "Common problems", _sentences(
            f"beginners with {thing} are often surprised that {more[4]}",
            f"{critic} listed this among the most frequent questions from newcomers to {field}")))
    else:
        sections.append(("==", "Variants", "Several variants exist:\n" + "\n".join(
            f"* {bold}{capitalized(o)}{bold}, often discussed alongside {plain}: {d}." for o, d in zip(other, more[4:6]))
            + "\n\n" + _sentences(f"none of them has replaced {plain} entirely among people who {verbs[0]}")))
    sections.append(("==", "Reception", _sentences(
        rng.choice([f"in a {rng.randrange(1995, 2023)} survey of {field} enthusiasts, {plain} {was} rated among "
                    "the most useful subjects for newcomers",
                    f"reviewers have praised {plain} as easy to learn and hard to master"]),
        f"{critic} wrote that {facts[2]}, and that {more[5]}." + _ref(rng))))
    body = []
    if rng.random() < 0.6:
        body.append(f"{{{{Short description|Concept in {field}}}}}")
    if rng.random() < 0.4:
        body.append(f"{{{{Infobox concept\n| name = {name}\n| field = {field}\n| introduced = {year}\n}}}}")
    body.append(lead)
    for level, heading, text in sections:
        body.append(f"\n{level} {heading} {level}\n{text}")
    body.append(f"\n== See also ==\n* [[{capitalized(other[0])}]]\n* [[{capitalized(other[1])}]]")
    body.append(f"\n== References ==\n{{{{Reflist}}}}\n\n== External links ==\n* [https://example.org/{topic} "
                f"{capitalized(field)} resources]")
    body.append(f"\n[[Category:{capitalized(field)}]]")
    return name, "\n".join(body) + "\n"


def _town_article(rng: random.Random, name: str, topic: str) -> str:
    """Wikitext of a settlement article: lead, history, geography (with a climate table), economy."""
    region, river = rng.choice(_REGIONS), rng.choice(_RIVERS)
    founded, population = rng.randrange(1650, 1900), rng.randrange(800, 90_000)
    founder, mayor = person(rng), person(rng)
    elevation = rng.randrange(20, 1800)
    things = [bare(x) for x in rng.sample(TOPICS[topic]["things"], 2)]
    lead = _sentences(
        f"'''{name}''' is a town in {region}, on the [[{river} River]]",
        f"it had a population of {population:,} at the {rng.choice([2010, 2020])} census",
        rng.choice([f"the town is known for its {FIELDS[topic]} festival", f"it is known regionally for {things[0]}"]))
    history = _sentences(
        f"{name} was founded in {founded} by settlers led by {founder}",
        rng.choice([f"a mill on the {river} was its first industry",
                    f"the first houses were built around a ford of the {river}"]),
        rng.choice([f"the railway arrived in {rng.randrange(1850, 1900)}, and the town grew quickly",
                    f"a fire destroyed much of the old centre in {rng.randrange(1910, 1960)}"]),
        f"the present town hall dates from {rng.randrange(1900, 1990)}.{_ref(rng)}")
    geography = _sentences(
        f"the town lies at an elevation of {{{{convert|{elevation}|m|ft}}}} where the {river} leaves "
        f"{rng.choice(['a narrow gorge', 'a chain of small lakes', 'the foothills'])}",
        rng.choice(["winters are cold and summers mild", "the climate is oceanic, with rain in every month"]),
        f"the nearest larger town is {rng.choice(ANCHOR_NAMES)} {rng.choice(_TOWN_SUFFIXES)}, "
        f"{rng.randrange(8, 60)} kilometres downstream")
    climate = (f'{{| class="wikitable"\n|+ Climate\n|-\n! Month !! Jan !! Jul\n|-\n| Mean (°C) || '
               f"{rng.randrange(-9, 6)} || {rng.randrange(14, 27)}\n|}}")
    economy = _sentences(
        f"the largest employers are a hospital and a maker of {things[1]}",
        f"since {rng.randrange(1995, 2020)} the annual {FIELDS[topic]} fair has drawn visitors from across {region}",
        f"mayor {mayor} has promoted small workshops in the former mill buildings")
    return "\n".join([
        f"{{{{Infobox settlement\n| name = {name}\n| population_total = {population}\n| elevation_m = {elevation}\n}}}}",
        lead, "\n== History ==\n" + history, "\n== Geography ==\n" + geography + "\n\n" + climate,
        "\n== Economy ==\n" + economy,
        "\n== Notable people ==\n" + "\n".join(f"* {person(rng)}, {job}" for job in ("painter", "cyclist", "botanist")),
        "\n== References ==\n{{Reflist}}", f"\n[[Category:Towns in {region[4:]}]]"]) + "\n"


def demo_dump_pages(seed: int = 0) -> List[bytes]:
    """The demo dump's pages in page-id order: an article per thing of every demo topic, 24 towns,
    redirects, a disambiguation page, a list, and pages of other namespaces (talk, user, template,
    category, project)."""
    rng = random.Random(seed)
    pages: List[Tuple[str, int, str, object]] = []  # (title, namespace, wikitext, redirect target)
    for topic in sorted(TOPICS):
        for thing in TOPICS[topic]["things"]:
            title, text = _thing_article(rng, topic, thing)
            pages.append((title, 0, text, None))
            if rng.random() < 0.35:
                alias, why = (title[:-1], "R from plural") if title.endswith("s") else (title + "s", "R from plural")
                pages.append((alias, 0, f"#REDIRECT [[{title}]]\n\n{{{{{why}}}}}", title))
            if rng.random() < 0.15:
                pages.append((f"Talk:{title}", 1, "== Sources ==\nCould someone add a source for the history "
                              "section? ~~~~\n", None))
    towns = []
    names = sorted(ANCHOR_NAMES)
    for i in range(24):
        name = f"{names[i]} {_TOWN_SUFFIXES[i % len(_TOWN_SUFFIXES)]}"
        towns.append(name)
        pages.append((name, 0, _town_article(rng, name, sorted(TOPICS)[i % len(TOPICS)]), None))
        if i % 4 == 0:
            pages.append((f"{name}, {_REGIONS[i % len(_REGIONS)][4:]}", 0, f"#REDIRECT [[{name}]]", name))
    pages.append(("Harbor (disambiguation)", 0, "'''Harbor''' may refer to:\n" + "\n".join(
        f"* [[{t}]], a town" for t in towns if t.endswith("Harbor")) + "\n\n{{disambiguation}}\n", None))
    pages.append(("List of towns in the demo regions", 0, "This is a list of towns.\n" + "\n".join(
        f"* [[{t}]]" for t in towns) + "\n", None))
    pages.append(("User:Example", 2, "I edit articles about [[coffee]] and [[chess]].", None))
    pages.append(("Template:Infobox concept", 10, '<includeonly>{| class="infobox"\n|}</includeonly>', None))
    pages.append(("Category:Coffee preparation", 14, "Articles about [[coffee]] preparation.", None))
    pages.append(("Wikipedia:Manual of Style", 4, "This guideline is part of the English Wikipedia's Manual of Style.",
                  None))
    return [page_xml(title, namespace, 1000 + i, text, redirect,
                     timestamp=f"2024-0{1 + i % 4}-{10 + i % 18}T{i % 24:02d}:00:00Z")
            for i, (title, namespace, text, redirect) in enumerate(pages)]


def write_demo_dumps(directory: str, full: bool = True) -> List[str]:
    """The demo dump (~160 pages, 100 per bz2 stream, with <siteinfo>) and its index beside it; returns
    both paths (the job finds the index by its name, so the dump alone is enough as --input).
    `full=False`: the small hand-written export instead (write_small_demo_dumps)."""
    if not full:
        return write_small_demo_dumps(directory)
    return list(write_multistream(export_xml(demo_dump_pages()), os.path.join(directory, DEMO_DUMP),
                                  pages_per_stream=100))
