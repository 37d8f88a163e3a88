"""The GPU stage at hardware speed (issue 15): one command, one JSON line per figure.

Figures: tokenization texts/s (the transformers call on the main thread vs model.tokenization, alone and
in threads); embedding passages/s for MiniLM and BERT-base shapes, before (the old path: transformers
tokenizer call on the main thread, eager attention, float32 weights, vectors copied back every
batch) and after (model.embed.Embedder: tokenization ahead in threads, SDPA, bf16 weights on GPUs),
plus the model's forward alone on pre-tokenized batches (the ceiling); training pairs/s, tokens/s and
MFU with GradCache (the real model.train loop); the filter end to end (filtering.filter_pairs) with
its time split. Goals on one H100: embedding >= 40,000 passages/s (MiniLM) and >= 15,000 (BERT-base)
at 128 tokens, BERT-base training at a 32K batch >= 35% MFU, the filter over 1M pairs with a 1M
pool <= 2 minutes with MiniLM.

Models are random-weight BERTs built from configs (the GPU machine cannot download weights); the
tokenizer is the bundled all-MiniLM-L6-v2 one, or a WordPiece tokenizer built here when that
package is absent. Texts are generated: queries 6-20 words, passages 40-160 words.

    python benchmarks/gpu_stage.py --quick          # tiny sizes, any machine (CI runs it on CPU)
    python benchmarks/gpu_stage.py                  # full sizes on a GPU, moderate ones on a CPU

Without --quick the lines also go to benchmarks/results/gpu_stage_<cpu|cuda>.jsonl and a table to
gpu_stage_<cpu|cuda>.md. Only torch, transformers, numpy and pyarrow are needed (no faiss, no Beam).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import pathlib
import platform
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

from model.embed import Embedder, longest_first  # noqa: E402
from model.encoder import EncoderSettings, TextEncoder, build_random_encoder, resolve_device  # noqa: E402
from model.tokenization import BatchTokenizer  # noqa: E402

MINILM = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
              max_position_embeddings=512)
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512)
QUICK_SHAPES = {"minilm": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                               max_position_embeddings=512),
                "bert-base": dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=2, intermediate_size=192,
                                  max_position_embeddings=512)}
QUERY_MAX, PASSAGE_MAX = 32, 128


@dataclasses.dataclass(frozen=True)
class Scale:
    """How big each figure is run: quick (CI), cpu (real shapes, small counts), gpu (the issue's sizes)."""

    name: str
    shapes: Dict[str, dict]
    tokenize_texts: int
    embed_texts: Dict[str, int]
    embed_batch: int
    train: Dict[str, dict]  # model -> batch, chunk, window (steps measured after a window of warm-up)
    train_pairs: int
    filter_pairs: int
    pool_size: int
    filter_batch: int


SCALES = {
    "quick": Scale("quick", QUICK_SHAPES, 512, {"minilm": 128, "bert-base": 64}, 32,
                   {"minilm": dict(batch=32, chunk=8, window=1), "bert-base": dict(batch=16, chunk=8, window=1)},
                   96, 96, 64, 32),
    "cpu": Scale("cpu", {"minilm": MINILM, "bert-base": BERT_BASE}, 4096, {"minilm": 256, "bert-base": 64}, 64,
                 {"minilm": dict(batch=64, chunk=16, window=2), "bert-base": dict(batch=16, chunk=8, window=1)},
                 256, 500, 500, 64),
    "gpu": Scale("gpu", {"minilm": MINILM, "bert-base": BERT_BASE}, 200_000,
                 {"minilm": 200_000, "bert-base": 100_000}, 512,
                 {"minilm": dict(batch=32768, chunk=4096, window=3), "bert-base": dict(batch=32768, chunk=512, window=3)},
                 65_536, 1_000_000, 1_000_000, 1024),
}


# ---- inputs ----

def tokenizer_folder(tmp: pathlib.Path) -> pathlib.Path:
    """The bundled MiniLM tokenizer, else a WordPiece tokenizer made here (a machine without the package)."""
    try:
        from model.encoder import default_model_path

        return default_model_path()
    except (ImportError, FileNotFoundError):
        return build_wordpiece_tokenizer(tmp / "tokenizer")


def build_wordpiece_tokenizer(folder: pathlib.Path) -> pathlib.Path:
    """A lowercasing WordPiece tokenizer over generated words, saved as a transformers folder."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789.,:;!?'-"] + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    vocab = {token: i for i, token in enumerate(specials + pieces + generated_words(30000 - len(specials) - len(pieces)))}
    backend = BertWordPieceTokenizer(vocab, lowercase=True)
    hf = BertTokenizerFast(tokenizer_object=backend._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                           cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    folder.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(str(folder))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    return folder


def generated_words(n: int, seed: int = 0) -> List[str]:
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "ne", "pri", "sul", "dor", "fe", "gin", "har", "ju", "bel"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def word_list(tokenizer) -> List[str]:
    """Whole words of the tokenizer's vocabulary (texts of real words tokenize like real texts)."""
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and len(w) >= 3 and not w.startswith("##"))
    return words or generated_words(5000)


def make_texts(words: Sequence[str], n: int, low: int, high: int, seed: int) -> List[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=rng.randint(low, high))) for _ in range(n)]


def write_pairs(folder: pathlib.Path, source: str, queries: Sequence[str], passages: Sequence[str]) -> pathlib.Path:
    from model.pairs_io import pairs_from_texts, write_pair_version

    items = [(q, p, f"q{i}", f"p{i}") for i, (q, p) in enumerate(zip(queries, passages))]
    shards = max(1, len(items) // 250_000)
    return write_pair_version(folder / source / "v1", pairs_from_texts(source, items), num_shards=shards,
                              rows_per_group=min(65_536, max(1, len(items) // shards)))


# ---- measuring ----

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device: torch.device):
    synchronize(device)
    started = time.perf_counter()
    result = function()
    synchronize(device)
    return result, time.perf_counter() - started


def emit(record: dict, sink: List[dict]) -> None:
    sink.append(record)
    print(json.dumps(record), flush=True)


def machine_record(device: torch.device, scale: Scale) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    return {"figure": "machine", "device": str(device), "device_name": name, "scale": scale.name,
            "torch": torch.__version__, "transformers": transformers.__version__, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "load_average": load_average(),
            "utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")}


def load_average() -> Optional[List[float]]:
    """Other work on the machine slows every figure; the record says how busy it was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def tokenize_figures(tokenizer, passages: Sequence[str], batch: int, threads: int, sink: List[dict]) -> None:
    """Texts/s of the transformers call on the main thread, of model.tokenization, and of it in threads."""
    batches = [["passage: " + t for t in passages[i:i + batch]] for i in range(0, len(passages), batch)]
    fast = BatchTokenizer(tokenizer)
    fast(batches[0], PASSAGE_MAX)  # configure once, outside the timing
    cpu = torch.device("cpu")
    paths = {
        "transformers_call_main_thread": lambda: [tokenizer(b, padding=True, truncation=True, max_length=PASSAGE_MAX,
                                                            return_tensors="pt") for b in batches],
        "model_tokenize_main_thread": lambda: [fast(b, PASSAGE_MAX) for b in batches],
        f"model_tokenize_{threads}_threads": lambda: in_threads(lambda b: fast(b, PASSAGE_MAX), batches, threads),
    }
    for path, run in paths.items():
        _, secs = timed(run, cpu)
        emit({"figure": "tokenize", "path": path, "texts": len(passages), "batch": batch,
              "texts_per_s": round(len(passages) / secs, 1)}, sink)


def in_threads(work, items, threads: int) -> list:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def embed_before(encoder: TextEncoder, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """The embedding loop as it was before issue 15 (for the before/after figure)."""
    device = encoder.device
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    order = longest_first(texts)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = encoder.tokenizer(["passage: " + texts[i] for i in idx], padding=True, truncation=True,
                                      max_length=PASSAGE_MAX, return_tensors="pt")
            with autocast:
                vectors = encoder(batch["input_ids"].to(device), batch["attention_mask"].to(device))
            out[idx] = vectors.float().cpu().numpy()
    return out


def forward_only(embedder: Embedder, passages: Sequence[str], batch_size: int) -> float:
    """Seconds for the model alone over pre-tokenized, length-sorted batches already on the device."""
    encoder = embedder.encoder
    order = longest_first(passages)
    batches = [encoder.tokenize([passages[i] for i in order[s:s + batch_size]], "passage")
               for s in range(0, len(order), batch_size)]
    batches = [{k: v.to(encoder.device) for k, v in b.items()} for b in batches]

    def run():
        with torch.inference_mode():
            for b in batches:
                encoder(b["input_ids"], b["attention_mask"])

    return timed(run, encoder.device)[1]


def embed_figures(name: str, shape: dict, tokenizer_dir: pathlib.Path, passages: Sequence[str], scale: Scale,
                  device: torch.device, compile: Optional[str], sink: List[dict]) -> None:
    settings = EncoderSettings(query_max_length=QUERY_MAX, passage_max_length=PASSAGE_MAX)
    before = build_random_encoder(shape, tokenizer_dir, settings, attention="eager").to(device).eval()
    embed_before(before, passages[:scale.embed_batch], scale.embed_batch)  # warm-up
    _, secs_before = timed(lambda: embed_before(before, passages, scale.embed_batch), device)
    embedder = Embedder(build_random_encoder(shape, tokenizer_dir, settings), [device], compile=compile)
    embedder.embed(passages[:scale.embed_batch], "passage", scale.embed_batch)  # warm-up (and compile)
    _, secs_after = timed(lambda: embedder.embed(passages, "passage", scale.embed_batch), device)
    secs_forward = forward_only(embedder, passages, scale.embed_batch)
    tokens = float(np.mean([len(embedder.encoder.tokenize([p], "passage")["input_ids"][0]) for p in passages[:200]]))
    common = {"model": f"{name}-shape", "config": shape, "texts": len(passages), "batch": scale.embed_batch,
              "mean_tokens": round(tokens, 1), "max_tokens": PASSAGE_MAX}
    for path, secs, how in (
            ("before", secs_before, "transformers call on the main thread, eager attention, float32 weights, "
                                    "copy back every batch"),
            ("after", secs_after, f"model.embed.Embedder: {embedder.dtype_name} weights, sdpa, tokenization "
                                  f"ahead in {embedder.tokenizer_threads} threads" + (", compiled" if compile else "")),
            ("forward_only", secs_forward, "the model alone on pre-tokenized batches on the device (the ceiling)")):
        emit({"figure": "embed", "path": path, **common, "passages_per_s": round(len(passages) / secs, 1),
              "how": how}, sink)


def train_figures(name: str, shape: dict, tokenizer_dir: pathlib.Path, pairs_dir: pathlib.Path, out: pathlib.Path,
                  setup: dict, device: torch.device, compile: Optional[str], sink: List[dict]) -> None:
    """pairs/s, tokens/s and MFU of the real training loop, over the window after a warm-up window."""
    from model.train import train

    config = out / f"{name}.json"
    config.write_text(json.dumps(shape))
    window = setup["window"]
    argv = ["--pairs", str(pairs_dir), "--output", str(out / f"train-{name}"), "--init_config", str(config),
            "--tokenizer", str(tokenizer_dir), "--batch_size", str(setup["batch"]), "--chunk_size",
            str(setup["chunk"]), "--max_steps", str(2 * window), "--log_every", str(window),
            "--save_every", "1000000000", "--query_max_length", str(QUERY_MAX), "--passage_max_length",
            str(PASSAGE_MAX), "--device", device.type, "--no_progress"] + (["--compile"] if compile else [])
    train(argv)
    last = [json.loads(line) for line in (out / f"train-{name}" / "train_log.jsonl").read_text().splitlines()][-1]
    emit({"figure": "train", "model": f"{name}-shape", "config": shape, "batch_size": setup["batch"],
          "chunk_size": setup["chunk"], "steps_measured": window, "pairs_per_s": round(last["pairs_per_s"], 1),
          "tokens_per_s": round(last["tokens_per_s"], 1), "mfu": round(last["mfu"], 4) if "mfu" in last else None,
          "mfu_note": None if "mfu" in last else "no known peak for this device (model/flops.py)"}, sink)


def filter_figures(shape: dict, tokenizer_dir: pathlib.Path, queries: Sequence[str], passages: Sequence[str],
                   scale: Scale, out: pathlib.Path, device: torch.device, sink: List[dict]) -> None:
    """filtering.filter_pairs end to end: pairs/s, and where the time goes."""
    from filtering import filter_pairs
    from model.saving import save_encoder

    settings = EncoderSettings(query_max_length=QUERY_MAX, passage_max_length=PASSAGE_MAX)
    model_dir = save_encoder(build_random_encoder(shape, tokenizer_dir, settings), out / "filter-model")
    pairs_dir = write_pairs(out / "filter-pairs", "bench", queries, passages)
    args = filter_pairs.build_parser().parse_args([
        "--model", str(model_dir), "--pairs", str(pairs_dir), "--output", str(out / "filtered"), "--version", "b",
        "--pool_size", str(scale.pool_size), "--batch_size", str(scale.filter_batch), "--device", str(device)])
    result, total = timed(lambda: filter_pairs.run(args), device)
    t = result["timings"]
    parts = {"pool": t["pool_seconds"], "embed_pairs": t["embed_seconds"], "search": t["search_seconds"]}
    parts["other"] = total - sum(parts.values())
    emit({"figure": "filter", "model": "minilm-shape", "pairs": t["pairs"],
          "pool": result["manifest"]["options"]["pool_actual"], "backend": result["manifest"]["options"]["backend"],
          "model_dtype": result["manifest"]["options"]["model_dtype"], "seconds": round(total, 2),
          "pairs_per_s": round(t["pairs"] / total, 1), "split_seconds": {k: round(v, 2) for k, v in parts.items()}},
         sink)


# ---- report ----

def markdown(records: List[dict]) -> str:
    machine = records[0]
    lines = [f"# GPU stage figures ({machine['scale']} scale, {machine['device_name']})", "",
             f"`python benchmarks/gpu_stage.py` on {machine['utc']} UTC: torch {machine['torch']}, transformers "
             f"{machine['transformers']}, {machine['cpu_count']} CPU cores, {machine['torch_threads']} torch threads, "
             f"load average {machine.get('load_average')} at the start. "
             "Random-weight models of the named shapes; generated texts (passages 40-160 words, at most 128 "
             "tokens). One run each.", ""]
    if machine["device"].startswith("cpu"):
        lines += ["**No GPU figures here**: this is a CPU run. The issue-15 goals (one H100: MiniLM >= 40k "
                  "passages/s, BERT-base >= 15k, BERT-base training >= 35% MFU at a 32K batch, filter 1M x 1M "
                  "<= 2 min) are not measured yet.", ""]
    lines += ["| figure | what | value |", "|---|---|---:|"]
    for r in records[1:]:
        if r["figure"] == "tokenize":
            lines.append(f"| tokenize | {r['path']} ({r['texts']} passages) | {r['texts_per_s']:,.0f} texts/s |")
        elif r["figure"] == "embed":
            lines.append(f"| embed {r['model']} | {r['path']}: {r['how']} | {r['passages_per_s']:,.0f} passages/s |")
        elif r["figure"] == "train":
            mfu = f", MFU {r['mfu']:.1%}" if r["mfu"] is not None else ""
            lines.append(f"| train {r['model']} | batch {r['batch_size']}, chunk {r['chunk_size']} | "
                         f"{r['pairs_per_s']:,.0f} pairs/s, {r['tokens_per_s']:,.0f} tokens/s{mfu} |")
        elif r["figure"] == "filter":
            split = ", ".join(f"{k} {v:.1f} s" for k, v in r["split_seconds"].items())
            lines.append(f"| filter | {r['pairs']:,} pairs, pool {r['pool']:,}, {r['backend']}, {r['model_dtype']} "
                         f"({split}) | {r['pairs_per_s']:,.0f} pairs/s, {r['seconds']:.1f} s |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and models: checks that it runs (CI)")
    p.add_argument("--scale", choices=sorted(SCALES), default=None, help="default: gpu on CUDA, cpu otherwise")
    p.add_argument("--device", default="auto")
    p.add_argument("--figures", nargs="+", default=["tokenize", "embed", "train", "filter"],
                   choices=["tokenize", "embed", "train", "filter"])
    p.add_argument("--models", nargs="+", default=["minilm", "bert-base"], choices=["minilm", "bert-base"])
    p.add_argument("--compile", action="store_const", const="inductor", default=None,
                   help="torch.compile the encoders (off by default)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 with --quick)")
    p.add_argument("--filter_pairs", type=int, default=None, help="override the scale's filter size")
    p.add_argument("--pool_size", type=int, default=None, help="override the scale's pool size")
    p.add_argument("--results", default=None, help="JSON lines file (default: none with --quick, else "
                                                   "benchmarks/results/gpu_stage_<device>.jsonl and .md)")
    return p.parse_args(argv)


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    device = resolve_device(args.device)
    scale = SCALES["quick" if args.quick else (args.scale or ("gpu" if device.type == "cuda" else "cpu"))]
    scale = dataclasses.replace(scale, filter_pairs=args.filter_pairs or scale.filter_pairs,
                                pool_size=args.pool_size or scale.pool_size)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.threads or args.quick:
        torch.set_num_threads(args.threads or 1)  # tiny models gain nothing from threads; a busy CPU loses a lot
    records: List[dict] = []
    emit(machine_record(device, scale), records)
    with tempfile.TemporaryDirectory(prefix="gpu_stage-") as tmp:
        tmp = pathlib.Path(tmp)
        tokenizer_dir = tokenizer_folder(tmp)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        words = word_list(tokenizer)
        largest = max([scale.tokenize_texts, scale.train_pairs, scale.filter_pairs, *scale.embed_texts.values()])
        passages = make_texts(words, largest, 40, 160, seed=1)
        queries = make_texts(words, max(scale.train_pairs, scale.filter_pairs), 6, 20, seed=2)
        if "tokenize" in args.figures:
            tokenize_figures(tokenizer, passages[:scale.tokenize_texts], 256, min(8, os.cpu_count() or 1), records)
        if "embed" in args.figures:
            for name in args.models:
                embed_figures(name, scale.shapes[name], tokenizer_dir, passages[:scale.embed_texts[name]], scale,
                              device, args.compile, records)
        if "train" in args.figures:
            pairs_dir = write_pairs(tmp / "train-pairs", "bench", queries[:scale.train_pairs],
                                    passages[:scale.train_pairs])
            for name in args.models:
                train_figures(name, scale.shapes[name], tokenizer_dir, pairs_dir, tmp, scale.train[name], device,
                              args.compile, records)
        if "filter" in args.figures:
            filter_figures(scale.shapes["minilm"], tokenizer_dir, queries[:scale.filter_pairs],
                           passages[:scale.filter_pairs], scale, tmp, device, records)
    write_results(args, device, records)
    return records


def write_results(args, device: torch.device, records: List[dict]) -> None:
    path = args.results or (None if args.quick else ROOT / "benchmarks" / "results" / f"gpu_stage_{device.type}.jsonl")
    if path is None:
        return
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    path.with_suffix(".md").write_text(markdown(records))
    print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
