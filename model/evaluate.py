"""Retrieval evaluation on a BEIR folder: nDCG@10, Recall@100, MRR@10 (definitions: model/metrics.py).

    python -m model.evaluate --model runs/x/model --data beir/scifact [--split test]
    python -m model.evaluate --data beir/scifact --settings_from runs/x/model     (step-0 control)
    python -m model.evaluate --data beir/scifact --plan plan.json                 (several models)

How texts are embedded (prefixes, query and passage max lengths) comes from the model's stored
settings; a model saved without prefixes gets none. --settings_from takes them from another model
folder instead: the start model at a trained model's settings, so that a before/after comparison
changes only the weights (prefixes and lengths alone move nDCG@10 by more than a point). Each of
--query_prefix, --passage_prefix, --query_max_length, --passage_max_length then replaces its one
field. The last printed line is one JSON object: the metrics (with each judged query's nDCG@10,
for paired comparisons) and the settings actually used.

--plan evaluates several models in one process, the data loaded once: a JSON list of
{"name", "model", "settings_from"} (model and settings_from may be null, as the flags' defaults);
each model embeds the corpus once, longest texts first in batches (model.embed). The last line is
then {"runs": {name: <the object above>}}. This is what the main job runs: one process instead of
one per model saves the imports, the data load and the model warm-up of every run but the first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from model.beir import BeirData, load_beir
from model.embed import device_flag, embed_texts, load_encoder
from model.encoder import EncoderSettings, TextEncoder, read_settings
from model.metrics import evaluate_run, per_query_ndcg
from model.search import exact_search
from schemas.cli import CommandParser, folder_holding, model_folder, positive_int


def retrieve(encoder: TextEncoder, data: BeirData, top_k: int = 100, batch_size: int = 128,
             progress: Union[bool, str] = False) -> Dict[str, Dict[str, float]]:
    """Top-k documents per judged query (only judged queries are scored, as BEIR averages over them)."""
    doc_ids = list(data.corpus)
    query_ids = [q for q in data.queries if data.qrels.get(q)]
    doc_emb = embed_texts(encoder, [data.corpus[d] for d in doc_ids], "passage", batch_size, progress=progress)
    query_emb = embed_texts(encoder, [data.queries[q] for q in query_ids], "query", batch_size)
    scores, idx = exact_search(query_emb, doc_emb, top_k, device=encoder.device)
    return {q: {doc_ids[j]: float(s) for j, s in zip(idx[i], scores[i])} for i, q in enumerate(query_ids)}


def evaluate(encoder: TextEncoder, data: BeirData, batch_size: int = 128,
             progress: Union[bool, str] = False) -> Dict[str, Any]:
    """The mean metrics, and each judged query's nDCG@10 under "ndcg@10_per_query"."""
    run = retrieve(encoder, data, top_k=100, batch_size=batch_size, progress=progress)
    metrics: Dict[str, Any] = evaluate_run(run, data.qrels, ndcg_k=10, recall_k=100, mrr_k=10)
    metrics["ndcg@10_per_query"] = per_query_ndcg(run, data.qrels, 10)
    return metrics


# The flags that replace one field of the settings each; None (the default) keeps the stored value.
SETTING_FLAGS = ("query_prefix", "passage_prefix", "query_max_length", "passage_max_length")


def resolve_settings(stored: EncoderSettings, overrides: Mapping[str, Any]) -> EncoderSettings:
    """The stored settings with each given flag replacing its field: a flag left out keeps the
    model's own value, so `--query_max_length 64` alone does not drop the prefixes."""
    given = {name: overrides[name] for name in SETTING_FLAGS if overrides.get(name) is not None}
    return dataclasses.replace(stored, **given)


def build_parser() -> CommandParser:
    p = CommandParser(prog="python -m model.evaluate", description=__doc__)
    p.add_argument("--model", default=None, type=model_folder, help="model folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--data", required=True, type=folder_holding("corpus.jsonl", "queries.jsonl"),
                   help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--split", default="test", help="qrels/<split>.tsv to score (default: test)")
    p.add_argument("--settings_from", default=None, type=model_folder,
                   help="take the prefixes and max lengths stored with this model folder instead of --model's, "
                        "e.g. the start model at a trained model's settings (default: --model's own)")
    p.add_argument("--query_prefix", default=None,
                   help="text put before each query (default: the stored setting; '' for none)")
    p.add_argument("--passage_prefix", default=None,
                   help="text put before each document (default: the stored setting; '' for none)")
    p.add_argument("--query_max_length", default=None, type=positive_int,
                   help="tokens kept of each query, prefix included (default: the stored setting)")
    p.add_argument("--passage_max_length", default=None, type=positive_int,
                   help="tokens kept of each document, prefix included (default: the stored setting)")
    p.add_argument("--plan", default=None, type=plan_file,
                   help='JSON list of {"name", "model", "settings_from"}: evaluate each in this one process '
                        '(then --model and --settings_from are not given)')
    p.add_argument("--batch_size", type=positive_int, default=128, help="texts per forward (default: 128)")
    p.add_argument("--device", default="auto", type=device_flag, help="auto, cpu, cuda or cuda:N (default: auto)")
    return p


PLAN_KEYS = {"name", "model", "settings_from"}


def plan_file(text: str) -> List[Dict[str, Optional[str]]]:
    """argparse type for --plan: the file's runs, each model folder checked before any run starts."""
    try:
        runs = json.loads(pathlib.Path(text).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text}: not a readable JSON file ({exc})") from None
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) and set(r) <= PLAN_KEYS
                                                         and isinstance(r.get("name"), str) for r in runs):
        raise argparse.ArgumentTypeError(f"{text}: expected a list of {{name, model, settings_from}} objects")
    if len({r["name"] for r in runs}) != len(runs):
        raise argparse.ArgumentTypeError(f"{text}: two runs share a name")
    for run in runs:
        for key in ("model", "settings_from"):
            if run.get(key) is not None:
                model_folder(run[key])
    return runs


def evaluate_one(model: Optional[str], settings_from: Optional[str], data: BeirData, args,
                 name: Optional[str] = None) -> Dict[str, Any]:
    """One model at its own (or settings_from's) settings, each setting flag given replacing its field."""
    encoder = load_encoder(model, args.device)
    stored = read_settings(settings_from) if settings_from else encoder.settings
    encoder.settings = resolve_settings(stored, vars(args))
    print(f"{model or 'all-MiniLM-L6-v2 (bundled)'}: settings {encoder.settings}", file=sys.stderr)
    started = time.perf_counter()
    metrics = evaluate(encoder, data, args.batch_size, progress=name or True)
    metrics.update({"model": str(model or "all-MiniLM-L6-v2 (bundled)"), "data": str(args.data),
                    "settings": encoder.settings.to_dict(),
                    "settings_from": str(settings_from or model or "all-MiniLM-L6-v2 (bundled)"),
                    "seconds": round(time.perf_counter() - started, 2)})
    return metrics


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    qrels = pathlib.Path(args.data) / "qrels" / f"{args.split}.tsv"
    if not qrels.is_file():
        parser.error(f"--split {args.split}: {args.data} holds no qrels/{args.split}.tsv")
    if args.plan and (args.model or args.settings_from):
        parser.error("--plan names each run's model and settings_from: give neither --model nor --settings_from")

    data = load_beir(args.data, args.split)
    print(f"corpus {len(data.corpus)} docs, {len(data.queries)} queries, "
          f"{sum(1 for q in data.qrels.values() if q)} judged", file=sys.stderr)
    if args.plan:
        result: Dict[str, Any] = {"runs": {run["name"]: evaluate_one(run.get("model"), run.get("settings_from"),
                                                                     data, args, run["name"]) for run in args.plan}}
    else:
        result = evaluate_one(args.model, args.settings_from, data, args)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
