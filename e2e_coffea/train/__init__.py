"""Training: batches, deterministic splits, streams from ROOT and frames files, per-object
weights, the fit loop (mixed precision, data-parallel), checkpoints, and task training."""

from __future__ import annotations

from ..exceptions import TrainingError
from ..io.jsonfiles import json_safe, write_json
from .batch import ArrayBatches, Batch, as_batch
from .checkpoint import load_checkpoint, seed_everything
from .distributed import Rank, init_from_env, rank_info, spawn
from .evaluate import Outputs, auc_of, predict
from .frame_files import ML4SCISource, NpzFramesSource, frames_source
from .index import SampleIndex, UnitPlan, build_index
from .loop import TrainResult, fit, loss_for
from .metrics import roc_auc
from .ml4sci import ML4SCIDataset, ML4SCIWriter, write_ml4sci
from .pairing import Pairing, pair_model_and_task
from .precision import PRECISIONS, Precision, resolve_precision
from .sources import InputSpec, ObjectChunk, ObjectSource, RootTaskSource
from .split import SPLIT_NAMES, split_of, splitmix64
from .stream import FrameBatches, frame_batches
from .streaming import EpochLoader, ObjectStream, ShuffleBuffer
from .task_training import TrainConfig, run_training, train_task
from .weights import REWEIGHT_MODES, Reweighting, fit_reweighting

__all__ = [
    "PRECISIONS",
    "REWEIGHT_MODES",
    "SPLIT_NAMES",
    "ArrayBatches",
    "Batch",
    "EpochLoader",
    "FrameBatches",
    "InputSpec",
    "ML4SCIDataset",
    "ML4SCISource",
    "ML4SCIWriter",
    "NpzFramesSource",
    "ObjectChunk",
    "ObjectSource",
    "ObjectStream",
    "Outputs",
    "Pairing",
    "Precision",
    "Rank",
    "Reweighting",
    "RootTaskSource",
    "SampleIndex",
    "ShuffleBuffer",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "UnitPlan",
    "as_batch",
    "auc_of",
    "build_index",
    "fit",
    "fit_reweighting",
    "frame_batches",
    "frames_source",
    "init_from_env",
    "json_safe",
    "load_checkpoint",
    "loss_for",
    "pair_model_and_task",
    "predict",
    "rank_info",
    "resolve_precision",
    "roc_auc",
    "run_training",
    "seed_everything",
    "spawn",
    "split_of",
    "splitmix64",
    "train_task",
    "write_json",
    "write_ml4sci",
]
