"""Read a BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.

Document text is title + " " + text, stripped (as BEIR's dense-retrieval models do). Ids are opaque
strings (DBPedia's look like `<dbpedia:Art_in_Paris>`). The qrels file may start with the usual
`query-id corpus-id score` header line or not.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import pathlib
from typing import Dict


@dataclasses.dataclass
class BeirData:
    corpus: Dict[str, str]  # doc id -> "title text"
    queries: Dict[str, str]  # query id -> text
    qrels: Dict[str, Dict[str, int]]  # query id -> doc id -> grade


def _jsonl(path: pathlib.Path):
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{line_no}: not JSON ({e})") from None


def load_qrels(path: os.PathLike | str) -> Dict[str, Dict[str, int]]:
    qrels: Dict[str, Dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) == 4:  # TREC layout: qid 0 docid grade
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                raise ValueError(f"{path}:{line_no}: expected 3 tab-separated fields, got {len(row)}")
            qid, did, grade = row
            try:
                value = int(float(grade))
            except ValueError:
                if line_no == 1:
                    continue  # header
                raise ValueError(f"{path}:{line_no}: score {grade!r} is not a number") from None
            qrels.setdefault(qid, {})[did] = value
    return qrels


def load_beir(folder: os.PathLike | str, split: str = "test") -> BeirData:
    folder = pathlib.Path(folder)
    corpus = {str(d["_id"]): (d.get("title", "") + " " + d.get("text", "")).strip()
              for d in _jsonl(folder / "corpus.jsonl")}
    queries = {str(q["_id"]): q["text"] for q in _jsonl(folder / "queries.jsonl")}
    qrels = load_qrels(folder / "qrels" / f"{split}.tsv")
    return BeirData(corpus, queries, qrels)
