"""Generated Stack Exchange site dumps (Posts.xml with BOM + CRLF, bare or in a per-site .7z).

The mix exercises every rule: accepted answers (some with score 0, one net-downvoted so the best
upvoted answer wins instead), questions without answers or with only unvoted ones, answers whose
question is missing, tag wikis (PostTypeId 4/5) and a wiki placeholder (7), non-English,
too-short and link-only answers, code blocks, lists and entities in bodies; and, on request,
a truncated row and a row with an undefined entity. Same arguments, same bytes.
Also: files that must be refused whole (billion laughs, XXE) for tests and demos.
"""

import datetime as _dt
import os
import random
from typing import Dict, Iterable, List, Sequence

from sources.demo_inputs.topics import NON_ENGLISH, OFF_TOPIC, TOPICS, answer, make_anchor, question

BASE_TIME = _dt.datetime(2021, 3, 1, tzinfo=_dt.timezone.utc)
ROW_ORDER = ("Id", "PostTypeId", "AcceptedAnswerId", "ParentId", "CreationDate", "Score", "ViewCount", "Body",
             "OwnerUserId", "LastActivityDate", "Title", "Tags", "AnswerCount", "CommentCount")
MALFORMED_ROWS = (
    b'  <row Id="900001" PostTypeId="2" ParentId="1" CreationDate="2021-03-01T00:00:00.000" Score="3" Body="&lt;p&gt;cut',
    b'  <row Id="900002" PostTypeId="2" ParentId="1" CreationDate="2021-03-01T00:00:00.000" Score="3" '
    b'Body="&lt;p&gt;Use a scale&nbsp;and a timer, it makes brewing repeatable.&lt;/p&gt;" />',
)


def _date(seconds: int) -> str:
    return (BASE_TIME + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def escape_attribute(value: str) -> str:
    """The escaping dumps use: XML's five characters, line breaks as character references."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\r", "&#xD;").replace("\n", "&#xA;"))


def row_line(row: Dict[str, object]) -> bytes:
    names = [n for n in ROW_ORDER if n in row] + sorted(n for n in row if n not in ROW_ORDER)
    attributes = " ".join(f'{n}="{escape_attribute(str(row[n]))}"' for n in names)
    return f"  <row {attributes} />".encode("utf-8")


def _answer_body(rng: random.Random, topic: str, anchor: str) -> str:
    text = answer(rng, topic, anchor)
    roll = rng.random()
    if roll < 0.15:
        return f"<p>{text}</p>\n\n<pre><code>{topic} --ratio 1:16 &amp;&amp; echo &quot;done&quot;\n</code></pre>\n"
    if roll < 0.3:
        return (f"<p>{text}</p>\n\n<ul>\n<li>start with {rng.choice(TOPICS[topic]['things'])}</li>\n"
                f"<li>then <strong>{rng.choice(TOPICS[topic]['verbs'])}</strong> slowly</li>\n</ul>\n")
    if roll < 0.4:
        return f'<p>{text} See <a href="https://example.org/{topic}" rel="nofollow">this guide</a>.</p>\n'
    return f"<p>{text}</p>\n"


def _odd_answer_body(rng: random.Random, kind: str) -> str:
    if kind == "non_english":
        return f"<p>{rng.choice(NON_ENGLISH)}</p>\n"
    if kind == "too_short":
        return f"<p>{rng.choice(OFF_TOPIC)}</p>\n"
    return '<p><a href="https://example.org/x" rel="nofollow">https://example.org/x</a></p>\n'


def generate_rows(n_questions: int, seed: int = 0, max_answers: int = 5) -> List[Dict[str, object]]:
    """Rows in dump order (by Id). Roughly: 1 question : 2.3 answers, like real sites."""
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    rows: List[Dict[str, object]] = []
    next_id = 1
    t = 0
    for i in range(n_questions):
        topic = topics[i % len(topics)]
        anchor = make_anchor(rng)
        qid, next_id = next_id, next_id + 1
        t += rng.randrange(60, 3600)
        n_answers = rng.choice([0] + list(range(1, max_answers + 1)) * 2)
        answers = []
        for _ in range(n_answers):
            aid, next_id = next_id, next_id + 1
            roll = rng.random()
            odd = "non_english" if roll < 0.04 else "too_short" if roll < 0.07 else "link_only" if roll < 0.09 else None
            body = _odd_answer_body(rng, odd) if odd else _answer_body(rng, topic, anchor)
            answers.append({"Id": aid, "PostTypeId": 2, "ParentId": qid, "CreationDate": _date(t + 600 * len(answers) + 60),
                            "Score": rng.choice([-2, -1, 0, 0, 1, 1, 2, 3, 5, 8, 13, 40]), "Body": body,
                            "OwnerUserId": rng.randrange(1, 5000), "LastActivityDate": _date(t + 90_000),
                            "CommentCount": rng.randrange(0, 4)})
        if i % 11 == 5:  # nobody liked any answer: no pair
            for a in answers:
                a["Score"] = rng.choice([-1, 0])
        q = {"Id": qid, "PostTypeId": 1, "CreationDate": _date(t), "Score": rng.randrange(-1, 50),
             "ViewCount": rng.randrange(10, 10_000), "Body": f"<p>{answer(rng, topic)}</p>\n<p>Thanks in advance!</p>\n",
             "OwnerUserId": rng.randrange(1, 5000), "LastActivityDate": _date(t + 90_000),
             "Title": question(rng, topic, anchor), "Tags": f"<{topic}><beginner>", "AnswerCount": len(answers),
             "CommentCount": rng.randrange(0, 4)}
        if answers and rng.random() < 0.6:
            accepted = rng.choice(answers)
            if i % 13 == 7:
                accepted["Score"] = -3  # accepted but net-downvoted: the best upvoted answer is used
            elif i % 13 == 3:
                accepted["Score"] = 0  # accepted but unvoted: not "upvoted", the best upvoted answer is used
            q["AcceptedAnswerId"] = accepted["Id"]
        rows.append(q)
        rows.extend(answers)
        if i % 25 == 24:  # a tag's wiki excerpt and body (PostTypeId 4 and 5)
            for post_type in (4, 5):
                rows.append({"Id": next_id, "PostTypeId": post_type, "CreationDate": _date(t), "Score": 0,
                             "Body": f"<p>Questions about {topic}.</p>", "LastActivityDate": _date(t), "CommentCount": 0})
                next_id += 1
    rows.append({"Id": next_id, "PostTypeId": 7, "CreationDate": _date(0), "Score": 0, "Body": "",
                 "LastActivityDate": _date(0), "CommentCount": 0})
    rows.append({"Id": next_id + 1, "PostTypeId": 2, "ParentId": next_id + 1000, "CreationDate": _date(t + 60),
                 "Score": 4, "Body": f"<p>{answer(rng, topics[0])}</p>", "LastActivityDate": _date(t + 60),
                 "CommentCount": 0})  # its question is not in the dump
    return rows


def posts_xml(rows: Iterable[Dict[str, object]], *, bom: bool = True, newline: bytes = b"\r\n",
              extra_lines: Sequence[bytes] = ()) -> Iterable[bytes]:
    """The bytes of a Posts.xml, piece by piece (a large one never sits in memory)."""
    yield (b"\xef\xbb\xbf" if bom else b"") + b'<?xml version="1.0" encoding="utf-8"?>' + newline + b"<posts>" + newline
    for row in rows:
        yield row_line(row) + newline
    for line in extra_lines:
        yield line + newline
    yield b"</posts>"


def write_posts_xml(path: str, rows: Iterable[Dict[str, object]], **kwargs) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as fh:
        for piece in posts_xml(rows, **kwargs):
            fh.write(piece)
    return path


def _small_table(name: str) -> bytes:
    tag = name[:-4].lower()
    return (b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<" + tag.encode() + b">\r\n"
            b'  <row Id="1" Name="demo" />\r\n</' + tag.encode() + b">")


def write_site_archive(path: str, posts_xml_path: str, fast: bool = False) -> str:
    """A per-site dump as published: one solid .7z with Posts.xml among the other tables.

    Badges.xml and Comments.xml come first, as in real archives, so a reader has to go past them.
    `fast` uses LZMA2 preset 1 (for large benchmark files; real dumps use stronger settings).
    """
    import py7zr

    filters = [{"id": py7zr.FILTER_LZMA2, "preset": 1}] if fast else None
    with py7zr.SevenZipFile(path, "w", filters=filters) as archive:
        archive.writestr(_small_table("Badges.xml"), "Badges.xml")
        archive.writestr(_small_table("Comments.xml"), "Comments.xml")
        archive.write(posts_xml_path, "Posts.xml")
        archive.writestr(_small_table("Tags.xml"), "Tags.xml")
        archive.writestr(_small_table("Users.xml"), "Users.xml")
    return path


def write_demo_dumps(directory: str, n_questions: int = 300, seed: int = 0) -> List[str]:
    """demo.stackexchange.com.7z and a bare demo2.stackexchange.com/Posts.xml (LF, with two malformed rows)."""
    os.makedirs(directory, exist_ok=True)
    staging = write_posts_xml(os.path.join(directory, ".staging", "Posts.xml"), generate_rows(n_questions, seed))
    archive = write_site_archive(os.path.join(directory, "demo.stackexchange.com.7z"), staging)
    os.remove(staging)
    os.rmdir(os.path.dirname(staging))
    bare = write_posts_xml(os.path.join(directory, "demo2.stackexchange.com", "Posts.xml"),
                           generate_rows(max(1, n_questions // 3), seed + 1), newline=b"\n", extra_lines=MALFORMED_ROWS)
    return [archive, bare]


BILLION_LAUGHS = b"""\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE posts [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<posts>
  <row Id="1" PostTypeId="1" CreationDate="2021-03-01T00:00:00.000" Score="5" Title="How do I brew with a French press?" Body="&lol9;" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2021-03-01T00:00:00.000" Score="5" Body="&lt;p&gt;Grind coarse, steep four minutes, then press slowly. &lol9;&lt;/p&gt;" />
</posts>"""

XXE = b"""\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE posts [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<posts>
  <row Id="1" PostTypeId="1" CreationDate="2021-03-01T00:00:00.000" Score="5" Title="How do I brew with a French press?" Body="&xxe;" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2021-03-01T00:00:00.000" Score="5" Body="&lt;p&gt;Grind coarse and steep it for four minutes: &xxe;&lt;/p&gt;" />
</posts>"""


def write_bytes(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path
