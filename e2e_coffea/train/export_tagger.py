"""A trained task model -> ONNX with the contract inference reads back.

Image models: the task's channels, frame size, crop and normalisation (the preset the
frames were built with, or what ``--frames-norm`` declares frames files to hold). Point
models: ``input_kind="points"``, the point features as channels, ``frame_size=(max_points,
n_features)``, the :class:`PointCloudSpec` and no normalisation.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from ..export import E2E_JET_CROP, EG_CROP, Contract
from ..export.onnx_export import export_onnx
from ..frames.normalisation import load_norm
from ..io.jsonfiles import json_safe
from .distributed import rank_info
from .index import SampleIndex
from .loop import TrainResult
from .pairing import Pairing
from .tasks import Task
from .weights import Reweighting

if TYPE_CHECKING:
    from .task_training import TrainConfig

__all__ = ["export_tagger", "provenance"]


def export_tagger(
    model: nn.Module, cfg: TrainConfig, task: Task, pair: Pairing, index: SampleIndex,
    weights: Reweighting, result: TrainResult, tests: dict[str, float], described: dict[str, Any],
) -> Path:  # fmt: skip
    """Write ``OUT/NAME.onnx`` and return its path."""
    points = pair.inputs.points
    if points is not None:
        norm = None
        frame_size = (points.max_points, points.n_features)
    else:
        frame_size = (pair.input_shape[1], pair.input_shape[2])
        norm = load_norm(cfg.frames_norm) if cfg.frames else pair.inputs.norm
    train_pt = np.concatenate([index.pt[0], index.pt[1]])
    validity = None
    if not cfg.frames and np.isfinite(train_pt).any():
        from ..frames.selection import ObjectCuts

        cuts = ObjectCuts()
        validity = {"pt_min": cuts.pt_min, "pt_max": float(np.nanmax(train_pt)),
                    "abs_eta_max": cuts.abs_eta_max}  # fmt: skip
    contract = Contract(
        task="classification",
        model_name=cfg.model,
        channels=pair.channels,
        frame_size=frame_size,
        class_names=task.classes,
        channel_preset=task.preset if points is None else None,
        crop=EG_CROP if task.kind == "eg" else E2E_JET_CROP,
        normalisation=None if norm is None else norm.to_dict(),
        model_kwargs=getattr(model, "model_kwargs", {}) or {},
        input_kind=pair.inputs.input_kind,
        points=None if points is None else points.to_dict(),
        provenance=json_safe(provenance(cfg, task, index, weights, result, described)),
        metrics=json_safe(
            {
                "val_auc": result.best_metric,
                **tests,
                "weighted": weights.mode != "none",
                "history": [
                    {
                        k: h.get(k)
                        for k in ("epoch", "train_loss", "val_loss", "val_auc", "frames_per_s")
                    }
                    for h in result.history
                ],
            }
        ),
        validity=validity,
    )
    path = Path(cfg.out) / f"{cfg.tag}.onnx"
    export_onnx(model, path, contract, (2, *pair.input_shape))
    return path


def provenance(
    cfg: TrainConfig, task: Task, index: SampleIndex, weights: Reweighting, result: TrainResult,
    described: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Where the model came from: samples, counts per split and class, weights, settings."""
    train_pt = np.concatenate([index.pt[0], index.pt[1]])
    return {
        "tagger_task": task.name,
        "signal_process": task.signal_process,
        "background_process": task.background_process,
        **described,
        "objects": index.counts(),
        "reweighting": weights.to_dict(),
        "train_pt_range": [float(np.nanmin(train_pt)), float(np.nanmax(train_pt))]
        if np.isfinite(train_pt).any()
        else None,
        "training": {
            **{
                k: v
                for k, v in asdict(cfg).items()
                if k not in ("out", "fileset", "frames", "progress")
            },
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "precision_used": result.extra.get("precision"),
            "world_size": rank_info().world,
        },
    }
