"""Training checkpoints: everything needed to continue a run exactly, written atomically.

One file per checkpoint (`<output>/checkpoints/step-00000010.pt`) with model, optimizer, scheduler,
step, data position and the RNG states of every rank. It is written under a temp name, fsynced and
renamed (model.atomic), so a file under a step-N.pt name is complete. `latest` names the newest
one for people and scripts, but --resume does not trust it: a run killed between a checkpoint's
rename and the pointer update leaves a complete step-N.pt that `latest` does not name yet. Resume
takes the newest step-N.pt that loads and holds a whole training state, and skips (with a warning)
any that does not: a torn file from an older writer, or one damaged on disk.
"""

from __future__ import annotations

import logging
import os
import pathlib
import random
import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from model import atomic
from schemas.versions import write_bytes

log = logging.getLogger(__name__)

LATEST_NAME = "latest"
CHECKPOINT_RE = re.compile(r"^step-(\d{8})\.pt$")
STATE_KEYS = ("step", "args", "model", "optimizer", "scheduler", "data", "rng")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be resumed from (unreadable, torn, or not a training state)."""


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


def checkpoint_step(path: pathlib.Path) -> int:
    """N of a step-N.pt file."""
    return int(CHECKPOINT_RE.match(path.name).group(1))


def save_checkpoint(directory: os.PathLike | str, step: int, payload: Dict[str, Any], keep: int = 2) -> pathlib.Path:
    """Write step-N.pt atomically, point `latest` at it, keep the newest `keep` checkpoints."""
    directory = pathlib.Path(directory)
    final = checkpoint_path(directory, step)
    atomic.write_with(final, lambda handle: torch.save(payload, handle))
    write_bytes(directory / LATEST_NAME, (final.name + "\n").encode())
    prune_checkpoints(directory, keep)
    return final


def prune_checkpoints(directory: pathlib.Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (0 keeps all), and temp files a killed writer left.

    Safe because one run writes a folder at a time (model.run_lock).
    """
    for leftover in (p for p in directory.iterdir() if atomic.is_temp_name(p.name)):
        atomic.remove_quietly(leftover)
    if keep > 0:
        for old in checkpoint_files(directory)[keep:]:
            old.unlink()


def checkpoint_files(directory: os.PathLike | str) -> List[pathlib.Path]:
    """The step-N.pt files in `directory`, newest (highest step) first."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if CHECKPOINT_RE.match(p.name)), reverse=True)


def newest_complete_checkpoint(directory: os.PathLike | str) -> Optional[Tuple[pathlib.Path, Dict[str, Any]]]:
    """(path, state) of the newest step-N.pt that loads and holds a whole training state.

    Newer files that do not are skipped with a warning, so a damaged newest checkpoint costs the
    steps since the one before it, not the run.
    """
    for path in checkpoint_files(directory):
        try:
            return path, read_training_state(path)
        except CheckpointError as err:
            log.warning("skipping checkpoint %s", err)
    return None


def read_training_state(path: os.PathLike | str) -> Dict[str, Any]:
    """A checkpoint's state, checked to be whole; CheckpointError (one line) otherwise."""
    try:
        state = load_checkpoint(path)
    except Exception as err:  # torch reports a torn zip as RuntimeError, a torn pickle as EOFError, ...
        raise CheckpointError(f"{path}: does not load ({type(err).__name__}: {err})") from None
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state (missing {missing})")
    return state


def load_checkpoint(path: os.PathLike | str, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    # Our own files; they hold numpy RNG state and plain dicts, which weights_only refuses.
    return torch.load(path, map_location=map_location, weights_only=False)
