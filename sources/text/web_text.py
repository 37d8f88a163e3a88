"""An HTML page's bytes -> Unicode -> title and main text -> the prose lines a passage is cut from.

Charset, in the order a careful reader trusts it: a byte-order mark; valid UTF-8 (a declared
single-byte charset over valid multi-byte UTF-8 is the usual lie, and decoding it as declared
gives mojibake); the HTTP header's charset; the HTML's `<meta charset>`; resiliparse's detector
(uchardet). Each is tried strictly and the first that decodes wins; when none does, the best
guess decodes with replacement characters. Text that was already mojibake on the page (UTF-8
read as cp1252 by the site) is repaired by sources.text.repair_mojibake, in the title and passage.

Main text: resiliparse's `extract_plain_text(main_content=True)`, which drops navigation, headers,
footers, sidebars, comment sections, scripts, styles and forms (7-15x faster than trafilatura
here, see benchmarks/results/commoncrawl_pipeline.md). Its time grows with elements x nesting
depth (50,000 nested <div> took 39 s), so a caller asks `nests_deeper_than` first and takes
`plain_text` (linear) for a page nested too deep. What it leaves of boilerplate is mostly
short menu lines and cookie notices; `prose_lines` keeps only lines that read as prose (C4's line
rules: terminal punctuation, at least 3 words, no cookie/terms/JavaScript notices, no markup).
"""

import codecs
import functools
import hashlib
import html
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sources.text.normalize import normalize_whitespace, repair_mojibake

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta\b[^>]{0,300}?charset\s*=\s*["']?\s*([\w.:\-]{1,40})""", re.I)
META_SCAN_BYTES = 4096  # where the HTML spec says a meta charset must appear (1024), with slack
DETECT_BYTES = 64 << 10
_WIDER = {"gbk": "gb18030", "gb2312": "gb18030"}  # WHATWG decodes GBK labels with gb18030


# ---- bytes -> str ----

def _codec(label: Optional[str]) -> Optional[str]:
    """A Python codec for a charset label, through the WHATWG label table; None when unknown."""
    if not label:
        return None
    from resiliparse.parse.encoding import map_encoding_to_html5

    name = map_encoding_to_html5(label.strip().strip("\"'"), fallback_utf8=False)
    if not name:
        return None
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    return _WIDER.get(name, name)


def _strict(body: bytes, codec: str) -> Optional[str]:
    """Decoded strictly, forgiving only a character cut at the very end (pages are cut at a byte cap)."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4 and "end of data" in exc.reason or exc.start >= len(body) - 1:
            try:
                return body[:exc.start].decode(codec)
            except UnicodeDecodeError:
                return None
        return None
    except LookupError:
        return None


def meta_charset(body: bytes) -> Optional[str]:
    match = _META_CHARSET.search(body[:META_SCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_html(body: bytes, http_charset: Optional[str] = None) -> Tuple[str, str]:
    """(text, how): how names the codec and where it came from ("utf-8", "http:cp1251", "meta:gb18030",
    "detected:shift_jis", "guess:cp1252" when nothing decoded cleanly)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, "replace"), f"bom:{codec}"
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    tried = []
    for where, label in (("http", http_charset), ("meta", meta_charset(body))):
        codec = _codec(label)
        if codec and codec not in tried:
            tried.append(codec)
            text = _strict(body, codec)
            if text is not None:
                return text, f"{where}:{codec}"
    from resiliparse.parse.encoding import detect_encoding

    detected = _codec(detect_encoding(body[:DETECT_BYTES]))
    if detected and detected not in tried:
        text = _strict(body, detected)
        if text is not None:
            return text, f"detected:{detected}"
    guess = (tried + [detected] if detected else tried + ["cp1252"])[0]
    return body.decode(guess, "replace"), f"guess:{guess}"


def looks_binary(body: bytes) -> bool:
    """Bytes served as text/html that are no text: a NUL, or many control bytes, in the first 4 KiB
    (UTF-16 pages carry a BOM and are decoded before this is asked)."""
    head = body[:4096]
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))  # counted in C, not byte by byte
    return controls > len(head) * 0.05


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


# Each comment is atomic and the run of them possessive: "<!---->" x 30 then no HTML made the
# plain `(?:<!--.*?-->\s*)*` try every way of grouping the comments (2^30 steps).
_HTML_START = re.compile(rb"\s*+(?:(?><!--.*?-->)\s*+)*+<(?:!doctype\s+html|html|head|body|title|meta)\b", re.I | re.S)


def sniff_html(body: bytes) -> bool:
    """A response without Content-Type is taken for HTML when it starts like HTML."""
    return _HTML_START.match(body[:1024]) is not None


# ---- HTML -> title and main text ----

class HtmlDocument:
    """A parsed page whose parts are read on demand: the title candidates are cheap, the main text is
    the costly step (resiliparse's main-content extraction), so a page refused for its title never
    pays for it."""

    def __init__(self, page: str):
        from resiliparse.parse.html import HTMLTree

        self._tree = HTMLTree.parse(page)

    def _meta(self, selector: str) -> str:
        head = self._tree.head
        node = head.query_selector(selector) if head is not None else None
        return (node.getattr("content") or "") if node is not None else ""

    @property
    def title(self) -> str:
        """<title>, as the browser tab shows it."""
        return self._tree.title or ""

    @property
    def og_title(self) -> str:
        return self._meta('meta[property="og:title"]')

    @property
    def site_name(self) -> str:
        return self._meta('meta[property="og:site_name"]') or self._meta('meta[name="application-name"]')

    @property
    def h1(self) -> str:
        """The text of the page's only <h1> ("" when there are none or several)."""
        body = self._tree.body
        h1s = body.query_selector_all("h1") if body is not None else []
        return (h1s[0].text or "") if len(h1s) == 1 else ""

    def nests_deeper_than(self, depth: int) -> bool:
        """Whether an element sits more than `depth` elements deep (<html> is 1). Matched by lexbor in C
        as a chain of `depth` + 1 `*` joined by `>`: each element looks at most that many ancestors up,
        so the check is linear in the page for a fixed depth, and stops at the first match."""
        return self._tree.document.query_selector(_child_chain(depth + 1)) is not None

    def main_text(self) -> str:
        """The main text, navigation, headers, footers, sidebars, comments, forms, scripts and styles
        removed by resiliparse. Its time grows with elements x depth: ask nests_deeper_than first."""
        return self._extract(main_content=True)

    def plain_text(self) -> str:
        """All the page's text, scripts and styles left out: linear whatever the nesting, the fallback
        for a page nested too deep for main_text."""
        return self._extract(main_content=False)

    def _extract(self, main_content: bool) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(self._tree, main_content=main_content, alt_texts=False, links=False,
                                  form_fields=False, noscript=False, comments=False)


@functools.lru_cache(maxsize=8)
def _child_chain(length: int) -> str:
    """`* > * > … > *`, `length` times: matches an element with at least length - 1 element ancestors."""
    return " > ".join(["*"] * length)


# ---- text cleanup ----

_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Leftover entities (pages that escape twice) unescaped, control characters dropped, whitespace
    normalised (NFC, one space, no blank runs). Mojibake is repaired on what ships (`repaired`):
    ftfy on a whole page cost more than extraction."""
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    return normalize_whitespace(_CONTROLS.sub("", text))


def repaired(text: str) -> Tuple[str, bool]:
    """(text, changed?): mojibake (UTF-8 read as cp1252 by the site) repaired, see sources.text."""
    return repair_mojibake(text)


# ---- titles ----

# A match starts only where a run of spaces starts, and takes the run whole: a long run of spaces is
# read once, not once from each of its positions.
_TITLE_SEPARATORS = re.compile(r"(?<!\s)\s++(?:[|\-\u2013\u2014~\u00bb\u00ab\u00b7\u2022]|::|/{1,2})\s+")
_ALNUM = re.compile(r"[\W_]+")


def _squash(text: str) -> str:
    return _ALNUM.sub("", text.casefold())


def _host_names(host: str) -> Tuple[str, ...]:
    """What a site calls itself in titles, from its host: www.maria-antoniak.github.io -> mariaantoniak,
    mariaantoniakgithubio."""
    labels = [label for label in host.lower().split(".") if label and label != "www"]
    if not labels:
        return ()
    names = {_squash("".join(labels)), _squash(labels[0])}
    if len(labels) >= 2:
        names.add(_squash(labels[-2]))
    return tuple(n for n in names if len(n) >= 3)


@dataclass(frozen=True)
class Site:
    """How a site names itself: its og:site_name, and its host's labels."""

    name: str = ""
    host: str = ""

    def is_named_by(self, text: str) -> bool:
        """Whether a title part is the site's name ("Maria Antoniak" on maria-antoniak.github.io)."""
        squashed = _squash(text)
        if not squashed:
            return False
        if squashed == _squash(self.name):
            return True
        return any(squashed == h or (len(h) >= 6 and h in squashed) for h in _host_names(self.host))


def split_site_name(title: str, site: Site = Site()) -> str:
    """The page's own title without the site's name ("Data Science Crash Course | Maria Antoniak").

    Parts are cut at spaced separators (| - – — · » ~ / ::). Parts that name the site go; when none
    does, a last part shorter than the first goes (the usual "Page – Site"). A "Site: Page" prefix
    goes only when it names the site or is a label ("Details: ", "Re: "); "Spider-Man: Homecoming"
    stays whole.
    """
    title = title.strip()
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title) if p.strip()]
    if len(parts) >= 2:
        kept = [p for p in parts if not site.is_named_by(p)]
        if kept and len(kept) < len(parts):
            title = " - ".join(kept)
        elif len(parts[-1]) < len(parts[0]):
            title = " - ".join(parts[:-1])
    for _ in range(2):  # "Internet Archive: Details: No Thoroughfare"
        prefix, colon, rest = title.partition(": ")
        if not (colon and rest.strip() and (site.is_named_by(prefix) or _squash(prefix) in TITLE_LABELS)):
            break
        title = rest.strip()
    return title


GENERIC_TITLES = frozenset(_squash(t) for t in (
    "home", "homepage", "home page", "index", "main page", "start", "welcome", "untitled", "untitled document",
    "new page", "page", "document", "default", "blog", "news", "archive", "archives", "search", "search results",
    "login", "log in", "sign in", "sign up", "register", "contact", "contact us", "about", "about us",
    "privacy policy", "terms of service", "terms of use", "terms and conditions", "cookie policy", "sitemap",
    "page not found", "not found", "404", "404 not found", "403 forbidden", "forbidden", "access denied",
    "error", "500 internal server error", "internal server error", "service unavailable", "bad request",
    "just a moment", "attention required", "redirecting", "loading", "please wait", "coming soon",
    "under construction", "site maintenance", "maintenance", "account suspended", "domain for sale",
    "this domain is for sale", "parked domain", "website", "my blog", "test", "test page", "null", "none",
    "about me", "view post", "view posts", "view topic", "forum", "forums", "faq", "faqs",
    "frequently asked questions", "help", "downloads", "details", "gallery", "photos", "videos", "links", "events",
    "products", "services", "shop", "store", "cart", "shopping cart", "checkout", "my account", "profile",
))
# Labels sites put before the page's own title ("Details: No Thoroughfare", "Re: Jack Straw").
TITLE_LABELS = frozenset({"details", "re", "fw", "fwd", "view", "viewing", "topic", "thread", "post", "article",
                          "blog", "news", "page", "home"})
_INDEX_OF = re.compile(r"^(?:index of|directory listing for|listing of)\b", re.I)


# A site's own pages about itself: "About IA", "Donate", "Who We Are", "Contact the team". Their title
# names the page only with the site's name in it ("About the Internet Archive"): without it, every
# site's about page has the same query.
SITE_PAGE_HEADS = ("about", "donate", "donation", "donations", "contact", "support", "who we are", "what we do",
                   "our mission", "our team", "our story", "our staff", "meet the team", "get involved",
                   "get in touch", "join us", "give", "make a gift", "ways to give", "how to help")
# Words that may follow the head without naming anything ("About us", "Donate now", "Contact information").
SITE_PAGE_FILLERS = frozenset({"us", "me", "our", "the", "this", "site", "page", "now", "today", "here", "info",
                               "information", "form", "details", "team", "to", "a", "an", "gift", "online",
                               "and", "history", "staff", "people", "mission", "organization", "organisation",
                               "website", "company", "with", "hours", "directions", "and"})
# Path segments of such pages (extension left out): with one in the URL, "About IA" is the site's
# about page; without, "About a Boy" is a film's page.
SITE_PAGE_SLUGS = frozenset({"about", "about-us", "aboutus", "about_us", "about-me", "aboutme", "donate",
                             "donation", "donations", "give", "giving", "support", "support-us", "contact",
                             "contact-us", "contactus", "contact_us", "who-we-are", "whoweare", "our-team", "team",
                             "mission", "our-mission", "get-involved", "join", "join-us", "staff"})
_SITE_PAGE_HEADS = tuple(sorted((tuple(h.split()) for h in SITE_PAGE_HEADS), key=len, reverse=True))
_TITLE_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")
MAX_SITE_PAGE_REST_WORDS = 3  # "About IA", "About the Project": a longer rest says what the page is about


def is_site_page_path(path: str) -> bool:
    """A URL path with an about, donate or contact segment (/about/, /donate.php, /who-we-are)."""
    return any(segment.lower().split(".")[0] in SITE_PAGE_SLUGS for segment in path[:300].split("/")[:8])


def is_site_page_title(title: str, site: "Site" = None, path: str = "") -> bool:
    """An about, donate or contact page's title that names nothing else: the head alone or with
    filler words ("Donate Now", "Who We Are", "Contact Us"), or, on a URL with such a path segment,
    the head and a few words that do not name the site ("About IA" on archive.org/about/). Kept:
    the site's name with it ("About the Internet Archive"), a longer rest, and outside such URLs
    any rest ("Support Vector Machines", "About a Boy"). Reads at most the first 12 words."""
    words = [w.casefold() for w in _TITLE_WORD.findall(title[:200])][:12]
    for head in _SITE_PAGE_HEADS:
        if tuple(words[:len(head)]) == head:
            rest = [w for w in words[len(head):] if w not in SITE_PAGE_FILLERS]
            if not rest:
                return True
            if len(rest) > MAX_SITE_PAGE_REST_WORDS or len(words) >= 12 or not is_site_page_path(path):
                return False
            return not (site is not None and site.is_named_by(" ".join(rest)))
    return False


# A personal or lab site's sections, once the site's name is split off ("research | Kyle Lo"): the
# title says what kind of page it is, not what it holds.
SECTION_TITLES = frozenset(_squash(t) for t in (
    "research", "publications", "selected publications", "papers", "projects", "teaching", "talks", "cv",
    "resume", "bio", "biography", "members", "students", "people", "team", "lab members"))


def is_generic_title(title: str, site: "Site" = None, path: str = "") -> bool:
    """A title that names no page: "Home", "Index of /pub", "404 Not Found", "Untitled Document",
    a site section's name alone ("Research", "Publications"), and a site's about, donate or contact
    page unless the site's name stays with it (is_site_page_title)."""
    squashed = _squash(title)
    return (squashed in GENERIC_TITLES or squashed in SECTION_TITLES or _INDEX_OF.match(title) is not None
            or is_site_page_title(title, site, path))


# Section labels sites put before or after the page's own title ("Blog - Why we moved", "Why we
# moved - News"): cut when another part remains.
SECTION_LABELS = frozenset(_squash(t) for t in (
    "blog", "news", "articles", "article", "posts", "post", "stories", "story", "press", "press release",
    "press releases", "events", "event", "updates", "announcements", "insights", "resources", "category",
    "categories", "archives", "archive", "tag", "tags", "topic", "topics", "forum", "forums", "thread",
    "discussion", "podcast", "episodes", "videos", "video", "library", "latest news", "news and events",
    "news & events", "our blog", "the blog", "blog post", "news release", "newsroom", "magazine"))
_LABEL_SEPARATOR = _TITLE_SEPARATORS


def strip_section_label(title: str) -> Tuple[str, bool]:
    """(title, cut?): a section label before or after the title's own words ("Blog - Why we moved",
    "Blog: Why we moved", "Why we moved | News") cut; a title that is only a label stays. The
    "Label: " prefix is cut once (the rest is not read again for one: linear)."""
    cut = False
    prefix, colon, rest = title.partition(": ")
    if colon and rest.strip() and len(prefix) <= 40 and _squash(prefix) in SECTION_LABELS:
        title, cut = rest.strip(), True
    parts = [p.strip() for p in _LABEL_SEPARATOR.split(title.strip()) if p.strip()]
    if len(parts) < 2:
        return title, cut
    if _squash(parts[0]) in SECTION_LABELS:
        parts, cut = parts[1:], True
    if len(parts) >= 2 and _squash(parts[-1]) in SECTION_LABELS:
        parts, cut = parts[:-1], True
    if not cut:
        return title, False
    # the rest keeps its own separators: only the label and the separator next to it go
    return _rejoin(title, parts), True


def _rejoin(title: str, parts: List[str]) -> str:
    """The stretch of `title` from the first kept part to the last (its own separators kept)."""
    start = title.find(parts[0])
    end = title.rfind(parts[-1])
    return title[start:end + len(parts[-1])].strip() if start != -1 and end != -1 and end >= start else \
        " - ".join(parts)


# ---- prose lines, sentences, passages ----

END_MARKS = (".", "!", "?", '"', "\u201d", "\u2019", "'", "\u3002", "\uff01", "\uff1f", "\u300d", "\u300f")
ELLIPSES = ("...", "\u2026")
# What resiliparse and pages put before list items ("• ", "- ", "* ", "▪ ").
BULLETS = ("\u2022", "-", "*", "\u00b7", "\u2023", "\u25aa", "\u25e6", "\u25cf", "\u2043", "\u25ba", "\u2013",
           "\u2014", "\u27a2", "\u2192")
# Notices that pass for prose: C4's policy phrases, the JavaScript warning C4 removes, calls to action.
NOTICE_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                  "use cookies", "accept cookies", "cookie settings", "javascript",
                  # calls to action that end in a full stop as often as menus do
                  "click here", "follow us on", "subscribe to our newsletter", "sign up for our newsletter",
                  "all rights reserved")
_BULLET = re.compile("^(?:[%s]\\s+)+" % re.escape("".join(BULLETS)))
_LIST_NUMBER = re.compile(r"^\(?\d{1,4}[.)]\s+")
_CITATION = re.compile(r"\[(?:\d{1,3}|citation needed|edit|update)\]", re.I)
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,20}(?:\s[^<>]{0,200})?/?>|&(?:[a-z]{2,8}|#\d{2,6});")
MIN_LINE_WORDS = 3
# A mark run (with its closing quotes) followed by a space ends a sentence. It is matched only from
# the run's first mark and taken whole: tried from every position of a run of 20,000 "!", the
# plain `[.!?]+` read the rest of the run each time (10 s).
_SENTENCE_END = re.compile(r"(?<![.!?\u3002\uff01\uff1f])([.!?\u3002\uff01\uff1f]++)[\"'\u201d\u2019)\]]*+(?=\s)")
_WORD_LOOKBACK = 32  # characters read back for the word before a full stop: longer than any abbreviation
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "jr", "sr", "inc",
                           "ltd", "co", "fig", "vol", "pp", "ca", "approx", "dept", "gen", "gov",
                           "mt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"})


# Shell and command lines that pages show as text ("$ pip install foo", "sudo apt-get install -y git",
# "git clone https://…"): no prose, though some end in a full stop. A line is one when it starts with
# a prompt ("$ ", "% ", "user@host:~$ ") and a word, or with a command name (after an optional
# "sudo") and holds a flag, a path, an assignment, a pipe or a known subcommand. Read token by token
# (linear): no backtracking pattern.
COMMANDS = frozenset({"python", "python2", "python3", "pip", "pip3", "pipx", "conda", "mamba", "git", "npm", "npx",
                      "yarn", "pnpm", "apt", "apt-get", "yum", "dnf", "brew", "curl", "wget", "cd", "ls", "mkdir",
                      "rm", "cp", "mv", "chmod", "chown", "docker", "kubectl", "make", "cmake", "gcc", "g++", "tar",
                      "ssh", "scp", "rsync", "export", "source", "bash", "sh", "zsh", "node", "ruby", "gem",
                      "cargo", "rustup", "go", "twine", "poetry", "virtualenv", "ln", "unzip", "gunzip", "java",
                      "javac", "mvn", "gradle", "systemctl", "service", "jupyter", "pytest", "uv"})
SUBCOMMANDS = frozenset({"install", "uninstall", "clone", "run", "upgrade", "commit", "push", "pull", "init",
                         "build", "add", "update", "checkout", "config", "create", "activate", "exec", "start",
                         "stop", "remove", "fetch", "merge", "rebase", "status", "log", "diff", "compose",
                         "upload", "setup.py", "manage.py", "-m", "-c"})
_PROMPT = re.compile(r"(?:[$%>#]|[\w.-]{1,40}@[\w.-]{1,60}:[^\s$#]{0,120}[$#]|[A-Za-z]:\\[^>\s]{0,120}>)\s+\S")
_COMMAND_SIGNS = ("-", "/", "=", "*", "|", "&&", "~", ">", "<", "$", "\\")
MAX_COMMAND_TOKENS = 24


def is_command_line(line: str) -> bool:
    """A shell or command line shown as text: "$ ls -la", "pip install --user twine",
    "sudo apt-get install git", "python3 setup.py sdist bdist_wheel", "C:\\> dir"."""
    line = line.strip()
    if _PROMPT.match(line[:200]):
        return True
    tokens = line[:400].split(None, MAX_COMMAND_TOKENS + 1)
    if not tokens or len(tokens) > MAX_COMMAND_TOKENS:
        return False
    if tokens[0] == "sudo":
        tokens = tokens[1:]
    if len(tokens) < 2 or tokens[0] not in COMMANDS:
        return False
    arguments = tokens[1:]
    return (arguments[0].rstrip(".") in SUBCOMMANDS
            or any(t.startswith(_COMMAND_SIGNS) or "/" in t or "=" in t or "&&" in t for t in arguments))


def prose_lines(text: str, commands: Optional[List[int]] = None) -> List[str]:
    """The lines of a main text that read as prose (C4): ending in terminal punctuation, not in an
    ellipsis, at least 3 words, no cookie/terms/JavaScript notice, no markup shown as text, not a
    menu ("Skin: classic | columns | custom!"), no undecodable byte (U+FFFD), not a line seen before on
    the page (list numbers aside); list bullets and citation marks ([1], [edit]) removed. With
    `commands` (a list), shell and command lines (is_command_line) are left out too, counted in
    commands[0]."""
    kept, seen = [], set()
    for line in text.split("\n"):
        line = _BULLET.sub("", line.strip())
        if "[" in line:
            line = _CITATION.sub("", line).strip()
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSES) or line.count(" | ") >= 2:
            continue
        if len(line.split()) < MIN_LINE_WORDS:
            continue
        lower = line.lower()
        if any(phrase in lower for phrase in NOTICE_PHRASES) or ("<" in line or "&" in line) and _MARKUP.search(line):
            continue
        if "\ufffd" in line:  # a byte no charset could decode: the line is damaged
            continue
        if commands is not None and is_command_line(line):
            commands[0] += 1
            continue
        key = _LIST_NUMBER.sub("", lower)
        if key in seen:  # the same item again ("6. Alice's Adventures…", "5. Alice's Adventures…")
            continue
        seen.add(key)
        kept.append(line)
    return kept


def sentences(text: str) -> List[str]:
    """Sentences: a line ends one, and so does terminal punctuation (with its closing quotes or
    brackets) before a space, unless it ends an abbreviation ("Dr.", "e.g.", a single initial)."""
    out = []
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            word = _word_before(line, start, match.start())
            if match.group(1) == "." and (len(word) == 1 and word.isalpha() or word in ABBREVIATIONS):
                continue
            sentence = line[start:match.end()].strip()
            if sentence:
                out.append(sentence)
            start = match.end()
        if line[start:].strip():
            out.append(line[start:].strip())
    return out


def _word_before(line: str, start: int, end: int) -> str:
    """What `line[start:end].rsplit(None, 1)[-1].lower().rstrip(".")` gives, without copying the line
    from `start` for every mark: in "a. b. c. …" every mark follows an initial, `start` stays put, and
    that copy made the line quadratic. Spaces and dots before `end` are stepped over (each once: the
    stretches between marks do not overlap), then at most _WORD_LOOKBACK characters are read; a
    longer word is no abbreviation either way."""
    stop = end
    while stop > start and line[stop - 1].isspace():
        stop -= 1
    while stop > start and line[stop - 1] == ".":
        stop -= 1
    if stop == start or line[stop - 1].isspace():
        return ""
    words = line[max(start, stop - _WORD_LOOKBACK):stop].rsplit(None, 1)
    return words[-1].lower()


MIN_REPEATED_SENTENCE_WORDS = 3  # "2." and "Yes." may come twice; a sentence of 3+ words once


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same one: letters and digits, casefolded (spacing, quotes and
    final marks aside)."""
    return _squash(sentence)


def passage_of(lines: List[str], max_words: int, repeats: Optional[List[int]] = None) -> str:
    """The start of the prose, whole sentences up to max_words words; a first sentence longer than
    the budget is cut at max_words words. With `repeats` (a list), a sentence already in the passage
    is left out and counted in repeats[0] ("At this time, the collection is not open to uploads."
    twice on one page)."""
    out: List[str] = []
    words = 0
    seen = set()
    for line in lines:
        kept, line_sentences = [], sentences(line)
        if repeats is not None:
            unique = []
            for sentence in line_sentences:
                key = sentence_key(sentence) if len(sentence.split()) >= MIN_REPEATED_SENTENCE_WORDS else ""
                if key and key in seen:
                    repeats[0] += 1
                    continue
                seen.add(key)
                unique.append(sentence)
            line_sentences = unique
        for sentence in line_sentences:
            n = len(sentence.split())
            if words + n > max_words:
                break
            kept.append(sentence)
            words += n
        if kept:
            out.append(" ".join(kept))
        if len(kept) < len(line_sentences):
            if not out:
                return " ".join(line_sentences[0].split()[:max_words])
            break
    return "\n".join(out)


# ---- lines a site repeats (boilerplate) ----

_DIGITS = re.compile(r"\d")


def line_key(line: str) -> str:
    """The key under which a line is counted across a site's pages (CCNet): casefolded, digits as 0,
    whitespace collapsed, hashed (blake2b, 8 bytes: the same on every run and worker)."""
    normal = " ".join(_DIGITS.sub("0", line.casefold()).split())
    return hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def text_key(text: str) -> str:
    """A page text's key: captures with the same text count as one page of their site."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def line_keys(text: str) -> List[str]:
    """The distinct keys of a text's non-empty lines, sorted (what a page adds to its site's counts)."""
    return sorted({line_key(line) for line in text.split("\n") if line.strip()})


def without_lines(text: str, keys, line_keys: Optional[List[str]] = None) -> Tuple[str, int, int]:
    """(text without the lines whose key is in `keys`, lines removed, characters removed).
    `line_keys`: the line_key of each non-empty line of the text in order, when known already."""
    if line_keys is not None and keys.isdisjoint(line_keys):
        return text, 0, 0
    next_key = iter(line_keys).__next__ if line_keys is not None else None
    kept, removed, chars = [], 0, 0
    for line in text.split("\n"):
        if line.strip() and (next_key() if next_key else line_key(line)) in keys:
            removed += 1
            chars += len(line)
        else:
            kept.append(line)
    return ("\n".join(kept), removed, chars) if removed else (text, 0, 0)
