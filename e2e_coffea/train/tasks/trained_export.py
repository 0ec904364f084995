"""A trained task model -> ONNX with the contract inference reads back, and the same
weights as a torch state dict beside it (``NAME.pt``, for fine-tuning).

Image models: the task's channels, frame size, crop and normalisation (the preset the
frames were built with, or what ``--norm`` declares frames files to hold). Point
models: ``input_kind="points"``, the point features as channels, ``frame_size=(max_points,
n_features)``, the :class:`~e2e_coffea.frames.PointCloudSpec` and no normalisation. Every model: the task's
kind (classification or regression, with its ``target``), its kinematic range as
``validity``, its scalar inputs and their standardisation.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from ...export import E2E_JET_CROP, EG_CROP, Contract
from ...export.contract import input_fields
from ...export.onnx_export import export_onnx
from ...frames.normalisation import load_norm
from ...io.jsonfiles import json_safe
from ...models import save_pretrained
from ..data.index import SampleIndex
from ..data.weights import Reweighting
from ..fitting.distributed import rank_info
from ..fitting.stopping import TrainResult
from .definitions import Task
from .pairing import Pairing

if TYPE_CHECKING:
    from .training import TrainConfig

__all__ = ["export_trained", "provenance"]

_HISTORY_KEYS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_auc",
    "frames_per_s",
    "train_seconds",
    "lr",
)


def export_trained(
    model: nn.Module, cfg: TrainConfig, task: Task, pair: Pairing, index: SampleIndex,
    weights: Reweighting, result: TrainResult, tests: dict[str, Any], described: dict[str, Any],
    *, scalar_norm: dict[str, list[float]] | None = None, timing: dict[str, float] | None = None,
    conditions: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Write ``OUT/NAME.onnx`` and ``OUT/NAME.pt``; return the ONNX file's path. (The export
    of any module with a hand-written contract is :func:`e2e_coffea.export.export_tagger`.)"""
    images = pair.inputs.input_kind == "image"
    norm = (load_norm(cfg.norm) if cfg.frames else pair.inputs.norm) if images else None
    # the contract's input fields are the inputs training fed, as inference rebuilds them
    inputs = replace(pair.inputs, norm=norm, scalar_norm=scalar_norm)
    best = {result.monitor: result.best_metric}
    if task.target is None:
        best["val_auc"] = result.best_metric
    contract = Contract(
        **input_fields(inputs),
        task=task.task_type,
        model_name=cfg.model,
        class_names=task.classes,
        channel_preset=task.preset if images else None,
        crop=EG_CROP if task.kind == "eg" else E2E_JET_CROP,
        truth_labels=task.labels,
        model_kwargs=getattr(model, "model_kwargs", {}) or {},
        provenance=json_safe(provenance(cfg, task, index, weights, result, described, timing)),
        metrics=json_safe(
            {
                **best,
                **tests,
                "weighted": weights.mode != "none",
                "history": [{k: h.get(k) for k in _HISTORY_KEYS} for h in result.history],
            }
        ),
        target=None if task.target is None else task.target.to_dict(),
        validity=task.range.to_dict(),
        conditions=json_safe(conditions) if conditions else None,
    )
    path = Path(cfg.out) / f"{cfg.tag}.onnx"
    export_onnx(model, path, contract, (2, *pair.input_shape))
    save_pretrained(model, path.with_suffix(".pt"), tagger=cfg.tag)
    return path


def provenance(
    cfg: TrainConfig, task: Task, index: SampleIndex, weights: Reweighting, result: TrainResult,
    described: dict[str, Any], timing: dict[str, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Where the model came from: samples, counts per split and class, weights, and the
    training budget actually spent (objects per class, epochs run, precision, wall time)."""
    train_pt = np.concatenate([index.pt[c] for c in range(index.n_classes)])
    counts = index.counts()
    seconds = [float(h.get("train_seconds") or 0.0) for h in result.history]
    seen = [int(h.get("n_train") or 0) for h in result.history]
    return {
        "tagger_task": task.name,
        "samples": [
            {"class": s.name, "process": s.process, "label": s.label} for s in task.samples
        ],
        **described,
        "objects": counts,
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
            "stopped_early": result.stopped_early,
            "monitor": result.monitor,
            "precision_used": result.extra.get("precision"),
            "world_size": rank_info().world,
            "train_objects_per_class": counts["train"],
            "objects_seen": int(sum(seen)),
            "train_seconds": sum(seconds),
            "frames_per_s": sum(seen) / sum(seconds) if sum(seconds) > 0 else None,
            **(timing or {}),
        },
    }
