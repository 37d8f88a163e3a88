"""Real (query, passage) pairs from the shared dev samples (../shared/data), for benchmarks only.

- dbpedia:        BEIR DBPedia-Entity subset, entity title -> abstract (5000)
- stackexchange:  beer.stackexchange 2017 dump, question title -> answer body (HTML stripped)
- semanticscholar: S2ORC 2020 metadata, paper title -> abstract
Parsing is deliberately minimal (this is not the extraction pipeline, which lives in sources/).
"""

from __future__ import annotations

import hashlib
import html
import json
import pathlib
import re
import xml.etree.ElementTree as ET
from typing import List, Tuple

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
Item = Tuple[str, str, str, str]  # query, passage, query_id, passage_id
TAG = re.compile(r"<[^>]+>")


def dbpedia_items() -> List[Item]:
    items = []
    with open(SHARED / "eval" / "beir-dbpedia-entity-subset" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d["title"].strip() and d["text"].strip():
                items.append((d["title"].strip(), d["text"].strip(), d["_id"], d["_id"]))
    return items


def stackexchange_items() -> List[Item]:
    titles, answers = {}, []
    path = SHARED / "stackexchange" / "beer.stackexchange.com-2017-03.Posts.xml"
    for _, row in ET.iterparse(path):
        if row.tag != "row":
            continue
        a = row.attrib
        if a.get("PostTypeId") == "1":
            titles[a["Id"]] = a.get("Title", "")
        elif a.get("PostTypeId") == "2":
            text = " ".join(html.unescape(TAG.sub(" ", a.get("Body", ""))).split())
            answers.append((a.get("ParentId"), a["Id"], text))
        row.clear()
    return [(titles[q], text, q, aid) for q, aid, text in answers if titles.get(q) and len(text) >= 20]


def semanticscholar_items() -> List[Item]:
    items = []
    path = SHARED / "semanticscholar" / "s2orc-v2020-07-05" / "metadata-sample.part1-of-2.jsonl"
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("title") and d.get("abstract"):
                items.append((d["title"].strip(), d["abstract"].strip(), d["paper_id"], d["paper_id"]))
    return items


def held_out(items: List[Item], n: int) -> List[Item]:
    """The n items with the smallest hash of their passage id: the same split on every run and machine."""
    return sorted(items, key=lambda i: hashlib.blake2b(i[3].encode(), digest_size=8).digest())[:n]
