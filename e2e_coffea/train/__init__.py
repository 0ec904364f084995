"""Training, in three parts: :mod:`~e2e_coffea.train.data` (sources, the index, the stream
of batches, splits, weights), :mod:`~e2e_coffea.train.fitting` (the fit loop, precision,
checkpoints, data-parallel, evaluation) and :mod:`~e2e_coffea.train.tasks` (task
definitions, model/task pairing, task training and the trained model's export).

Only what the README, the notebooks, the benchmarks and the tests use is re-exported here;
everything else is imported from its module.
"""

from __future__ import annotations

from .data.arrays import ArraySource
from .data.batch import Batch
from .data.index import build_index
from .data.sources import ObjectChunk, RootTaskSource
from .data.split import split_of, splitmix64
from .data.streaming import ObjectStream, ShuffleBuffer
from .data.weights import fit_reweighting
from .fitting.checkpoint import load_checkpoint
from .fitting.distributed import rank_info, spawn
from .fitting.evaluate import auc_of, predict
from .fitting.loop import fit, loss_for
from .fitting.metrics import roc_auc
from .fitting.precision import resolve_precision
from .fitting.stopping import TrainResult
from .tasks.training import TrainConfig, train_task

__all__ = [
    "ArraySource",
    "Batch",
    "ObjectChunk",
    "ObjectStream",
    "RootTaskSource",
    "ShuffleBuffer",
    "TrainConfig",
    "TrainResult",
    "auc_of",
    "build_index",
    "fit",
    "fit_reweighting",
    "load_checkpoint",
    "loss_for",
    "predict",
    "rank_info",
    "resolve_precision",
    "roc_auc",
    "spawn",
    "split_of",
    "splitmix64",
    "train_task",
]
