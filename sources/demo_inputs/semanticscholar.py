"""Generated S2AG dataset files (papers, abstracts, citations; JSON lines, gzip) for demos.

The layout and field names are those of the S2AG datasets API (release files copied into one folder
per dataset, as the README says): ``papers/`` rows carry ``corpusid`` (an integer), ``title``,
``authors``, ``year``, ``citationcount`` ...; ``abstracts/`` rows ``corpusid``, ``abstract`` and
``openaccessinfo``; ``citations/`` rows ``citingcorpusid``/``citedcorpusid`` as strings (the cited
one null for an unresolved reference). Unlike the official samples, the three datasets describe
the same papers, so titles join abstracts and citations link papers of the demo.

Papers are studies on the demo topics (sources/demo_inputs/topics.py); a paper cites earlier
papers on its topic, mostly on the same thing. The mix also holds what a real release holds: papers
without an abstract, abstracts of papers not in ``papers``, a non-English abstract, a too-short
one, a paper listed twice, unresolved and self citations, citations of papers outside the release,
and one cut line. Same arguments, same bytes (gzip mtime 0).
"""

import gzip
import json
import os
import random
from typing import Dict, List, Tuple

from sources.demo_inputs.topics import (DETAILS, FIELDS, MEASURES, SETTINGS, TOPICS, bare, capitalized, is_plural,
                                        person, statement)

RELEASE = "2024-05-21"
FIRST_CORPUS_ID = 250_000_000
_TITLES = (
    "Effects of {plain} on {measure} in {setting}",
    "{Measure} and {plain}: evidence from {setting}",
    "Does {thing} improve {measure}? A controlled comparison in {setting}",
    "Modelling {measure} with {plain} across {setting}",
    "{Plain} versus {other_bare}: a study of {measure}",
    "Towards better {measure}: the role of {thing} in {field}",
)
_BACKGROUND = (
    "{Plain} {is_} widely used in {field}, yet its effect on {measure} remains poorly understood.",
    "Practitioners of {field} often claim that {fact}, but controlled evidence is scarce.",
    "Little quantitative work has examined how {thing} relates to {measure}.",
)
_METHOD = (
    "We conducted {n} trials in {setting}, comparing {thing} with {other}.",
    "Using data from {n} sessions in {setting}, we measured {measure} with and without {thing}.",
    "We designed a repeated-measures experiment ({n} cases) in {setting} to isolate the contribution of {plain}.",
)
_RESULT = (
    "{Measure} changed by {pct}% when {thing} {was} used (p < 0.0{p}).",
    "{Plain} {was} associated with a {pct}% difference in {measure} relative to {other}.",
    "The effect on {measure} reached {pct}% and was consistent across conditions.",
)
_OBSERVATION = (
    "We also found that {detail}.", "A secondary analysis indicated that {detail}.",
    "Unexpectedly, the data showed that {detail}.",
)
_CONCLUSION = (
    "These results suggest that {fact2}, with practical consequences for {setting}.",
    "We discuss implications for {field} and argue that {thing} deserves closer attention.",
    "Our findings support the view that {fact2}, and we release our measurements for replication.",
)
_NON_ENGLISH = ("El café de especialidad se ha convertido en un objeto de estudio. En este trabajo analizamos la "
                "extracción del espresso en cafeterías de Madrid y mostramos que la molienda influye en el amargor.")


def _paper(rng: random.Random, topic: str) -> Dict[str, str]:
    t = TOPICS[topic]
    thing, other = rng.sample(t["things"], 2)
    facts = [statement(f) for f in rng.sample(t["facts"], 2)]
    slots = dict(thing=thing, other=other, plain=bare(thing), is_="are" if is_plural(thing) else "is",
                 was="were" if is_plural(thing) else "was", Plain=capitalized(bare(thing)),
                 measure=rng.choice(MEASURES[topic]), setting=rng.choice(SETTINGS[topic]), field=FIELDS[topic],
                 n=rng.randrange(12, 400), pct=rng.randrange(4, 48), p=rng.randrange(1, 5),
                 fact=facts[0], fact2=facts[1], detail=rng.choice(DETAILS[topic]), other_bare=bare(other))
    slots["Measure"] = capitalized(slots["measure"])
    title = capitalized(rng.choice(_TITLES).format(**slots))
    abstract = " ".join(rng.choice(frames).format(**slots) for frames in (_BACKGROUND, _METHOD, _RESULT,
                                                                            _OBSERVATION, _CONCLUSION))
    return {"title": title, "abstract": abstract, "thing": thing}


def generate(n_papers: int = 240, seed: int = 0) -> Tuple[List[dict], List[dict], List[dict]]:
    """(papers rows, abstracts rows, citations rows), each in corpus-id order."""
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    made = []
    for i in range(n_papers):
        topic = topics[rng.randrange(len(topics))]
        paper = _paper(rng, topic)
        paper.update(corpusid=FIRST_CORPUS_ID + 7 * i + rng.randrange(7), topic=topic, year=2005 + 18 * i // n_papers)
        made.append(paper)
    citations = []
    for i, paper in enumerate(made):
        earlier = [p for p in made[:i] if p["topic"] == paper["topic"]]
        same = [p for p in earlier if p["thing"] == paper["thing"]]
        for _ in range(min(len(earlier), rng.choice([0, 1, 1, 1, 2, 2, 3]))):
            cited = rng.choice(same if same and rng.random() < 0.6 else earlier)
            citations.append((paper["corpusid"], cited["corpusid"]))
        if i % 23 == 11:
            citations.append((paper["corpusid"], None))  # an unresolved reference
        if i % 31 == 7:
            citations.append((paper["corpusid"], 900_000_000 + i))  # a paper outside this release
    citations.append((made[5]["corpusid"], made[5]["corpusid"]))  # a self-citation
    citations = sorted(set(citations), key=lambda edge: (edge[0], edge[1] or 0))
    cited_by: Dict[int, int] = {}
    for _, cited in citations:
        if cited is not None:
            cited_by[cited] = cited_by.get(cited, 0) + 1
    papers, abstracts = [], []
    for i, paper in enumerate(made):
        authors = [person(rng) for _ in range(rng.randrange(1, 5))]
        corpus_id = paper["corpusid"]
        if i % 37 != 20:  # a few papers are only in abstracts
            papers.append({
                "corpusid": corpus_id,
                "externalids": {"ACL": None, "DBLP": None, "ArXiv": None, "MAG": str(3_000_000_000 + corpus_id),
                                "CorpusId": str(corpus_id), "PubMed": None, "DOI": f"10.5555/demo.{corpus_id}",
                                "PubMedCentral": None},
                "url": f"https://www.semanticscholar.org/paper/{corpus_id:040x}",
                "title": paper["title"],
                "authors": [{"authorId": str(10_000 + sum(map(ord, a)) * 7), "name": a} for a in authors],
                "venue": f"Journal of {capitalized(FIELDS[paper['topic']])}", "publicationvenueid": None,
                "year": paper["year"], "referencecount": sum(1 for c, _ in citations if c == corpus_id),
                "citationcount": cited_by.get(corpus_id, 0), "influentialcitationcount": 0,
                "isopenaccess": i % 3 == 0,
                "s2fieldsofstudy": [{"category": "Engineering", "source": "s2-fos-model"}],
                "publicationtypes": ["JournalArticle"], "publicationdate": f"{paper['year']}-0{1 + i % 9}-15",
                "journal": {"name": f"Journal of {capitalized(FIELDS[paper['topic']])}", "pages": f"{i + 1}-{i + 12}",
                            "volume": str(paper["year"] - 2000)},
                "updated": "2024-05-10T02:09:51.713Z"})
            if i % 41 == 3:  # listed twice in papers: a duplicate record
                papers.append(dict(papers[-1]))
        if i % 29 == 13:
            continue  # no abstract in this release
        abstract = paper["abstract"]
        if i == 9:
            abstract = _NON_ENGLISH
        elif i == 17:
            abstract = "Abstract not available."
        abstracts.append({
            "corpusid": corpus_id,
            "openaccessinfo": {"externalids": {"MAG": None, "ACL": None, "DOI": f"10.5555/demo.{corpus_id}",
                                               "PubMedCentral": None, "ArXiv": None},
                               "license": "CCBY" if i % 3 == 0 else None, "url": None,
                               "status": "GREEN" if i % 3 == 0 else None},
            "abstract": abstract, "updated": "2024-05-10T01:50:42.129Z"})
    rows = [{"citingcorpusid": str(citing), "citedcorpusid": None if cited is None else str(cited),
             "isinfluential": (citing + (cited or 0)) % 5 == 0, "contexts": None,
             "intents": [["background"], ["methodology"], ["result"]][(citing + (cited or 0)) % 3],
             "updated": "2024-05-10T15:59:00.392Z"} for citing, cited in citations]
    return papers, abstracts, rows


def write_jsonl_gz(path: str, rows: List[dict], extra_lines: List[bytes] = ()) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = b"".join(json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
                    for row in rows) + b"".join(line + b"\n" for line in extra_lines)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data, compresslevel=6, mtime=0))
    return path


def write_demo_dumps(directory: str, n_papers: int = 240, seed: int = 0) -> List[str]:
    """papers/, abstracts/ and citations/ of one release (a .jsonl.gz file each, the citations with
    one cut line); returns the three paths."""
    papers, abstracts, citations = generate(n_papers, seed)
    return [write_jsonl_gz(os.path.join(directory, "papers", f"papers-{RELEASE}-part0.jsonl.gz"), papers),
            write_jsonl_gz(os.path.join(directory, "abstracts", f"abstracts-{RELEASE}-part0.jsonl.gz"), abstracts),
            write_jsonl_gz(os.path.join(directory, "citations", f"citations-{RELEASE}-part0.jsonl.gz"), citations,
                           extra_lines=[b'{"citingcorpusid":"250000003","citedcorpusid":"2500']
                           )]
