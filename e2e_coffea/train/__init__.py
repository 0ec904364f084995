"""Training: batches, deterministic splits, the fit loop, checkpoints, ML4SCI files, ROOT streams."""

from __future__ import annotations

from .batch import ArrayBatches, Batch, as_batch
from .checkpoint import load_checkpoint, seed_everything
from .errors import TrainingError
from .loop import TrainResult, fit, loss_for
from .metrics import roc_auc
from .ml4sci import ML4SCIDataset, ML4SCIWriter, write_ml4sci
from .split import SPLIT_NAMES, split_of, splitmix64
from .stream import FrameBatches, frame_batches

__all__ = [
    "SPLIT_NAMES",
    "ArrayBatches",
    "Batch",
    "FrameBatches",
    "ML4SCIDataset",
    "ML4SCIWriter",
    "TrainResult",
    "TrainingError",
    "as_batch",
    "fit",
    "frame_batches",
    "load_checkpoint",
    "loss_for",
    "roc_auc",
    "seed_everything",
    "split_of",
    "splitmix64",
    "write_ml4sci",
]
