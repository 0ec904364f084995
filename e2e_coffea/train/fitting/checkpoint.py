"""Checkpoints that make a resumed run continue exactly where the last one stopped.

A checkpoint holds the model and optimizer (and AMP scaler) state, the number of finished
epochs, the early-stopping bookkeeping, the metric history and every RNG state (torch,
CUDA, numpy, Python), so dropout masks and shuffles after a resume match an
uninterrupted run. Files are written to a temporary name and renamed, so a crash
mid-write never leaves a truncated ``last.pt``; they load with ``weights_only=True``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from ...exceptions import TrainingError
from ...io.atomic import atomic_write

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_FORMAT",
    "LAST_NAME",
    "get_rng_state",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
]

CHECKPOINT_FORMAT: Final = 1
LAST_NAME: Final = "last.pt"
BEST_NAME: Final = "best.pt"


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global RNG and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code that trains may use the global RNG
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """Every RNG state, as types ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # noqa: NPY002
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "python": list(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (plus the format tag) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; TrainingError if unusable."""
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: no such checkpoint"
        raise TrainingError(msg)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for damaged or foreign pickles
        msg = f"{p}: not a readable checkpoint ({type(err).__name__}: {err})"
        raise TrainingError(msg) from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        msg = f"{p}: not an e2e_coffea training checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT})"
        raise TrainingError(msg)
    return ckpt
