"""InfoNCE with in-batch negatives: the contrastive loss of E5 pre-training.

Reference: E5, "Text Embeddings by Weakly-Supervised Contrastive Pre-training" (arXiv 2212.03533),
eq. 1, which follows CLIP/SimCLR-style InfoNCE (van den Oord et al., arXiv 1807.03748).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional


class InfoNCELoss(nn.Module):
    """Cross-entropy over cosine similarities scaled by 1/tau; row i's positive is passage i.

    Inputs (all L2-normalised, so a dot product is a cosine):
      queries        (B, d)  the whole contrastive batch (gathered across ranks when distributed)
      passages       (B, d)  passages[i] is the positive of queries[i]; every other passage is a negative
      hard_negatives (B*h, d), optional: extra negatives appended to every query's candidate list
      rows           optional slice of the B rows this process answers for (its own queries); the loss
                     is the mean over those rows, so averaging it over ranks gives the full-batch mean.
    Output: a scalar tensor.

    scale = 1/tau; E5 uses tau = 0.01, so scale = 100. With symmetric=True the passage->query
    direction (each passage must pick its query among all queries) is added and the two are averaged.
    """

    def __init__(self, scale: float = 100.0, symmetric: bool = False):
        super().__init__()
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = float(scale)
        self.symmetric = bool(symmetric)

    def forward(
        self,
        queries: torch.Tensor,
        passages: torch.Tensor,
        hard_negatives: Optional[torch.Tensor] = None,
        rows: Optional[slice] = None,
    ) -> torch.Tensor:
        rows = rows or slice(0, queries.shape[0])
        labels = torch.arange(rows.start, rows.stop, device=queries.device)
        candidates = passages if hard_negatives is None else torch.cat([passages, hard_negatives])
        logits = queries[rows] @ candidates.T * self.scale
        loss = functional.cross_entropy(_at_least_fp32(logits), labels)
        if self.symmetric:
            reverse = passages[rows] @ queries.T * self.scale
            loss = (loss + functional.cross_entropy(_at_least_fp32(reverse), labels)) / 2
        return loss


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """Softmax over large scaled logits in fp32 even under bf16 autocast; fp64 stays fp64."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


@torch.no_grad()
def in_batch_accuracy(queries: torch.Tensor, passages: torch.Tensor, rows: Optional[slice] = None) -> float:
    """Share of queries (in `rows`) whose own passage scores highest among the batch's passages."""
    rows = rows or slice(0, queries.shape[0])
    labels = torch.arange(rows.start, rows.stop, device=queries.device)
    predicted = (queries[rows] @ passages.T).argmax(dim=1)
    return float((predicted == labels).float().mean())
