"""Multi-process training (torchrun): in-batch negatives shared across ranks, one all-reduce per step.

Every rank builds the same global batch from the same seed and encodes its own slice of it. The
embeddings are all-gathered with autograd, so a rank's loss also sends gradient to the passages of
the other ranks; DDP then averages parameter gradients. Net effect: W ranks x B/W rows give the loss
and gradients of 1 rank x B rows (see tests/model/test_distributed.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
from typing import ContextManager, Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from model.encoder import resolve_device


@dataclasses.dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # this context created the process group (and shutdown() ends it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_rows(self, global_batch: int) -> slice:
        """This rank's rows of the global batch; the batch must split evenly."""
        if global_batch % self.world_size:
            raise ValueError(f"batch size {global_batch} is not divisible by world size {self.world_size}")
        per_rank = global_batch // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def rows_of_batch(self, rows: int) -> Optional[slice]:
        """This rank's rows of a batch of `rows` (a short batch too): equal shares, the last
        rows % world_size rows left out; None when the batch cannot give every rank a row and keep
        two rows in all (the step is then skipped on every rank alike).

        Why equal shares: the embeddings are all-gathered, which needs the same rows on every rank,
        and the mean loss over ranks equals the batch's mean loss only with equal shares. Every rank
        builds the same batch from the same seed, so all ranks decide alike and none waits alone.
        """
        per_rank = rows // self.world_size
        if per_rank == 0 or per_rank * self.world_size < 2:
            return None
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def init_distributed(device: str = "auto") -> DistContext:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); a plain run is rank 0 of 1.

    NCCL on GPUs (one per local rank), gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = resolve_device(device)
    if world_size == 1:
        return DistContext(device=chosen)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if chosen.type == "cuda":
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(
            backend="nccl" if chosen.type == "cuda" else "gloo",
            timeout=datetime.timedelta(minutes=30),
        )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen,
                       owns_group=owns_group)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's slice (a reduce-scatter,
    written as all_reduce + slice so it also runs on gloo)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Concatenate equal-sized (n, d) tensors of all ranks in rank order; gradients flow back."""
    if not ctx.enabled:
        return tensor
    return _GatherWithGrad.apply(tensor)


def wrap_model(module: nn.Module, ctx: DistContext) -> nn.Module:
    """DDP when distributed. Buffers (BERT's position ids) are constants: no broadcast per forward."""
    if not ctx.enabled:
        return module
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)


def sync_context(model: nn.Module):
    """sync(last) for grad_cache_step: DDP's no_sync on every replay but the last."""

    def sync(last: bool) -> ContextManager:
        if isinstance(model, DistributedDataParallel) and not last:
            return model.no_sync()
        return contextlib.nullcontext()

    return sync


def mean_across_ranks(value: float, ctx: DistContext) -> float:
    """For logging: the average of a scalar over ranks."""
    if not ctx.enabled:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / ctx.world_size


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """End the process group this context created; one the caller made is the caller's to end."""
    if ctx.enabled and ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
