"""A small BEIR-format retrieval set on the demo topics, for machines without the shared eval sample.

corpus.jsonl, queries.jsonl and qrels/test.tsv (with header), like BEIR's own folders. A document
is about one thing of a demo topic ("a moka pot") and one aspect of it (storing, cleaning, buying,
safety, history, fixing problems); a query asks about a (thing, aspect), and its relevant documents
are those on that thing and aspect. The rest of the corpus is the same thing's other aspects (hard
negatives), the same aspect of other things, and other topics. So a model must match the thing
and the question, not only the topic.

The sentences here are written for this set alone: no text is shared with the demo dumps
(sources/demo_inputs: Reddit, Stack Exchange, Wikipedia, Semantic Scholar, Common Crawl), so the
corpus job's decontamination (13-word n-grams) leaves the demo pairs alone, as it would a real
evaluation set that the training data does not quote.
"""

import json
import os
import random
from typing import Dict, List, Tuple

from sources.demo_inputs.topics import FIELDS, TOPICS, bare, capitalized

# aspect -> (heading, query frames, document sentence frames)
ASPECTS: Dict[str, Tuple[str, List[str], List[str]]] = {
    "storage": ("storage", [
        "where should I keep {thing} when I am not using it",
        "best way to store {plain} for months without damage",
        "does {plain} go bad if it sits in a cupboard",
    ], [
        "Between sessions, {thing} belongs somewhere dry, cool and out of direct sunlight.",
        "Damp air is what ruins {plain} left untouched in a cellar or garage over the winter.",
        "A lidded box or a shelf at eye level keeps {plain} free of dust and accidental knocks.",
        "Label the container with the date so you know how long the {plain} has been put away.",
        "Owners who pack {plain} away carelessly often find it warped, stale or corroded next season.",
        "Short breaks need no special care, but anything longer than a month calls for proper storage.",
    ]),
    "cleaning": ("cleaning and care", [
        "how often does {plain} need to be cleaned",
        "what is the right way to clean {thing} after use",
        "cleaning routine for {plain} to make it last longer",
    ], [
        "A quick wipe after each use and a deeper clean every few weeks keep {plain} in good order.",
        "Residue builds up on {plain} faster than most owners realise, and it slowly spoils the results.",
        "Mild soap and warm water are enough for {plain}; harsh solvents do more harm than good.",
        "Dry every part of the {plain} completely before reassembling it, or moisture gets trapped inside.",
        "Neglected {plain} rarely fails at once; it declines gradually until someone finally notices.",
        "Set a reminder in your calendar, because routine care for {plain} is easy to postpone.",
    ]),
    "buying": ("buying guide", [
        "how much money should a newcomer spend on {plain}",
        "is expensive {plain} worth the price over a budget one",
        "what to look for when buying {thing} second hand",
    ], [
        "Entry-level {plain} costs a fraction of the premium versions, and the gap barely matters at first.",
        "Spend on {plain} only after you know what limits you; upgrades bought early are often wasted.",
        "Second-hand {plain} can be a bargain if you inspect it carefully and ask about its history.",
        "Price alone says little about {plain}; reviews from long-term owners are a better guide.",
        "Budget models of {plain} have improved a great deal in the past decade.",
        "Avoid bundles that pad the price of {plain} with accessories you will never use.",
    ]),
    "safety": ("safety", [
        "is {plain} safe for kids to use",
        "what are the risks of {thing} and how do I avoid injury",
        "safety precautions everyone should take with {plain}",
    ], [
        "Most accidents with {plain} happen when people hurry or skip the basic precautions.",
        "Children can enjoy {plain} too, provided an adult supervises and explains the hazards first.",
        "Read the warnings that come with {plain}; they exist because someone was hurt before.",
        "Tiredness is a hidden danger with {plain}, so stop when concentration starts to slip.",
        "Protective equipment matters less than attention, but with {plain} it is cheap insurance.",
        "Report faulty {plain} to the maker instead of improvising a repair that could fail.",
    ]),
    "history": ("history and origins", [
        "who came up with {plain} and when did it become popular",
        "origin story of {plain}",
        "how has {plain} changed over the last century",
    ], [
        "The origins of {plain} reach further back than most enthusiasts imagine.",
        "Early forms of {plain} looked crude by modern standards but worked on the same principle.",
        "Popularity of {plain} rose sharply once magazines and clubs began to promote it.",
        "Historians of {field} disagree about who deserves credit for {plain}.",
        "Mass production made {plain} affordable, and ordinary households adopted it within a generation.",
        "Old catalogues show {plain} advertised with claims that would amuse a modern reader.",
    ]),
    "problems": ("troubleshooting", [
        "{plain} stopped working properly, what could be wrong",
        "common faults with {thing} and how to fix them",
        "why are my results with {plain} suddenly so inconsistent",
    ], [
        "When {thing} misbehaves, the cause is usually simple, so check the obvious things first.",
        "Inconsistent results with {plain} usually come from a small change in routine, not a broken part.",
        "Write down every change you make while diagnosing {plain}, or you will chase the same fault twice.",
        "Worn or loose parts explain most faults with {plain}, and they are cheap to replace.",
        "If {plain} still fails after the basic checks, a specialist shop can usually diagnose it quickly.",
        "Forums about {field} are full of people who solved the same fault with {plain} before you.",
    ]),
}
OPENERS = ("A note for readers interested in {field}.", "From our {field} question desk.",
           "Part of a series on {field} for beginners.", "Notes compiled from {field} workshops.")


def _document(rng: random.Random, topic: str, thing: str, aspect: str) -> Dict[str, str]:
    heading, _, frames = ASPECTS[aspect]
    slots = dict(thing=thing, plain=bare(thing), field=FIELDS[topic])
    sentences = [f.format(**slots) for f in rng.sample(frames, 2)]
    if rng.random() < 0.3:
        sentences.insert(0, rng.choice(OPENERS).format(**slots))
    return {"title": f"{capitalized(bare(thing))}: {heading}", "text": " ".join(sentences)}


def write_demo_beir(directory: str, n_queries: int = 50, docs_per_topic: int = 100, seed: int = 12345) -> str:
    """corpus.jsonl (docs_per_topic documents on each demo topic), queries.jsonl (n_queries
    questions, spread over the topics) and qrels/test.tsv (every document on the query's thing and
    aspect is relevant, score 1); returns the folder."""
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    aspects = sorted(ASPECTS)
    os.makedirs(os.path.join(directory, "qrels"), exist_ok=True)
    docs_by_key: Dict[Tuple[str, str, str], List[str]] = {}
    with open(os.path.join(directory, "corpus.jsonl"), "w") as fh:
        for topic in topics:
            combos = [(thing, aspect) for thing in TOPICS[topic]["things"] for aspect in aspects]
            rng.shuffle(combos)
            for j in range(docs_per_topic):
                thing, aspect = combos[j % len(combos)]
                doc_id = f"{topic}-{j}"
                docs_by_key.setdefault((topic, thing, aspect), []).append(doc_id)
                fh.write(json.dumps({"_id": doc_id, **_document(rng, topic, thing, aspect)}) + "\n")
    asked = set()
    with open(os.path.join(directory, "queries.jsonl"), "w") as q, open(
            os.path.join(directory, "qrels", "test.tsv"), "w") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for i in range(n_queries):
            topic = topics[i % len(topics)]
            keys = sorted(k for k in docs_by_key if k[0] == topic)
            fresh = [k for k in keys if k not in asked] or keys
            key = rng.choice(fresh)
            asked.add(key)
            _, thing, aspect = key
            text = rng.choice(ASPECTS[aspect][1]).format(thing=thing, plain=bare(thing))
            q.write(json.dumps({"_id": f"q{i}", "text": capitalized(text) + "?"}) + "\n")
            for doc_id in docs_by_key[key]:
                r.write(f"q{i}\t{doc_id}\t1\n")
    return directory
