"""Contrastive pre-training of a text encoder on pair Parquet (E5 recipe).

    python -m model.train --pairs out/reddit out/stackexchange --output runs/e5-small \
        --batch_size 1024 --chunk_size 128 --max_steps 20000
    torchrun --nproc_per_node 8 -m model.train ...         (in-batch negatives across GPUs)

Writes to --output: train_config.json, train_log.jsonl (one JSON line per logged step),
checkpoints/step-N.pt (+ `latest`), and model/ (the final encoder, loadable with
SentenceTransformer and AutoModel), each file atomically. --resume continues exactly from the newest
complete checkpoint, on the shards that checkpoint recorded, and refuses a run that differs in what
defines it (world size, model, tokenizer, loss, lengths, data, schedule). One run writes an --output
at a time: it holds <output>/train.lock.

The input pipeline runs ahead of the model: a background thread draws the next batches and tokenizes
them (--prefetch_batches; into pinned memory on GPUs), GradCache chunks are cut from length-sorted
rows, attention is SDPA and AdamW is fused on CUDA. A batch shorter than --batch_size (a source with
fewer distinct pairs) is shared equally by all ranks, or skipped on all when it cannot be.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import os
import pathlib
import random
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from model import atomic, run_lock
from model import checkpoint as ckpt
from model.data import PairBatcher
from model.distributed import (
    DistContext, barrier, gather_with_grad, init_distributed, mean_across_ranks, shutdown, sync_context,
    wrap_model,
)
from model.embed import device_flag
from model.encoder import (
    EncoderSettings, TextEncoder, build_random_encoder, default_model_path, load_bert_config, load_encoder,
)
from model.flops import peak_flops, train_flops_per_token
from model.gradcache import Chunk, grad_cache_step, plain_step, split_into_chunks
from model.losses import InfoNCELoss, in_batch_accuracy
from model.prefetch import pin_if_cuda, prefetched
from model.saving import folder_fingerprint, save_encoder
from schemas import versions
from schemas.cli import (
    CommandParser, existing_path, json_object_file, model_folder, non_negative_float, non_negative_int,
    output_path, positive_float, positive_int, ratio,
)

logger = logging.getLogger("model.train")

# Token lengths when not given: clamped to a smaller model's positions (see fit_lengths_to_model).
DEFAULT_MAX_LENGTHS = {"query_max_length": 32, "passage_max_length": 128}
# Model types whose position table reserves pad_token_id + 1 slots (RoBERTa's offset), e.g. multilingual E5.
OFFSET_POSITION_MODELS = ("roberta", "xlm-roberta", "camembert")

# Arguments that must not change across --resume: they define the data stream, the schedule, the
# objective and how texts become tokens. The model and tokenizer are compared by content and the
# world size by number (run_identity).
RESUME_INVARIANTS = ("pairs", "batch_size", "seed", "max_steps", "epochs", "source_weights",
                     "hard_negative_column", "lr", "warmup_steps", "warmup_ratio", "weight_decay",
                     "max_grad_norm", "scale", "symmetric", "query_max_length", "passage_max_length",
                     "query_prefix", "passage_prefix")
# Steps skipped in a row (batches too short for every rank to take a row) before the run gives up.
MAX_SKIPPED_IN_A_ROW = 1000


def build_parser() -> CommandParser:
    p = CommandParser(prog="python -m model.train", description=__doc__)  # its formatter shows each default
    p.add_argument("--pairs", nargs="+", required=True, type=existing_path,
                   help="version dirs (with manifest.json) or folders above them")
    p.add_argument("--output", required=True, type=output_path,
                   help="run folder: train_config.json, train_log.jsonl, checkpoints/, model/")
    init = p.add_mutually_exclusive_group()
    init.add_argument("--model", default=None, type=model_folder,
                      help="local model folder (default: bundled all-MiniLM-L6-v2)")
    init.add_argument("--init_config", default=None, type=bert_config_spec,
                      help="random init from a BertConfig: JSON file, inline JSON, or a model folder "
                           "(default: none, start from --model)")
    p.add_argument("--tokenizer", default=None, type=existing_path,
                   help="tokenizer folder for --init_config (default: MiniLM's)")
    p.add_argument("--query_prefix", default="query: ", help="text put before each query")
    p.add_argument("--passage_prefix", default="passage: ", help="text put before each passage")
    for flag, default in DEFAULT_MAX_LENGTHS.items():
        p.add_argument(f"--{flag}", type=positive_int, default=None,
                       help=f"tokens (default {default}, or the model's limit if smaller; more than the limit is refused)")
    p.add_argument("--batch_size", type=positive_int, default=256,
                   help="global contrastive batch (all ranks), at least 2")
    p.add_argument("--chunk_size", type=non_negative_int, default=0,
                   help="rows per forward with gradient caching; 0 = whole local batch in one forward")
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--max_steps", type=positive_int, default=None,
                        help="optimizer steps to train for (required: this or --epochs)")
    length.add_argument("--epochs", type=positive_float, default=None,
                        help="instead of --max_steps: passes over all pairs (required: this or --max_steps)")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="peak learning rate (AdamW, linear warmup and decay)")
    p.add_argument("--weight_decay", type=non_negative_float, default=0.01,
                   help="AdamW weight decay (not on biases and LayerNorm)")
    p.add_argument("--warmup_steps", type=non_negative_int, default=None,
                   help="learning-rate warmup steps (default: --warmup_ratio of all steps)")
    p.add_argument("--warmup_ratio", type=ratio, default=0.05, help="warmup share of all steps, without --warmup_steps")
    p.add_argument("--max_grad_norm", type=positive_float, default=1.0, help="gradients are clipped to this norm")
    p.add_argument("--scale", type=positive_float, default=100.0, help="1/temperature; E5: tau=0.01")
    p.add_argument("--symmetric", action="store_true", help="add the passage->query InfoNCE term")
    p.add_argument("--hard_negative_column", default=None,
                   help="Parquet column with one hard negative per pair (default: none, in-batch negatives only)")
    p.add_argument("--source_weights", nargs="*", default=None, metavar="SOURCE=WEIGHT", type=source_weight,
                   help="mixture weights (default: proportional to the number of pairs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data order, dropout and random init")
    p.add_argument("--device", default="auto", type=device_flag, choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA when there is one, else the CPU")
    p.add_argument("--no_bf16", dest="bf16", action="store_false", help="disable bf16 autocast on CUDA")
    p.add_argument("--log_every", type=positive_int, default=10, help="steps between lines of train_log.jsonl")
    p.add_argument("--save_every", type=positive_int, default=1000, help="steps between checkpoints")
    p.add_argument("--keep_checkpoints", type=non_negative_int, default=2, help="newest checkpoints kept; 0 keeps them all")
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="continue from the newest complete checkpoint in --output (or the given checkpoint file) "
                        "(default: start afresh)")
    p.add_argument("--stop_after_step", type=positive_int, default=None,
                   help="checkpoint and exit after this step (time-sliced or preemptible jobs) "
                        "(default: none, run to the end)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.add_argument("--prefetch_batches", type=non_negative_int, default=2,
                   help="batches drawn and tokenized ahead in a background thread (0: on the main thread)")
    p.add_argument("--compile", action="store_const", const="inductor", default=None,
                   help="torch.compile the encoder (off by default: not measured to pay yet)")
    return p


def bert_config_spec(text: str) -> str:
    """--init_config: a model folder with config.json, a JSON object file, or an inline JSON object."""
    path = pathlib.Path(text)
    if path.is_dir():
        return model_folder(text)
    if path.is_file() or text.lstrip()[:1] not in ("{", "["):
        return json_object_file(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"inline JSON is not valid: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("inline JSON must be an object")
    return text


def source_weight(text: str) -> str:
    """SOURCE=WEIGHT with a weight >= 0; kept as text (it is compared on --resume)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected SOURCE=WEIGHT, got {text!r}")
    non_negative_float(value)
    return text


def parse_weights(items: Optional[Sequence[str]]) -> Optional[Dict[str, float]]:
    if not items:
        return None
    weights = {}
    for item in items:  # each already checked by source_weight()
        name, _, value = item.partition("=")
        weights[name] = float(value)
    return weights


def build_encoder(args: argparse.Namespace) -> TextEncoder:
    settings = EncoderSettings(
        query_prefix=args.query_prefix, passage_prefix=args.passage_prefix,
        query_max_length=args.query_max_length, passage_max_length=args.passage_max_length)
    if args.init_config:
        return build_random_encoder(load_bert_config(args.init_config), args.tokenizer, settings, seed=args.seed)
    return load_encoder(args.model, "cpu", settings)


def parameter_groups(encoder: TextEncoder, weight_decay: float) -> List[Dict[str, Any]]:
    """No weight decay on biases and LayerNorm weights (BERT convention)."""
    decay, no_decay = [], []
    for name, param in encoder.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def seed_everything(seed: int, rank: int) -> None:
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)  # dropout differs per rank; model init is seeded separately


class JsonlLog:
    """train_log.jsonl on rank 0, appended to. On resume, lines past the checkpoint's step are dropped
    first, and so is a line torn by a kill mid-append."""

    def __init__(self, path: pathlib.Path, enabled: bool, resume_step: Optional[int]):
        self.path, self.enabled = path, enabled
        if enabled and resume_step is not None and path.is_file():
            kept = [l for l in path.read_text().splitlines() if _logged_step(l) <= resume_step]
            versions.write_bytes(path, "".join(l + "\n" for l in kept).encode())
        elif enabled and resume_step is None:
            versions.write_bytes(path, b"")

    def write(self, record: Dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def _logged_step(line: str) -> float:
    """The step of a log line; infinity for a line that is not a whole record (never kept)."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


def check_setup(parser: CommandParser, args: argparse.Namespace) -> None:
    """Checks across flags and against this machine that argparse types cannot make."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size < 2:
        parser.error("--batch_size must be at least 2 (in-batch negatives)")
    if args.batch_size % world_size:
        parser.error(f"--batch_size {args.batch_size} does not split over WORLD_SIZE={world_size} ranks")
    if args.tokenizer and not args.init_config:
        parser.error("--tokenizer goes with --init_config (a --model folder brings its own tokenizer)")


def open_pairs(parser: CommandParser, args: argparse.Namespace) -> PairBatcher:
    """The batcher over --pairs (manifests and Parquet footers only): bad data flags fail here."""
    try:
        batcher = PairBatcher(args.pairs, args.batch_size, seed=args.seed,
                              weights=parse_weights(args.source_weights),
                              hard_negative_column=args.hard_negative_column)
    except (OSError, ValueError, versions.VersionError) as err:
        parser.error(str(err))  # names the folder, version or source weight at fault
    column = args.hard_negative_column
    if column:
        for shard in (s for source in batcher.sources.values() for s in source.shards):
            if column not in versions.open_parquet(shard.path).schema_arrow.names:
                parser.error(f"--hard_negative_column {column}: no such column in {shard.path}")
    warn_small_sources(batcher)
    return batcher


def warn_small_sources(batcher: PairBatcher) -> None:
    """A source smaller than one batch trains on short batches of the same rows: say so before step 1."""
    for source, rows in batcher.sources_under_one_batch().items():
        logger.warning("source %r has %d pairs, fewer than one batch of %d: each of its batches is all of "
                       "them (fewer in-batch negatives, the same rows every time)", source, rows, batcher.batch_size)


def read_resume_state(parser: CommandParser, args: argparse.Namespace,
                      identity: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The checkpoint to continue from, refused unless it belongs to the same run.

    Without a file named, the newest checkpoint that loads whole (not `latest`, which a kill can
    leave one checkpoint behind). Compared: RESUME_INVARIANTS (after the lengths are resolved) and
    run_identity (world size, model and tokenizer contents).
    """
    if not args.resume:
        return None
    checkpoints = pathlib.Path(args.output) / "checkpoints"
    if args.resume == "latest":
        found = ckpt.newest_complete_checkpoint(checkpoints)
        if found is None:
            parser.error(f"--resume: no checkpoint in {checkpoints} that loads")
        state = found[1]
    else:
        try:
            state = ckpt.read_training_state(args.resume)
        except ckpt.CheckpointError as err:
            parser.error(f"--resume: {err}")
    differences = {k: (state["args"].get(k), getattr(args, k)) for k in RESUME_INVARIANTS
                   if state["args"].get(k) != getattr(args, k)}
    differences.update(identity_differences(recorded_identity(state), identity))
    if differences:
        details = "; ".join(f"{k}: {old!r} in the checkpoint, {new!r} now" for k, (old, new) in differences.items())
        parser.error(f"--resume with different {list(differences)} would not continue the same run ({details})")
    return state


def run_identity(args: argparse.Namespace) -> Dict[str, Any]:
    """What a run starts from, by content: a moved model folder is the same model, an edited one is not."""
    identity: Dict[str, Any] = {"run_identity_version": 1, "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
    if args.init_config:
        config = json.dumps(read_model_config(args), sort_keys=True)
        identity["init_config"] = hashlib.blake2b(config.encode(), digest_size=16).hexdigest()
        identity["tokenizer"] = folder_fingerprint(args.tokenizer or default_model_path(), weights=False)
    else:
        identity["model"] = folder_fingerprint(args.model or default_model_path())
    return identity


def recorded_identity(state: Dict[str, Any]) -> Dict[str, Any]:
    """A checkpoint's run_identity; an older checkpoint gives its world size (one RNG state per rank)."""
    return state.get("run_identity") or {"world_size": len(state["rng"])}


def identity_differences(recorded: Dict[str, Any], current: Dict[str, Any]) -> Dict[str, tuple]:
    """Identity keys whose values differ. A checkpoint with a whole identity is compared on every key
    (a model folder against a config differs); an older one on what it records."""
    keys = sorted(set(recorded) | set(current)) if "run_identity_version" in recorded else sorted(recorded)
    return {k: (recorded.get(k), current.get(k)) for k in keys
            if k != "run_identity_version" and recorded.get(k) != current.get(k)}


def reopen_recorded_pairs(parser: CommandParser, args: argparse.Namespace, state: Dict[str, Any],
                          walked: PairBatcher) -> PairBatcher:
    """The batcher of the checkpoint: the very shards it recorded, whatever --pairs holds now."""
    if "shards" not in state["data"]:
        logger.warning("--resume: the checkpoint predates shard records; reading the shards --pairs gives now")
        walked.load_state_dict(state["data"])
        return walked
    try:
        batcher = PairBatcher.from_state(state["data"], args.batch_size, seed=args.seed,
                                         weights=parse_weights(args.source_weights),
                                         hard_negative_column=args.hard_negative_column)
    except (OSError, ValueError, versions.VersionError) as err:
        parser.error(f"--resume: {err}")
    if batcher.shard_record() != walked.shard_record():
        logger.warning("--resume: --pairs now holds other shards than the checkpoint's; training goes on "
                       "with the checkpoint's %d shards", sum(len(s.shards) for s in batcher.sources.values()))
    return batcher


def read_model_config(args: argparse.Namespace) -> Dict[str, Any]:
    """The model's config as JSON (no weights loaded): --init_config's BertConfig, else --model's config.json."""
    if args.init_config:
        return load_bert_config(args.init_config).to_dict()
    folder = pathlib.Path(args.model) if args.model else default_model_path()
    try:
        value = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return {}  # loading the model reports it
    return value if isinstance(value, dict) else {}


def position_limit(config: Dict[str, Any]) -> Optional[int]:
    """How many tokens the model's position embeddings take; None when its config does not say."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    if config.get("model_type") in OFFSET_POSITION_MODELS:
        pad = config.get("pad_token_id")
        positions -= (pad if isinstance(pad, int) else 1) + 1
    return positions


def fit_lengths_to_model(parser: CommandParser, args: argparse.Namespace) -> None:
    """Refuse a max length the model cannot embed; clamp a default one to it, with a warning.

    Why the difference: a length the user asked for is refused rather than silently changed, but
    the defaults (E5's 32/128) must not make a smaller model unusable (a 64-position test model,
    or pipelines.main, which passes no lengths).
    """
    limit = position_limit(read_model_config(args))
    for flag, default in DEFAULT_MAX_LENGTHS.items():
        given = getattr(args, flag)
        if given is not None and limit is not None and given > limit:
            parser.error(f"--{flag} {given} is more than the model's {limit} positions (max_position_embeddings)")
        if given is None and limit is not None and default > limit:
            logger.warning("--%s: using the model's limit %d instead of the default %d", flag, limit, default)
        setattr(args, flag, given if given is not None else min(default, limit or default))


def lock_output(parser: CommandParser, args: argparse.Namespace) -> Optional[run_lock.RunLock]:
    """Rank 0 claims --output (creating it) for this run; a live run there is refused in one line."""
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    try:
        return run_lock.acquire(args.output)
    except run_lock.OutputLocked as err:
        parser.error(str(err))


def train(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run training; returns the last logged record (plus output paths).

    Every flag is checked (values, data, checkpoint, lengths against the model's config) before the
    output folder or the model exists; then the output folder is locked for this run.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    check_setup(parser, args)
    batcher = open_pairs(parser, args)
    fit_lengths_to_model(parser, args)
    identity = run_identity(args)
    state = read_resume_state(parser, args, identity)
    if state is not None:
        batcher = reopen_recorded_pairs(parser, args, state, batcher)
    lock = lock_output(parser, args)
    try:
        ctx = init_distributed(args.device)
        try:
            return _train(args, ctx, batcher, state, identity)
        finally:
            shutdown(ctx)
    finally:
        if lock is not None:
            lock.release()


@dataclasses.dataclass
class PreparedStep:
    """One step's inputs, made ahead by the prefetch thread: this rank's tokenized chunks of a batch."""

    source: str
    rows: Optional[slice]  # this rank's rows of the shared batch; None: the batch is skipped on every rank
    used_rows: int  # rows of the batch that all ranks use together
    views: List[List[Chunk]]  # per view (queries, passages[, hard negatives]) its chunks
    tokens: Dict[str, float]  # token counts and mean lengths of this rank's queries and passages
    position: Dict[str, Any]  # the batcher's position after this batch (what a checkpoint records)


def prepare_step(batcher: PairBatcher, encoder: TextEncoder, ctx: DistContext, chunk_size: int,
                 hard_negatives: bool) -> PreparedStep:
    """Draw the next batch and tokenize this rank's share (runs in the prefetch thread, in order)."""
    batch = batcher.next_batch()
    position = batcher.position()
    rows = ctx.rows_of_batch(len(batch))
    if rows is None:
        return PreparedStep(batch.source, None, 0, [], {}, position)
    texts = [(batch.queries[rows], "query"), (batch.passages[rows], "passage")]
    if hard_negatives:
        texts.append((batch.hard_negatives[rows], "passage"))
    tokenized = [encoder.tokenize(t, kind) for t, kind in texts]
    views = [[pin_if_cuda(c, ctx.device) for c in split_into_chunks(t, chunk_size)] for t in tokenized]
    q_tokens, p_tokens = int(tokenized[0]["attention_mask"].sum()), int(tokenized[1]["attention_mask"].sum())
    count = rows.stop - rows.start
    tokens = {"query": q_tokens, "passage": p_tokens, "query_len": q_tokens / count, "passage_len": p_tokens / count}
    return PreparedStep(batch.source, rows, count * ctx.world_size, views, tokens, position)


def build_optimizer(encoder: TextEncoder, args: argparse.Namespace, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; the fused kernel on CUDA (one launch for all parameters instead of several per tensor)."""
    fused = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(parameter_groups(encoder, args.weight_decay), lr=args.lr, **fused)


def _train(args: argparse.Namespace, ctx: DistContext, batcher: PairBatcher,
           state: Optional[Dict[str, Any]], identity: Dict[str, Any]) -> Dict[str, Any]:
    output = pathlib.Path(args.output)
    checkpoints = output / "checkpoints"
    if ctx.is_main:
        output.mkdir(parents=True, exist_ok=True)
        remove_half_saved_models(output)
    seed_everything(args.seed, ctx.rank)
    device = ctx.device
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    encoder = build_encoder(args).to(device)
    encoder.train()
    if args.compile:
        encoder.backbone.compile(backend=args.compile, dynamic=True)  # in place: state_dict keys unchanged
    model = wrap_model(encoder, ctx)
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = build_optimizer(encoder, args, device)
    max_steps = args.max_steps or max(1, math.ceil(args.epochs * batcher.total_rows / args.batch_size))
    warmup = args.warmup_steps if args.warmup_steps is not None else round(args.warmup_ratio * max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, max_steps)
    loss_fn = InfoNCELoss(scale=args.scale, symmetric=args.symmetric)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if (
        device.type == "cuda" and args.bf16) else contextlib.nullcontext

    step = 0
    if state is not None:
        encoder.backbone.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        ckpt.restore_rng_states(state["rng"][ctx.rank])
        step = int(state["step"])
    elif ctx.is_main:
        versions.write_bytes(output / "train_config.json", (json.dumps(
            {**vars(args), "max_steps_resolved": max_steps, "warmup_resolved": warmup,
             "world_size": ctx.world_size, "total_pairs": batcher.total_rows,
             "pair_versions": pair_versions(batcher)}, indent=2) + "\n").encode())

    log = JsonlLog(output / "train_log.jsonl", ctx.is_main, step if args.resume else None)
    flops_peak = peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    bert_config = encoder.backbone.config
    has_hard = args.hard_negative_column is not None
    position = batcher.position()
    skipped, skipped_in_a_row = 0, 0
    window = {"time": 0.0, "pairs": 0, "tokens": 0, "flops": 0.0, "loss": 0.0, "acc": 0.0, "n": 0}
    last: Dict[str, Any] = {}
    bar = tqdm(total=max_steps, initial=step, disable=not ctx.is_main or args.no_progress,
               desc="train", dynamic_ncols=True)
    steps = prefetched(itertools.repeat(None),
                       lambda _: prepare_step(batcher, encoder, ctx, args.chunk_size, has_hard),
                       workers=1 if args.prefetch_batches else 0, depth=args.prefetch_batches)
    try:
        while step < max_steps:
            started = time.perf_counter()
            prepared = next(steps)
            position = prepared.position
            if prepared.rows is None:
                skipped, skipped_in_a_row = skipped + 1, skipped_in_a_row + 1
                check_not_stuck(skipped_in_a_row, prepared.source, ctx)
                continue
            skipped_in_a_row = 0
            rows = prepared.rows

            def contrastive_loss(embeddings: Sequence[torch.Tensor]) -> torch.Tensor:
                gathered = [gather_with_grad(e, ctx) for e in embeddings]
                return loss_fn(gathered[0], gathered[1], gathered[2] if has_hard else None, rows=rows)

            optimizer.zero_grad(set_to_none=True)
            if len(prepared.views[0]) > 1:  # several chunks: gradient caching
                out = grad_cache_step(model, prepared.views, contrastive_loss, device, autocast, sync_context(model))
            else:
                out = plain_step(model, prepared.views, contrastive_loss, device, autocast)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            step += 1

            with torch.no_grad():
                all_q, all_p = gather_with_grad(out.embeddings[0], ctx), gather_with_grad(out.embeddings[1], ctx)
                acc = in_batch_accuracy(all_q, all_p, rows)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t = prepared.tokens
            window["time"] += time.perf_counter() - started
            window["pairs"] += prepared.used_rows
            window["tokens"] += (t["query"] + t["passage"]) * ctx.world_size
            window["flops"] += ctx.world_size * (
                t["query"] * train_flops_per_token(bert_config, t["query_len"])
                + t["passage"] * train_flops_per_token(bert_config, t["passage_len"]))
            window["loss"] += float(out.loss)
            window["acc"] += acc
            window["n"] += 1
            bar.update(1)

            if step % args.log_every == 0 or step == max_steps:
                n, secs = window["n"], max(window["time"], 1e-9)
                last = {
                    "step": step,
                    "source": prepared.source,
                    "loss": mean_across_ranks(window["loss"] / n, ctx),
                    "accuracy": mean_across_ranks(window["acc"] / n, ctx),
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "pairs_per_s": window["pairs"] / secs,
                    "tokens_per_s": window["tokens"] / secs,
                    "epoch": position["batch_index"] * args.batch_size / batcher.total_rows,
                    "skipped_duplicates": position["skipped_duplicates"],
                    "short_batches": position["short_batches"],
                    "batches_by_source": position["batches_by_source"],
                    "batch_rows": prepared.used_rows,
                    "skipped_steps": skipped,
                }
                if flops_peak:
                    last["mfu"] = window["flops"] / secs / ctx.world_size / flops_peak
                log.write(last)
                bar.set_postfix(loss=f"{last['loss']:.4f}", acc=f"{last['accuracy']:.3f}", lr=f"{lr:.2e}")
                window = {k: 0 for k in window}

            stopping = args.stop_after_step is not None and step >= args.stop_after_step
            if step % args.save_every == 0 or step == max_steps or stopping:
                data_state = {"shards": batcher.shard_record(), **position}
                save_training_state(checkpoints, step, args, ctx, encoder, optimizer, scheduler, data_state, identity)
            if stopping:
                break
    finally:
        steps.close()
    bar.close()
    if ctx.is_main and "batches_by_source" in last:
        logger.info("batches per source: %s", ", ".join(f"{name} {n}" for name, n in last["batches_by_source"].items()))

    if step == max_steps and ctx.is_main:
        save_encoder(encoder, output / "model")
    barrier(ctx)
    return {**last, "step": step, "output": str(output), "model": str(output / "model")}


def check_not_stuck(skipped_in_a_row: int, source: str, ctx: DistContext) -> None:
    """Batches too short for every rank, many in a row: the sources cannot feed this many ranks.
    Every rank sees the same batches, so every rank stops here at the same step."""
    if skipped_in_a_row == 1:
        logger.warning("a batch of source %r has fewer distinct pairs than the %d ranks: skipped on every rank",
                       source, ctx.world_size)
    if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
        raise RuntimeError(f"{skipped_in_a_row} batches in a row had fewer distinct pairs than the "
                           f"{ctx.world_size} ranks (last from source {source!r}): use fewer ranks or more pairs")


def pair_versions(batcher: PairBatcher) -> List[str]:
    """The version folders the run reads (the folders of its shards), for train_config.json."""
    folders = {os.path.dirname(str(s.path)) for source in batcher.sources.values() for s in source.shards}
    return sorted(folders)


def remove_half_saved_models(output: pathlib.Path) -> None:
    """Temp model folders of a run killed while saving (model.atomic names); safe under the run lock."""
    for leftover in output.glob(f".model{versions.TMP_MARK}*"):
        atomic.remove_quietly(leftover)


def save_training_state(directory, step, args, ctx, encoder, optimizer, scheduler, data_state, identity) -> None:
    """Rank 0 writes; every rank contributes its RNG state (dropout streams differ per rank)."""
    rng = ckpt.capture_rng_states()
    if ctx.enabled:
        import torch.distributed as dist

        all_rng: List[Any] = [None] * ctx.world_size
        dist.all_gather_object(all_rng, rng)
    else:
        all_rng = [rng]
    if ctx.is_main:
        ckpt.save_checkpoint(directory, step, {
            "step": step,
            "args": vars(args),
            "model": encoder.backbone.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "data": data_state,
            "rng": all_rng,
            "run_identity": identity,
            "encoder_settings": encoder.settings.to_dict(),
        }, keep=args.keep_checkpoints)
    barrier(ctx)


def main(argv: Optional[Sequence[str]] = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    summary = train(argv)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
