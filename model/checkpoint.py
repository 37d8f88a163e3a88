"""Training checkpoints: everything needed to continue a run exactly, written atomically.

One file per checkpoint (`<output>/checkpoints/step-00000010.pt`) with model, optimizer, scheduler,
step, data position and the RNG states of every rank. It is written to a temp name and renamed, and
the `latest` pointer is updated the same way, so a crash mid-write never leaves a checkpoint that
looks complete but is not.
"""

from __future__ import annotations

import os
import pathlib
import random
import re
from typing import Any, Dict, Optional

import numpy as np
import torch

LATEST_NAME = "latest"
CHECKPOINT_RE = re.compile(r"^step-(\d{8})\.pt$")


def capture_rng_states() -> Dict[str, Any]:
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: Dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoint_path(directory: pathlib.Path, step: int) -> pathlib.Path:
    return directory / f"step-{step:08d}.pt"


def atomic_write_text(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(directory: os.PathLike | str, step: int, payload: Dict[str, Any], keep: int = 2) -> pathlib.Path:
    """Write step-N.pt via tmp + rename, point `latest` at it, keep the newest `keep` checkpoints."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory, step)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    atomic_write_text(directory / LATEST_NAME, final.name + "\n")
    if keep > 0:
        existing = sorted(p for p in directory.iterdir() if CHECKPOINT_RE.match(p.name))
        for old in existing[:-keep]:
            old.unlink()
    return final


def latest_checkpoint(directory: os.PathLike | str) -> Optional[pathlib.Path]:
    directory = pathlib.Path(directory)
    pointer = directory / LATEST_NAME
    if not pointer.is_file():
        return None
    path = directory / pointer.read_text().strip()
    return path if path.is_file() else None


def load_checkpoint(path: os.PathLike | str, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    # Our own files; they hold numpy RNG state and plain dicts, which weights_only refuses.
    return torch.load(path, map_location=map_location, weights_only=False)
