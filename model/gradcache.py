"""Gradient caching: a contrastive batch far larger than what fits in memory with its encoder graph.

Reference: Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup"
(GradCache, arXiv 2101.06983). The loss of in-batch negatives couples every pair in the batch, so the
batch cannot simply be split into gradient-accumulation steps. Instead:
  1. encode every chunk without a graph, remembering the RNG state before each chunk;
  2. compute the loss on the (detached) embeddings and backpropagate it to the embeddings only
     (this holds a B x B similarity matrix, but no encoder activations);
  3. re-encode each chunk with a graph, RNG restored so dropout draws the same masks, and push the
     cached embedding gradient through it (emb.backward(grad)).
The parameter gradients equal those of one big forward over the same chunks; memory is one chunk's.

Chunks are cut from the batch sorted by length (longest first), so each chunk pads only to its own
longest text; every chunk carries its rows' positions ("rows"), and the embeddings go back into the
batch's order before the loss sees them, so the sort changes the padding, never the pairing.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, ContextManager, Dict, List, Optional, Sequence

import torch
from torch import nn

Chunk = Dict[str, torch.Tensor]
LossFn = Callable[[Sequence[torch.Tensor]], torch.Tensor]
SyncFn = Callable[[bool], ContextManager]


def split_into_chunks(batch: Chunk, chunk_size: Optional[int]) -> List[Chunk]:
    """Row slices of a tokenized batch, each trimmed to its own longest text (less padding to encode).

    With more than one chunk the rows are taken longest first, so texts of similar length share a
    chunk; chunk["rows"] holds each row's position in the batch (see in_row_order).
    """
    n = batch["input_ids"].shape[0]
    size = n if not chunk_size or chunk_size >= n else chunk_size
    lengths = batch["attention_mask"].sum(dim=1)
    if size < n:
        order = torch.sort(lengths, descending=True, stable=True).indices
    else:
        order = torch.arange(n)
    chunks = []
    for start in range(0, n, size):
        rows = order[start:start + size]
        width = int(lengths[rows].max()) if len(rows) else 0
        chunk = {k: v[rows, :max(width, 1)] for k, v in batch.items()}
        chunk["rows"] = rows
        chunks.append(chunk)
    return chunks


def in_row_order(parts: Sequence[torch.Tensor], chunks: Sequence[Chunk]) -> torch.Tensor:
    """The chunks' embeddings, concatenated and put back in the batch's row order (autograd flows)."""
    stacked = torch.cat(list(parts))
    positions = torch.cat([c["rows"] for c in chunks]).to(stacked.device)
    inverse = torch.empty_like(positions)
    inverse[positions] = torch.arange(len(positions), device=positions.device)
    return stacked[inverse]


@dataclasses.dataclass
class RNGState:
    """CPU and (when used) CUDA generator states: restoring them replays the same dropout masks."""

    cpu: torch.Tensor
    cuda: Optional[torch.Tensor]
    device: torch.device

    @classmethod
    def capture(cls, device: torch.device) -> "RNGState":
        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(torch.get_rng_state(), cuda, device)

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)


@dataclasses.dataclass
class StepOutput:
    loss: torch.Tensor  # detached scalar
    embeddings: List[torch.Tensor]  # one detached (n, d) tensor per view, local rows


def _no_sync(_last: bool) -> ContextManager:
    return contextlib.nullcontext()


def _encode(encoder: nn.Module, chunk: Chunk, device: torch.device, autocast: Callable[[], ContextManager]):
    with autocast():
        return encoder(chunk["input_ids"].to(device, non_blocking=True),
                       chunk["attention_mask"].to(device, non_blocking=True))


def plain_step(
    encoder: nn.Module,
    views: Sequence[Sequence[Chunk]],
    loss_fn: LossFn,
    device: torch.device,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> StepOutput:
    """The reference: every chunk of every view encoded with its graph kept, one backward."""
    embeddings = [in_row_order([_encode(encoder, c, device, autocast) for c in chunks], chunks) for chunks in views]
    loss = loss_fn(embeddings)
    loss.backward()
    return StepOutput(loss.detach(), [e.detach() for e in embeddings])


def grad_cache_step(
    encoder: nn.Module,
    views: Sequence[Sequence[Chunk]],
    loss_fn: LossFn,
    device: torch.device,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
    sync: SyncFn = _no_sync,
) -> StepOutput:
    """Same gradients as plain_step, with only one chunk's activations alive at a time.

    views: per view (queries, passages, hard negatives...) the list of its chunks.
    loss_fn: embeddings of all views (local rows) -> scalar; may gather across ranks inside.
    sync(last): context for each replay; under DDP pass no_sync for all but the last replay so
    gradients are all-reduced once per step.
    """
    states: List[List[RNGState]] = []
    cached: List[torch.Tensor] = []
    with torch.no_grad():
        for chunks in views:
            view_states, parts = [], []
            for chunk in chunks:
                view_states.append(RNGState.capture(device))
                parts.append(_encode(encoder, chunk, device, autocast))
            states.append(view_states)
            cached.append(in_row_order(parts, chunks))
    after_first_pass = RNGState.capture(device)

    leaves = [e.detach().requires_grad_() for e in cached]
    loss = loss_fn(leaves)
    loss.backward()

    replays = [(v, i) for v, chunks in enumerate(views) for i in range(len(chunks))]
    for n, (v, i) in enumerate(replays):
        chunk = views[v][i]
        grad = leaves[v].grad[chunk["rows"].to(leaves[v].grad.device)]
        states[v][i].restore()
        with sync(n == len(replays) - 1):
            emb = _encode(encoder, chunk, device, autocast)
            emb.backward(grad)
    after_first_pass.restore()
    return StepOutput(loss.detach(), [e.detach() for e in cached])
