"""Learning-rate schedule: linear warmup from 0, then linear decay to 0 at the last step (BERT, E5)."""

from __future__ import annotations


class WarmupLinearDecay:
    """Multiplier for torch.optim.lr_scheduler.LambdaLR; a plain object so its state is picklable."""

    def __init__(self, warmup_steps: int, total_steps: int):
        if total_steps <= 0:
            raise ValueError("total_steps must be positive")
        self.warmup_steps = max(0, int(warmup_steps))
        self.total_steps = int(total_steps)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        remaining = self.total_steps - step
        return max(0.0, remaining / max(1, self.total_steps - self.warmup_steps))
