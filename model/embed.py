"""Batch embedding of texts (Python API for the filtering stage) and of a Parquet column (CLI).

The fast path (issue 15), in the order a text meets it:
- texts are sorted by length (longest first) before batching, so each batch pads to similar lengths,
  and the vectors are put back into input order;
- batches are tokenized ahead in background threads (model.prefetch, model.tokenization), into pinned
  memory when the device is a GPU, and copied with non_blocking=True;
- the encoder runs with SDPA attention (model.encoder) and, on GPUs, bf16 weights (--model_dtype);
- results are copied back a few batches late, so the host queues the next batches while the GPU
  computes instead of waiting for every batch;
- --devices spreads the batches over several GPUs of one machine (one thread and one model replica
  per device, each taking the next batch when it is free).
torch.compile is behind --compile and off by default: whether it pays on a GPU is not measured yet.

    python -m model.embed --model runs/x/model --input out/ccpairs/v1 --column passage \
        --kind passage --output passages.npy --dtype float16 [--devices all]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import json
import os
import pathlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, List, Optional, Sequence, Union

import numpy as np
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from model.atomic import atomic_path
from model.encoder import TextEncoder, check_kind, load_encoder as _load_encoder, resolve_device
from model.prefetch import pin_if_cuda, prefetched, to_device
from schemas.cli import CommandParser, existing_path, model_folder, non_negative_int, output_file, positive_int

__all__ = ["load_encoder", "embed_texts", "embed_parquet_column", "parquet_files", "device_flag", "Embedder",
           "devices_flag", "MODEL_DTYPES"]

MODEL_DTYPES = ("auto", "float32", "bfloat16")
# Batches computed on a device before the host waits for the oldest one's vectors.
IN_FLIGHT = 4
DEFAULT_TOKENIZER_THREADS = 2


def device_flag(text: str) -> str:
    """argparse type for --device: auto, cpu, cuda or cuda:N; a CUDA device must exist on this machine."""
    if text == "auto":
        return text
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: no such CUDA device on this machine")
    return text


def devices_flag(text: str) -> str:
    """argparse type for each --devices item: a --device value, or `all` (every GPU of this machine)."""
    if text == "all":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError("all: no CUDA device on this machine")
        return text
    return device_flag(text)


def resolve_devices(device: Optional[str], devices: Optional[Sequence[str]]) -> List[torch.device]:
    """The devices of --device / --devices: `all` is every visible GPU; none given means `auto`."""
    if devices:
        if "all" in devices:
            return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        return [resolve_device(d) for d in devices]
    return [resolve_device(device or "auto")]


def resolve_model_dtype(name: str, device: torch.device) -> torch.dtype:
    """auto: bf16 weights on a GPU (inference only, where bf16 halves memory traffic), float32 elsewhere."""
    if name not in MODEL_DTYPES:
        raise ValueError(f"model dtype must be one of {MODEL_DTYPES}, not {name!r}")
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, name)


def load_encoder(path: Optional[Union[str, os.PathLike]] = None, device: Union[str, torch.device] = "auto") -> TextEncoder:
    """A saved encoder (None: bundled all-MiniLM-L6-v2) in eval mode on `device` ('auto', 'cpu', 'cuda')."""
    encoder = _load_encoder(path, resolve_device(device))
    encoder.eval()
    return encoder


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def longest_first(texts: Sequence[str]) -> List[int]:
    """Row numbers by decreasing length: batches of similar lengths pad little, and the largest batch
    comes first (a batch too big for memory fails at once, not at the end)."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)


class _Replica:
    """One device's copy of the encoder and how it computes (autocast or not)."""

    def __init__(self, encoder: TextEncoder, autocast_bf16: bool):
        self.encoder = encoder
        self.device = encoder.device
        self.autocast_bf16 = autocast_bf16
        self.batches = 0  # batches this replica embedded (how the work spread over devices)

    def embed_batches(self, take: Callable[[], Optional[tuple]], out: np.ndarray, bar) -> None:
        """Embed batches from `take` until it returns None, writing each batch's rows of `out`.

        Vectors are copied back IN_FLIGHT batches late: the host keeps queuing work on the GPU.
        """
        pending = collections.deque()
        with torch.inference_mode():
            while True:
                item = take()
                if item is None:
                    break
                rows, batch = item
                on_device = to_device(batch, self.device)
                with _autocast(self.device, self.autocast_bf16):
                    vectors = self.encoder(on_device["input_ids"], on_device["attention_mask"])
                pending.append((rows, vectors))
                self.batches += 1
                if len(pending) > IN_FLIGHT:
                    _store(pending.popleft(), out, bar)
            while pending:
                _store(pending.popleft(), out, bar)


def _store(done: tuple, out: np.ndarray, bar) -> None:
    rows, vectors = done
    out[rows] = vectors.float().cpu().numpy()
    bar.update(len(rows))


def embed_with_replicas(replicas: Sequence[_Replica], texts: Sequence[str], kind: str, batch_size: int,
                        tokenizer_threads: int = DEFAULT_TOKENIZER_THREADS,
                        progress: Union[bool, str] = False) -> np.ndarray:
    """(len(texts), dim) float32 in input order; batches tokenized ahead, spread over the replicas.
    progress: a tqdm bar; a string names what is embedded in the bar (e.g. which model)."""
    check_kind(kind)
    tokenizer = replicas[0].encoder
    out = np.empty((len(texts), tokenizer.dim), dtype=np.float32)
    order = longest_first(texts)
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    pin_for = torch.device("cuda") if any(r.device.type == "cuda" for r in replicas) else torch.device("cpu")

    def tokenize(rows: List[int]) -> tuple:
        return rows, pin_if_cuda(tokenizer.tokenize([texts[i] for i in rows], kind), pin_for)

    depth = 2 * max(tokenizer_threads, 1) + len(replicas)
    stream = prefetched(batches, tokenize, workers=tokenizer_threads, depth=depth)
    lock = threading.Lock()

    def take() -> Optional[tuple]:
        with lock:
            return next(stream, None)

    desc = f"{progress}: embed {kind}" if isinstance(progress, str) else f"embed {kind}"
    with tqdm(total=len(texts), disable=not progress, desc=desc, unit="text") as bar:
        try:
            if len(replicas) == 1:
                replicas[0].embed_batches(take, out, bar)
            else:
                with ThreadPoolExecutor(len(replicas), thread_name_prefix="device") as pool:
                    for done in [pool.submit(r.embed_batches, take, out, bar) for r in replicas]:
                        done.result()
        finally:
            stream.close()
    return out


def embed_texts(
    encoder: TextEncoder,
    texts: Sequence[str],
    kind: str = "passage",
    batch_size: int = 128,
    device: Union[str, torch.device, None] = None,
    bf16: bool = True,
    progress: Union[bool, str] = False,
    tokenizer_threads: int = DEFAULT_TOKENIZER_THREADS,
) -> np.ndarray:
    """(len(texts), dim) float32, L2-normalised, rows in the order of `texts`.

    kind picks the prefix and max length stored with the encoder. device None keeps the encoder
    where it is; otherwise it is moved there. bf16 autocast applies on CUDA only; the weights are
    left as they are (an Embedder casts them). The encoder's training mode is restored after.
    """
    check_kind(kind)
    if device is not None:
        encoder.to(resolve_device(device))
    was_training = encoder.training
    encoder.eval()
    try:
        return embed_with_replicas([_Replica(encoder, bf16)], texts, kind, batch_size, tokenizer_threads, progress)
    finally:
        encoder.train(was_training)


class Embedder:
    """An encoder set up for embedding on one or more devices: eval mode, weights in the model dtype,
    one replica per device, optionally compiled. Made once, used for every call (the filter embeds the
    pool and every shard with one).

    The encoder itself becomes the first device's replica (moved and cast in place); the other
    devices get copies of its weights and share its tokenizer.
    """

    def __init__(self, encoder: TextEncoder, devices: Optional[Sequence[Union[str, torch.device]]] = None,
                 model_dtype: str = "auto", compile: Optional[str] = None,
                 tokenizer_threads: int = DEFAULT_TOKENIZER_THREADS):
        targets = [resolve_device(d) for d in devices] if devices else [encoder.device]
        self.dtype = resolve_model_dtype(model_dtype, targets[0])
        self.tokenizer_threads = tokenizer_threads
        encoder.eval()
        self.encoder = encoder.to(device=targets[0], dtype=self.dtype)
        copies = [self.encoder] + [self._copy_to(d) for d in targets[1:]]
        if compile:
            for replica in copies:
                replica.backbone.compile(backend=compile, dynamic=True)
        # fp32 weights on a GPU run exactly in fp32 only when asked (--model_dtype float32)
        self.replicas = [_Replica(c, autocast_bf16=False) for c in copies]

    def _copy_to(self, device: torch.device) -> TextEncoder:
        backbone = copy.deepcopy(self.encoder.backbone).to(device=device, dtype=self.dtype)
        replica = TextEncoder(backbone, self.encoder.tokenizer, self.encoder.settings)
        replica.batch_tokenizer = self.encoder.batch_tokenizer
        return replica.eval()

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def devices(self) -> List[torch.device]:
        return [r.device for r in self.replicas]

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")

    def embed(self, texts: Sequence[str], kind: str = "passage", batch_size: int = 128,
              progress: bool = False) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised, rows in the order of `texts`."""
        return embed_with_replicas(self.replicas, texts, kind, batch_size, self.tokenizer_threads, progress)


def parquet_files(path: Union[str, os.PathLike]) -> List[pathlib.Path]:
    """A .parquet file, or the shards of a folder (sorted), e.g. a pair version dir."""
    path = pathlib.Path(path)
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no .parquet files in {path}")
    return files


def _column_windows(files: Sequence[pathlib.Path], column: str, window: int) -> Iterator[List[str]]:
    """The column's values in file order, in lists of about `window` (one row group at a time)."""
    buffer: List[str] = []
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(columns=[column], batch_size=window):
            buffer.extend(batch.column(0).to_pylist())
            while len(buffer) >= window:
                yield buffer[:window]
                buffer = buffer[window:]
    if buffer:
        yield buffer


def embed_parquet_column(
    encoder: Union[TextEncoder, "Embedder"],
    inputs: Union[str, os.PathLike],
    column: str,
    output: Union[str, os.PathLike],
    kind: str = "passage",
    dtype: str = "float16",
    batch_size: int = 128,
    window: int = 65536,
    device: Union[str, torch.device, None] = None,
    progress: bool = True,
) -> pathlib.Path:
    """Embed a column of all rows (file order) into an .npy memmap; never holds all texts in memory.

    Length sorting happens within windows of `window` rows. The .npy is written under a temp name,
    fsynced and renamed when complete (model.atomic). `encoder` may be an Embedder (several devices,
    bf16 weights); a plain encoder embeds as embed_texts does.
    """
    if isinstance(encoder, Embedder):
        embed = lambda texts: encoder.embed(texts, kind, batch_size)  # noqa: E731
    else:
        embed = lambda texts: embed_texts(encoder, texts, kind, batch_size, device)  # noqa: E731
    files = parquet_files(inputs)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    output = pathlib.Path(output)
    with atomic_path(output) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(total, encoder.dim))
        row = 0
        with tqdm(total=total, disable=not progress, desc=f"embed {column}", unit="text") as bar:
            for texts in _column_windows(files, column, window):
                array[row:row + len(texts)] = embed(texts).astype(dtype)
                row += len(texts)
                bar.update(len(texts))
        array.flush()
        del array
    return output


def build_parser() -> CommandParser:
    p = CommandParser(prog="python -m model.embed", description=__doc__)
    p.add_argument("--model", default=None, type=model_folder, help="model folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--input", required=True, type=existing_path, help=".parquet file or folder of shards")
    p.add_argument("--column", default="passage", help="Parquet column of the texts to embed")
    p.add_argument("--kind", default="passage", choices=["query", "passage"],
                   help="which prefix and max length the texts get")
    p.add_argument("--output", required=True, type=output_file, help=".npy path")
    p.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="dtype of the saved vectors")
    p.add_argument("--batch_size", type=positive_int, default=128, help="texts per forward")
    add_device_flags(p)
    return p


def add_device_flags(p: CommandParser) -> None:
    """--device / --devices, --model_dtype, --compile, --tokenizer_threads: shared with the filter."""
    p.add_argument("--device", default=None, type=device_flag, help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--devices", nargs="+", default=None, type=devices_flag, metavar="DEVICE",
                   help="several devices for one process (e.g. cuda:0 cuda:1, or all); instead of --device")
    p.add_argument("--model_dtype", default="auto", choices=MODEL_DTYPES,
                   help="weights and activations: auto = bfloat16 on GPUs, float32 on CPUs")
    p.add_argument("--compile", action="store_const", const="inductor", default=None,
                   help="torch.compile the encoder (off by default: not measured to pay yet)")
    p.add_argument("--tokenizer_threads", type=non_negative_int, default=DEFAULT_TOKENIZER_THREADS,
                   help="threads tokenizing ahead of the model (0: on the main thread)")


def check_device_flags(parser: CommandParser, args) -> None:
    if args.device is not None and args.devices:
        parser.error("give --device or --devices, not both")


def embedder_from_args(args) -> "Embedder":
    """The encoder of --model set up on the devices of --device/--devices."""
    devices = resolve_devices(args.device, args.devices)
    encoder = _load_encoder(args.model, devices[0])
    return Embedder(encoder, devices, args.model_dtype, args.compile, args.tokenizer_threads)


def check_input(parser: CommandParser, args) -> None:
    """--input holds Parquet with --column: checked before the model loads."""
    try:
        files = parquet_files(args.input)
    except FileNotFoundError as err:
        parser.error(f"--input: {err}")
    for f in files:
        try:
            names = pq.read_schema(f).names
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            parser.error(f"--input: {f} is not readable Parquet ({err})")
        if args.column not in names:
            parser.error(f"--column {args.column}: no such column in {f}")


def main(argv: Optional[Sequence[str]] = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    check_device_flags(parser, args)
    check_input(parser, args)
    embedder = embedder_from_args(args)
    started = time.perf_counter()
    path = embed_parquet_column(embedder, args.input, args.column, args.output, args.kind, args.dtype,
                                args.batch_size)
    rows = np.load(path, mmap_mode="r").shape[0]
    secs = time.perf_counter() - started
    print(json.dumps({"output": str(path), "rows": rows, "seconds": round(secs, 3),
                      "texts_per_s": rows / max(secs, 1e-9), "devices": [str(d) for d in embedder.devices],
                      "model_dtype": embedder.dtype_name}))


if __name__ == "__main__":
    main(sys.argv[1:])
