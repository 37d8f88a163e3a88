"""Throughput of the training stage: training pairs/s and tokens/s, embedding passages/s.

all-MiniLM-L6-v2 (bundled) on real pairs (DBPedia title -> abstract from ../shared/data when
present, else generated text). Training runs the real loop (model.train) for a few steps and reads
the steady-state window from its JSONL log; with --chunk_size it also measures GradCache's cost.
On CUDA it uses bf16 autocast and reports MFU against the GPU's dense bf16 peak.

    .venv/bin/python benchmarks/train_bench.py [--device auto] [--results benchmarks/results/train_bench_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import random
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from model.embed import embed_texts, load_encoder  # noqa: E402
from model.encoder import resolve_device  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from model.train import train  # noqa: E402


def bench_items(n):
    try:
        from real_pairs import dbpedia_items

        items = dbpedia_items()
        return items[:n], "dbpedia title -> abstract"
    except FileNotFoundError:
        rng = random.Random(0)
        words = [f"w{i}" for i in range(3000)]
        return [(" ".join(rng.sample(words, 6)), " ".join(rng.sample(words, 120)), str(i), str(i))
                for i in range(n)], "generated"


def training_throughput(pairs_dir, out, device, batch, chunk, steps, log_every):
    summary = train(["--pairs", str(pairs_dir), "--output", str(out), "--batch_size", str(batch),
                     "--chunk_size", str(chunk), "--max_steps", str(steps), "--log_every", str(log_every),
                     "--save_every", "100000", "--device", device, "--no_progress",
                     "--query_max_length", "32", "--passage_max_length", "128"])
    last = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()][-1]  # after warm-up
    keys = ("pairs_per_s", "tokens_per_s", "mfu", "loss")
    return {"batch_size": batch, "chunk_size": chunk or batch, "steps_measured": log_every,
            **{k: last[k] for k in keys if k in last}, "final_step": summary["step"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default=str(ROOT / "out" / "train_bench"))
    ap.add_argument("--results", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    out = pathlib.Path(args.out)
    items, data_kind = bench_items(4096 if gpu else 1024)
    pairs_dir = write_pair_version(out / "pairs" / "bench" / "v1", pairs_from_texts("bench", items))

    batch = 512 if gpu else 32
    window = 20 if gpu else 4
    steps = 2 * window  # the first window warms up; the second is reported
    runs = [training_throughput(pairs_dir, out / "plain", device.type, batch, 0, steps, window),
            training_throughput(pairs_dir, out / "gradcache", device.type, batch, batch // 4, steps, window)]

    encoder = load_encoder(None, device)
    passages = [i[1] for i in items][: (4096 if gpu else 512)]
    embed_texts(encoder, passages[:64], "passage", batch_size=64)  # warm-up
    if gpu:
        torch.cuda.synchronize()
    started = time.perf_counter()
    embed_texts(encoder, passages, "passage", batch_size=256 if gpu else 64)
    if gpu:
        torch.cuda.synchronize()
    secs = time.perf_counter() - started

    result = {
        "model": "all-MiniLM-L6-v2 (bundled, 22.7M params)",
        "device": torch.cuda.get_device_name(device) if gpu else f"CPU ({platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "bf16": gpu,
        "data": data_kind,
        "max_lengths": {"query": 32, "passage": 128, "embedding": encoder.settings.passage_max_length},
        "training": runs,
        "embedding": {"passages": len(passages), "seconds": round(secs, 2), "passages_per_s": len(passages) / secs},
    }
    path = pathlib.Path(args.results or ROOT / "benchmarks" / "results" / f"train_bench_{device.type}.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
