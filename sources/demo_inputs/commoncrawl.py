"""WARC files in Common Crawl's layout, made in code: a writer for tests, and a small demo crawl.

`warc_record` writes one record as the WARC spec lays it out (version line, headers, blank line,
block, two CRLFs); `write_warc` writes records gzip'd one member per record, as Common Crawl
publishes, or plain. Same input, same bytes (gzip member times are 0).

The demo crawl (`write_demo_dumps`) has Common Crawl's order per URL (request -> response ->
metadata with languages-cld2) after a warcinfo naming the crawl, and covers what the pipeline must
tell apart: English articles wrapped in navigation, cookie banners and footers; a German page; a
redirect; an image; a page whose HTTP header declares a charset it is not in; the same URL
fetched twice; and one article republished at a second URL.
"""

import gzip
import hashlib
import json
import os
import random
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from sources.demo_inputs.topics import DETAILS, FIELDS, TOPICS, bare, capitalized, make_anchor, person, statement

CRAWL = "CC-MAIN-2024-22"
DEMO_FILE = "CC-MAIN-20240522000000-20240522030000-00000.warc.gz"


def record_urn(*parts: str) -> str:
    """A WARC-Record-ID made from the record's own fields: the same on every run."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()
    return f"<urn:uuid:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}>"


def warc_record(kind: str, uri: Optional[str], block: bytes, *, date: str = "2024-05-22T10:00:00Z",
                record_id: Optional[str] = None, extra: Sequence[Tuple[str, str]] = (),
                content_type: Optional[str] = None, version: str = "WARC/1.0") -> bytes:
    """One WARC record's bytes. `uri=None` leaves WARC-Target-URI out."""
    if content_type is None:
        content_type = {"response": "application/http; msgtype=response", "request": "application/http; "
                        "msgtype=request"}.get(kind, "application/warc-fields")
    headers = [("WARC-Type", kind), ("WARC-Date", date),
               ("WARC-Record-ID", record_id or record_urn(kind, uri or "", date))]
    if uri is not None:
        headers.append(("WARC-Target-URI", uri))
    headers += list(extra) + [("Content-Type", content_type), ("Content-Length", str(len(block)))]
    head = "\r\n".join([version] + [f"{k}: {v}" for k, v in headers]).encode("utf-8")
    return head + b"\r\n\r\n" + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: Optional[str] = "text/html; charset=utf-8", status: str = "200 OK",
                  headers: Sequence[Tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + ([f"Content-Type: {content_type}"] if content_type else [])
    lines += [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def write_warc(path: str, records: Iterable[bytes], compress: bool = True) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as handle:
        for record in records:
            handle.write(gzip_member(record) if compress else record)
    return path


def warcinfo(crawl: str = CRAWL, filename: str = DEMO_FILE) -> bytes:
    block = (f"isPartOf: {crawl}\r\npublisher: Common Crawl\r\nformat: WARC File Format 1.1\r\n"
             "software: ccpairs demo\r\n").encode()
    return warc_record("warcinfo", None, block, record_id="<urn:uuid:warcinfo-demo>",
                       extra=[("WARC-Filename", filename)])


def capture(uri: str, body: bytes, *, language: Optional[str] = "en", date: str = "2024-05-22T10:00:00Z",
            content_type: Optional[str] = "text/html; charset=utf-8", status: str = "200 OK",
            http_headers: Sequence[Tuple[str, str]] = ()) -> List[bytes]:
    """request -> response -> metadata (with languages-cld2 when `language` is given), as CC writes them."""
    response_id = record_urn("response", uri, date)
    request = warc_record("request", uri, f"GET / HTTP/1.1\r\nHost: {uri.split('/')[2]}\r\n\r\n".encode(), date=date)
    response = warc_record("response", uri, http_response(body, content_type, status, http_headers), date=date,
                           record_id=response_id, extra=[("WARC-Identified-Payload-Type", "text/html")])
    fields = "fetchTimeMs: 120\r\n"
    if language:
        cld2 = {"reliable": True, "text-bytes": len(body), "languages": [{"code": language, "text-covered": 0.99}]}
        fields += f"languages-cld2: {json.dumps(cld2)}\r\n"
    metadata = warc_record("metadata", uri, fields.encode(), date=date, extra=[("WARC-Concurrent-To", response_id)])
    return [request, response, metadata]


def page(title: str, paragraphs: Sequence[str], site: str = "Demo Weekly", lang: str = "en") -> bytes:
    """An article as sites serve them: navigation, a cookie banner, the article, related links, a footer."""
    nav = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in ("Home", "World", "Science", "Sports"))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title} | {site}</title><meta property="og:site_name" content="{site}">
<style>body {{ font-family: serif; }} .nav li {{ display: inline; }}</style>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
</head><body><header><nav><ul class="nav">{nav}</ul></nav></header>
<div id="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>
<main><article><h1>{title}</h1><p class="byline">By Ada Example &middot; 22 May 2024</p>{body}</article></main>
<aside><h3>Related</h3><ul><li><a href="/a">Ten things about tides</a></li><li><a href="/b">Rivers</a></li></ul></aside>
<footer><p>&copy; 2024 {site}. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>""".encode("utf-8")


ARTICLES: Dict[str, Tuple[str, List[str]]] = {
    "tides": ("How tides work", [
        "Tides are the slow rise and fall of the sea that happens twice a day on most coasts. They are caused "
        "mainly by the gravity of the Moon, with a smaller pull from the Sun.",
        "The Moon pulls the water on the side of the Earth nearest to it a little more than it pulls the Earth "
        "itself, and the Earth a little more than the water on the far side. Two bulges of water form, and the "
        "planet turns beneath them.",
        "When the Sun and the Moon line up, at new and full moon, their pulls add up and the tides are larger. "
        "These are called spring tides. When they pull at right angles, the tides are smaller.",
    ]),
    "bread": ("Baking bread at home", [
        "Bread needs only four things: flour, water, salt and yeast. The yeast eats sugars in the flour and "
        "gives off gas, which the gluten in the dough traps, so the loaf rises.",
        "Kneading stretches the gluten into long strands. A well kneaded dough is smooth and springs back when "
        "you press it with a finger. Most doughs need about ten minutes by hand.",
        "Let the dough rise until it has doubled, shape it, let it rise again and bake it in a hot oven. The "
        "crust browns as sugars and proteins react, which is also what gives toast its smell.",
    ]),
    "bees": ("Why bees dance", [
        "A honey bee that has found good flowers tells her sisters where they are by dancing on the comb. The "
        "dance is a figure of eight with a straight run in the middle.",
        "The angle of the straight run to the vertical gives the direction of the flowers relative to the Sun. "
        "The length of the run tells how far away they are.",
        "Karl von Frisch worked out the meaning of the dance in the 1940s and shared a Nobel Prize for it in "
        "1973. Later experiments with robot bees confirmed his reading.",
    ]),
}
GERMAN = ("Wie Gezeiten entstehen", [
    "Die Gezeiten sind das langsame Steigen und Fallen des Meeres, das an den meisten Küsten zweimal am Tag "
    "geschieht. Sie werden vor allem durch die Schwerkraft des Mondes verursacht.",
    "Wenn Sonne und Mond in einer Linie stehen, addieren sich ihre Kräfte und die Gezeiten sind stärker. Das "
    "nennt man Springtide. Stehen sie im rechten Winkel, sind die Gezeiten schwächer.",
    "Die Gezeiten lassen sich für Jahre im Voraus berechnen, weil die Bahnen von Mond und Erde genau bekannt "
    "sind. Häfen veröffentlichen dafür Tabellen.",
])


def demo_records() -> List[bytes]:
    records = [warcinfo()]
    site = "https://demo-weekly.example"
    for slug, (title, paragraphs) in sorted(ARTICLES.items()):
        records += capture(f"{site}/{slug}", page(title, paragraphs))
    # the same URL fetched again later: the later capture is kept
    title, paragraphs = ARTICLES["tides"]
    records += capture(f"{site}/tides", page(title, paragraphs + ["Updated: tide tables for June are out."]),
                       date="2024-05-23T08:00:00Z")
    # one article republished at another URL (tracking parameters): one page per passage is kept
    title, paragraphs = ARTICLES["bees"]
    records += capture(f"{site}/bees?utm_source=feed", page(title, paragraphs))
    records += capture(f"{site}/de/gezeiten", page(*GERMAN, lang="de"), language="de")
    records += capture(f"{site}/old", b"", status="301 Moved Permanently", content_type="text/html")
    records += capture(f"{site}/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, content_type="image/png",
                       language=None)
    # a lying header: says iso-8859-1, the bytes are UTF-8 (and the page says so in its meta)
    lying = page("Café culture in Vienna", [
        "Vienna’s coffee houses are older than most of its museums. The first opened in 1685, soon after the "
        "siege of the city, and the habit of sitting for hours over one cup began there.",
        "A waiter brings a glass of water with every coffee, and keeps bringing fresh ones. Nobody will ask you "
        "to leave, which is why writers and chess players have always liked them.",
        "The Melange, coffee with steamed milk and foam, is the house drink. Ordering a latte marks a tourist, "
        "though every café will happily make one.",
    ])
    records += capture(f"{site}/cafe", lying, content_type="text/html; charset=iso-8859-1")
    return records




# ---- the demo crawl: two WARC files of ~170 pages each on the demo topics ----

DEMO_SEGMENT = "1715971057216.39"
DEMO_FILES = ("CC-MAIN-20240522100000-20240522130000-00000.warc.gz",
              "CC-MAIN-20240522100000-20240522130000-00001.warc.gz")
# (host, site name, layout, topics it writes about)
SITES = (
    ("www.brewlab-journal.example", "Brewlab Journal", "news", ("coffee", "baking")),
    ("crumb-and-crust.example", "Crumb & Crust", "blog", ("baking",)),
    ("pyweekly.example", "Py Weekly", "docs", ("python", "linux")),
    ("sysadmin-notes.example", "Sysadmin Notes", "blog", ("linux",)),
    ("www.trailhead-mag.example", "Trailhead Magazine", "news", ("hiking", "photography")),
    ("spokes-and-chains.example", "Spokes and Chains", "blog", ("bicycles",)),
    ("greenrow.example", "Greenrow", "docs", ("gardening",)),
    ("night-sky-forum.example", "Night Sky Notes", "news", ("astronomy",)),
    ("endgame-club.example", "Endgame Club", "blog", ("chess",)),
    ("lightbox-academy.example", "Lightbox Academy", "docs", ("photography", "astronomy")),
    ("weekend-maker.example", "Weekend Maker", "news", ("bicycles", "gardening", "coffee")),
    ("move-by-move.example", "Move by Move", "docs", ("chess", "python")),
)
_TITLES = (
    "How to {verb} with {thing}: a practical guide", "{Plain} explained for beginners",
    "What I learned about {plain_lower} after {n} months", "Review: the {anchor} {plain_lower}",
    "{n} mistakes people make with {plain_lower}", "Should you {verb} with {thing}? An honest look",
    "A field guide to {plain_lower}", "Getting started: {plain_lower} and how to {verb}",
)
_OPENINGS = (
    "{person} has written about {field} for {n} years, and the question readers send most often is how to "
    "{verb} with {thing}. This piece collects the answers that held up.",
    "When the {anchor} {plain_lower} arrived at our office, we put it next to {other} and used both for {n} weeks. Here is what "
    "stood out once the novelty wore off.",
    "Most guides to {field} skip straight to equipment. We start instead with what actually changes when you "
    "{verb} with {thing}, because that is where beginners get stuck.",
    "I came to {field} late, and {thing} confused me for a long time. These notes are the explanation I wish "
    "someone had given me in my first season.",
)
_MIDDLES = (
    "The first thing to understand is that {fact}. Once that clicks, the rest of the routine makes sense.",
    "{Detail}. That sounds minor, but it explains most of the problems people describe with {thing}.",
    "In our tests with the {anchor} {plain_lower}, {detail}. We saw the same pattern with {other}, though less clearly.",
    "A second point surprises people: {detail}. Keep it in mind before you spend money on upgrades.",
    "{Fact}. Experienced readers told us the same thing in different words, again and again.",
    "There is a reason {thing} keeps coming up in {field} circles. {Detail}, and few alternatives manage that.",
    "{person} put it simply when we spoke last month: {detail}. The advice is old, and still ignored.",
)
_CLOSINGS = (
    "If you want to {verb} this weekend, begin with {thing}, take notes, and change one thing at a time.",
    "None of this needs expensive gear. Patience and a notebook will teach you more about {thing} than any "
    "shop will.",
    "We will return to {plain_lower} in a later issue, with readers' results. Until then, keep practising and "
    "write down what works.",
)


def site_page(title: str, paragraphs: Sequence[str], site: str, layout: str, author: str, day: int) -> bytes:
    """An article in one of three site layouts (news, blog, docs), with the navigation, banners,
    sidebars and footers that sites put around it."""
    if layout == "news":
        return page(title, paragraphs, site=site)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if layout == "blog":
        return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} - {site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/theme.css">
</head><body><div class="site-header"><a href="/">{site}</a> <span class="tagline">notes from the workshop</span></div>
<div class="layout"><div class="post"><h1 class="post-title">{title}</h1>
<div class="meta">Posted on May {day}, 2024 by {author}</div><div class="entry-content">{body}</div>
<div class="share">Share this: <a href="#">Twitter</a> | <a href="#">Facebook</a> | <a href="#">Email</a></div>
</div><div class="sidebar"><h4>Archives</h4><ul><li>May 2024</li><li>April 2024</li></ul>
<h4>Subscribe</h4><form><input type="email" placeholder="Your email"><button>Subscribe</button></form></div></div>
<div class="footer">Powered by a static site generator. Theme by {site}.</div></body></html>""".encode("utf-8")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | {site} Docs</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="{site}"></head>
<body><nav class="top"><a href="/">{site}</a> <a href="/docs">Docs</a> <a href="/blog">Blog</a>
<a href="/login">Sign in</a></nav><div class="docs"><aside class="toc"><ul><li><a href="#intro">Introduction</a></li>
<li><a href="#steps">Steps</a></li><li><a href="#next">Next steps</a></li></ul></aside>
<main><h1>{title}</h1><p class="updated">Last updated {day} May 2024</p>{body}
<div class="feedback">Was this page helpful? <button>Yes</button> <button>No</button></div></main></div>
<footer>{site} {2024}. Content available under CC BY-SA.</footer></body></html>""".encode("utf-8")


def _article(rng, topic: str, anchor: str) -> Tuple[str, List[str]]:
    t = TOPICS[topic]
    thing = rng.choice(t["things"])
    other = rng.choice([x for x in t["things"] if x != thing])
    facts = [statement(f) for f in rng.sample(t["facts"], 3)]
    details = rng.sample(DETAILS[topic], 3)
    verb = rng.choice(t["verbs"])
    plain = capitalized(bare(thing))
    slots = dict(thing=thing, other=other, verb=verb, field=FIELDS[topic], anchor=anchor, n=rng.randrange(3, 13),
                 person=person(rng), plain_lower=bare(thing), Plain=plain, plain=plain)
    title = capitalized(rng.choice(_TITLES).format(**slots))
    middles = rng.sample(_MIDDLES, 3)
    paragraphs = [rng.choice(_OPENINGS).format(**slots)]
    for i, middle in enumerate(middles):
        detail, fact = details[i], facts[i]
        paragraphs.append(middle.format(**slots, detail=detail, Detail=capitalized(detail), fact=fact,
                                        Fact=capitalized(fact)))
    paragraphs.append(rng.choice(_CLOSINGS).format(**slots))
    return title, paragraphs


def _non_html(site: str, day: str) -> List[bytes]:
    """What a crawl also fetches: a PDF, a JSON API answer, an image, robots.txt, a redirect, a 404."""
    pdf = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] "
           b"/Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    not_found = page("404 Not Found", ["The page you were looking for could not be found on this server."])
    return (capture(f"https://{site}/media/guide.pdf", pdf, content_type="application/pdf", language=None, date=day)
            + capture(f"https://{site}/api/v1/articles?page=2", json.dumps({"page": 2, "items": []}).encode(),
                      content_type="application/json", language=None, date=day)
            + capture(f"https://{site}/img/header.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
                      content_type="image/png", language=None, date=day)
            + capture(f"https://{site}/robots.txt", b"User-agent: *\nDisallow: /admin/\n", content_type="text/plain",
                      language=None, date=day)
            + capture(f"http://{site}/", b"", status="301 Moved Permanently", content_type="text/html", date=day,
                      http_headers=[("Location", f"https://{site}/")])
            + capture(f"https://{site}/old-archive/2019", not_found, status="404 Not Found", date=day))


def demo_crawl_records(part: int, n_pages: int = 170, seed: int = 0) -> List[bytes]:
    """One WARC file's records in Common Crawl's order: a warcinfo, then request -> response ->
    metadata per URL; HTML articles from the demo sites, and the non-HTML fetches a crawl holds."""
    rng = random.Random(seed * 1000 + part)
    filename = DEMO_FILES[part]
    info = (f"isPartOf: {CRAWL}\r\npublisher: Common Crawl\r\ndescription: Wide crawl of the web for May 2024\r\n"
            "format: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/\r\nsoftware: ccpairs demo\r\n").encode()
    records = [warc_record("warcinfo", None, info, date="2024-05-22T10:00:00Z",
                           record_id=record_urn("warcinfo", filename), extra=[("WARC-Filename", filename)])]
    for i in range(n_pages):
        host, name, layout, topics = SITES[(i + part) % len(SITES)]
        topic = topics[rng.randrange(len(topics))]
        title, paragraphs = _article(rng, topic, make_anchor(rng))
        slug = "-".join(w for w in re.sub(r"[^a-z0-9 ]", "", title.lower()).split()[:7])
        seconds = 3 * 3600 * i // n_pages
        date = f"2024-05-22T{10 + seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
        html = site_page(title, paragraphs, name, layout, person(rng), rng.randrange(1, 22))
        records += capture(f"https://{host}/{2024 - part}/{slug}-{part}{i}", html, date=date)
        if i % 40 == 17:
            records += _non_html(host, date)
    german = page(*GERMAN, lang="de", site="Demo Wochenblatt")
    records += capture(f"https://wochenblatt.example/gezeiten-{part}", german, language="de",
                       date="2024-05-22T12:59:00Z")
    return records


def write_demo_crawl(directory: str, seed: int = 0) -> List[str]:
    """The demo crawl: two WARC files (gzip member per record) under Common Crawl's path layout."""
    folder = os.path.join(directory, "crawl-data", CRAWL, "segments", DEMO_SEGMENT, "warc")
    return [write_warc(os.path.join(folder, name), demo_crawl_records(part, seed=seed))
            for part, name in enumerate(DEMO_FILES)]


def write_demo_dumps(directory: str, full: bool = False) -> List[str]:
    """One Common Crawl style WARC (gzip member per record) under a crawl-data path; returns its path.
    `full=True`: the demo crawl instead (write_demo_crawl: two files, ~340 pages), as the main job's demo uses."""
    if full:
        return write_demo_crawl(directory)
    path = os.path.join(directory, "crawl-data", CRAWL, "segments", "1716000000000.0", "warc", DEMO_FILE)
    return [write_warc(path, demo_records())]
