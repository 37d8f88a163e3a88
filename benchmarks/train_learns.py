"""Does training learn? A randomly initialised small BERT trained on real pairs, before/after.

Pairs: DBPedia entity title -> abstract (BEIR subset, 5000 docs; ~1000 held out by a hash of the
doc id; exactly 1000), Stack Exchange question title -> answer, S2ORC paper title -> abstract: three sources,
each batch from one of them. Measure: recall@1 on the held-out DBPedia pairs, each title against
all held-out abstracts as candidates (chance = 1/candidates, 0.1%).

    .venv/bin/python benchmarks/train_learns.py [--out out/train_learns] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from model.embed import embed_texts, load_encoder  # noqa: E402
from model.encoder import EncoderSettings, build_random_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from model.search import exact_search  # noqa: E402
from model.train import train  # noqa: E402
from real_pairs import dbpedia_items, held_out, semanticscholar_items, stackexchange_items  # noqa: E402

BERT = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
            max_position_embeddings=128)
SETTINGS = EncoderSettings(query_max_length=24, passage_max_length=64)


def retrieval_scores(encoder, held):
    q = embed_texts(encoder, [h[0] for h in held], "query", batch_size=256)
    p = embed_texts(encoder, [h[1] for h in held], "passage", batch_size=256)
    _, idx = exact_search(q, p, 10)
    own = torch.arange(len(held)).numpy()[:, None]
    hits = idx == own
    mrr = sum(1.0 / (int(row.argmax()) + 1) if row.any() else 0.0 for row in hits) / len(held)
    return {"recall@1": float(hits[:, 0].mean()), "recall@10": float(hits.any(axis=1).mean()), "mrr@10": mrr}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "out" / "train_learns"))
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--batch_size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "train_learns.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)

    dbpedia = dbpedia_items()
    held = held_out(dbpedia, 1000)
    held_ids = {h[2] for h in held}
    train_sets = {
        "dbpedia": [i for i in dbpedia if i[2] not in held_ids],
        "stackexchange": stackexchange_items(),
        "semanticscholar": semanticscholar_items(),
    }
    for name, items in train_sets.items():
        write_pair_version(out / "pairs" / name / "v1", pairs_from_texts(name, items), num_shards=2,
                           rows_per_group=500)
    n_train = sum(len(v) for v in train_sets.values())
    print(f"train pairs {n_train} ({ {k: len(v) for k, v in train_sets.items()} }), held out {len(held)}")

    config = out / "bert.json"
    config.write_text(json.dumps(BERT))
    before = retrieval_scores(build_random_encoder(BERT, settings=SETTINGS, seed=0).eval(), held)
    print("before", before)
    started = time.perf_counter()
    summary = train(["--pairs", str(out / "pairs"), "--output", str(out / "run"), "--init_config", str(config),
                     "--batch_size", str(args.batch_size), "--epochs", str(args.epochs), "--lr", "5e-4",
                     "--warmup_ratio", "0.1", "--scale", "20", "--query_max_length", "24",
                     "--passage_max_length", "64", "--log_every", "10", "--save_every", "100000",
                     "--seed", "0", "--device", "cpu"])
    minutes = (time.perf_counter() - started) / 60
    after = retrieval_scores(load_encoder(summary["model"], "cpu"), held)
    print("after", after)
    result = {"train_pairs": n_train, "sources": {k: len(v) for k, v in train_sets.items()},
              "held_out_pairs": len(held), "chance_recall@1": 1 / len(held), "bert_config": BERT,
              "steps": summary["step"], "batch_size": args.batch_size, "epochs": args.epochs,
              "train_minutes": round(minutes, 2), "final_train_loss": summary.get("loss"),
              "before": before, "after": after, "threads": args.threads}
    pathlib.Path(args.results).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
