"""Retrieval evaluation on a BEIR folder: nDCG@10, Recall@100, MRR@10 (definitions: model/metrics.py).

    python -m model.evaluate --model runs/x/model --data beir/scifact [--split test]

Prefixes come from the model's stored settings; a model saved without them gets none, unless
--query_prefix / --passage_prefix say otherwise. The last printed line is one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Dict, Optional, Sequence

from model.beir import BeirData, load_beir
from model.embed import device_flag, embed_texts, load_encoder
from model.encoder import TextEncoder
from model.metrics import evaluate_run
from model.search import exact_search
from schemas.cli import CommandParser, folder_holding, model_folder, positive_int


def retrieve(encoder: TextEncoder, data: BeirData, top_k: int = 100, batch_size: int = 128,
             progress: bool = False) -> Dict[str, Dict[str, float]]:
    """Top-k documents per judged query (only judged queries are scored, as BEIR averages over them)."""
    doc_ids = list(data.corpus)
    query_ids = [q for q in data.queries if data.qrels.get(q)]
    doc_emb = embed_texts(encoder, [data.corpus[d] for d in doc_ids], "passage", batch_size, progress=progress)
    query_emb = embed_texts(encoder, [data.queries[q] for q in query_ids], "query", batch_size)
    scores, idx = exact_search(query_emb, doc_emb, top_k, device=encoder.device)
    return {q: {doc_ids[j]: float(s) for j, s in zip(idx[i], scores[i])} for i, q in enumerate(query_ids)}


def evaluate(encoder: TextEncoder, data: BeirData, batch_size: int = 128, progress: bool = False) -> Dict[str, float]:
    run = retrieve(encoder, data, top_k=100, batch_size=batch_size, progress=progress)
    return evaluate_run(run, data.qrels, ndcg_k=10, recall_k=100, mrr_k=10)


def build_parser() -> CommandParser:
    p = CommandParser(prog="python -m model.evaluate", description=__doc__)
    p.add_argument("--model", default=None, type=model_folder, help="model folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--data", required=True, type=folder_holding("corpus.jsonl", "queries.jsonl"),
                   help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--split", default="test")
    p.add_argument("--query_prefix", default=None)
    p.add_argument("--passage_prefix", default=None)
    p.add_argument("--batch_size", type=positive_int, default=128)
    p.add_argument("--device", default="auto", type=device_flag)
    return p


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    qrels = pathlib.Path(args.data) / "qrels" / f"{args.split}.tsv"
    if not qrels.is_file():
        parser.error(f"--split {args.split}: {args.data} holds no qrels/{args.split}.tsv")

    encoder = load_encoder(args.model, args.device)
    overrides = {k: v for k, v in (("query_prefix", args.query_prefix),
                                   ("passage_prefix", args.passage_prefix)) if v is not None}
    encoder.settings = dataclasses.replace(encoder.settings, **overrides)
    data = load_beir(args.data, args.split)
    print(f"corpus {len(data.corpus)} docs, {len(data.queries)} queries, "
          f"{sum(1 for q in data.qrels.values() if q)} judged; settings {encoder.settings}", file=sys.stderr)
    started = time.perf_counter()
    metrics = evaluate(encoder, data, args.batch_size, progress=True)
    metrics.update({"model": str(args.model or "all-MiniLM-L6-v2 (bundled)"), "data": str(args.data),
                    "query_prefix": encoder.settings.query_prefix,
                    "passage_prefix": encoder.settings.passage_prefix,
                    "seconds": round(time.perf_counter() - started, 2)})
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
