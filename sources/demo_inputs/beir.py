"""A small BEIR-format retrieval set on the demo topics, for machines without the shared eval sample.

corpus.jsonl, queries.jsonl and qrels/test.tsv (with header), like BEIR's own folders. Relevant
documents answer the query's topic; the rest of the corpus is other topics.
"""

import json
import os
import random

from sources.demo_inputs.topics import TOPICS, answer, question


def write_demo_beir(directory: str, n_queries: int = 40, docs_per_topic: int = 30, seed: int = 12345) -> str:
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    os.makedirs(os.path.join(directory, "qrels"), exist_ok=True)
    docs_by_topic = {}
    with open(os.path.join(directory, "corpus.jsonl"), "w") as fh:
        for topic in topics:
            docs_by_topic[topic] = []
            for j in range(docs_per_topic):
                doc_id = f"{topic}-{j}"
                docs_by_topic[topic].append(doc_id)
                fh.write(json.dumps({"_id": doc_id, "title": topic.title(), "text": answer(rng, topic)}) + "\n")
    with open(os.path.join(directory, "queries.jsonl"), "w") as q, open(
            os.path.join(directory, "qrels", "test.tsv"), "w") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for i in range(n_queries):
            topic = topics[i % len(topics)]
            q.write(json.dumps({"_id": f"q{i}", "text": question(rng, topic)}) + "\n")
            for doc_id in rng.sample(docs_by_topic[topic], 5):
                r.write(f"q{i}\t{doc_id}\t1\n")
    return directory
