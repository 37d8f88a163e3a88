"""Wikipedia exports in the real formats, made in code: a small hand-written one, and multistream
dumps with their index built from any export (the real samples included).

``write_multistream`` lays an export out as Wikimedia does for ``…-pages-articles-multistream.xml.bz2``:
the header (``<mediawiki>``, ``<siteinfo>``) as the first bz2 stream, then a stream per
``pages_per_stream`` pages (Wikimedia uses 100), then ``</mediawiki>``; and writes
``…-multistream-index.txt.bz2`` with a line ``offset:pageid:title`` per page. Same input, same bytes.
"""

import bz2
import os
import re
from typing import List, Sequence, Tuple
from xml.sax.saxutils import escape

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


def write_demo_dumps(directory: str) -> List[str]:
    """The demo export as a multistream dump (2 pages per stream) and its index; returns both paths."""
    return list(write_multistream(demo_export(), os.path.join(
        directory, "enwiki-20240601-pages-articles-multistream.xml.bz2"), pages_per_stream=2))
