"""A streaming training loop: any iterable of batches in, a trained model and its history out.

Data arrive as iterables (in-memory arrays, ML4SCI files, frames built on the fly from
ROOT chunks), never as one big tensor, so the loop scales to samples larger than memory.
Each epoch ends with validation, a metrics record, a checkpoint and the early-stopping
decision; a non-finite loss stops the run before anything is saved.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..exceptions import BadInputError
from .batch import Batch, as_batch
from .checkpoint import (
    BEST_NAME,
    LAST_NAME,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from .errors import TrainingError
from .metrics import roc_auc

__all__ = ["BatchSource", "TrainResult", "fit", "loss_for"]

BatchSource = Iterable[Any] | Callable[..., Iterable[Any]]
"""An iterable of batches, re-iterated every epoch, or a callable ``f(epoch)`` / ``f()``."""

_MONITORS = {"val_loss": "min", "val_auc": "max", "train_loss": "min"}


@dataclass
class TrainResult:
    """History (one dict per epoch) and the early-stopping outcome."""

    history: list[dict[str, Any]]
    monitor: str
    best_epoch: int | None
    best_metric: float | None
    epochs_run: int
    stopped_early: bool
    checkpoint_path: Path | None = None
    best_checkpoint_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def loss_for(
    model: nn.Module, task: str | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """BCE-with-logits (1 output), cross-entropy (n classes) or MSE (regression)."""
    task = task or getattr(model, "task", "classification")
    n_out = getattr(model, "n_outputs", 1)
    if task == "regression":
        return lambda out, y: nn.functional.mse_loss(out, y.to(out.dtype).reshape(out.shape))
    if task != "classification":
        msg = f"unknown task {task!r}; expected 'classification' or 'regression'"
        raise BadInputError(msg)
    if n_out == 1:
        return lambda out, y: nn.functional.binary_cross_entropy_with_logits(
            out.reshape(-1), y.to(out.dtype).reshape(-1)
        )
    return lambda out, y: nn.functional.cross_entropy(out, y.long().reshape(-1))


def _iterate(source: BatchSource, epoch: int) -> Iterable[Any]:
    if hasattr(source, "set_epoch"):
        source.set_epoch(epoch)
    if callable(source) and not isinstance(source, Iterable):
        try:
            takes_epoch = len(inspect.signature(source).parameters) >= 1
        except (TypeError, ValueError):
            takes_epoch = False
        return source(epoch) if takes_epoch else source()
    return source


def _check_labels(b: Batch, task: str, n_out: int) -> None:
    if task != "classification":
        return
    y = b.labels
    bad = ((y != 0) & (y != 1)).any() if n_out == 1 else ((y < 0) | (y >= n_out)).any()
    if bool(bad):
        want = "0 or 1" if n_out == 1 else f"integers 0..{n_out - 1}"
        msg = f"classification labels must be {want}; got values {torch.unique(y)[:10].tolist()}"
        raise BadInputError(msg)


def _auc(outs: list[torch.Tensor], labels: list[torch.Tensor], n_out: int) -> float:
    s = torch.cat(outs).float().numpy()
    y = torch.cat(labels).numpy().reshape(-1)
    if n_out == 1:
        return roc_auc(y, s.reshape(-1))
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    aucs = [roc_auc(y == k, p[:, k]) for k in range(n_out)]  # macro one-vs-rest
    return float(np.nanmean(aucs)) if not all(math.isnan(a) for a in aucs) else float("nan")


def _finite_or_none(obj: Any) -> Any:
    """NaN/inf -> null, so the metrics file is strict JSON (NaN AUC: one class only)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    return obj


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_finite_or_none(obj), indent=1, allow_nan=False))
    os.replace(tmp, path)


class _Stepper:
    """Forward/backward with optional AMP on CUDA; raises on a non-finite loss."""

    def __init__(
        self,
        model: nn.Module,
        opt: torch.optim.Optimizer,
        dev: torch.device,
        amp: bool,
        loss: Callable[..., torch.Tensor],
        grad_clip: float | None,
    ) -> None:
        self.model, self.opt, self.dev, self.amp, self.loss, self.clip = (
            model,
            opt,
            dev,
            amp,
            loss,
            grad_clip,
        )
        bf16 = amp and torch.cuda.is_bf16_supported()
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and not bf16)

    def forward(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.dev.type, dtype=self.dtype, enabled=self.amp):
            out = self.model(b.frames, b.scalars) if b.scalars is not None else self.model(b.frames)
            return out, self.loss(out.float(), b.labels)

    def train_step(self, b: Batch, where: str) -> float:
        self.opt.zero_grad(set_to_none=True)
        _, loss = self.forward(b)
        value = float(loss.detach())
        if not math.isfinite(value):
            msg = (
                f"non-finite training loss ({value}) at {where}; stopped without saving a "
                f"checkpoint (check inputs for NaN/inf, lower the learning rate)"
            )
            raise TrainingError(msg)
        self.scaler.scale(loss).backward()
        if self.clip:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        return value


def fit(
    model: nn.Module,
    train_batches: BatchSource,
    val_batches: BatchSource | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    patience: int | None = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool | str | os.PathLike[str] = False,
    seed: int = 0,
    metrics_path: str | os.PathLike[str] | None = None,
    task: str | None = None,
    grad_clip: float | None = None,
    restore_best: bool = True,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` with AdamW; validate, checkpoint and early-stop every epoch.

    Batches are :class:`Batch` objects or ``(frames, labels[, scalars])`` tuples.
    ``monitor`` is ``val_loss`` (default with validation), ``val_auc`` (binary or macro
    multiclass) or ``train_loss``; ``patience`` epochs without an improvement larger than
    ``min_delta`` stop the run. ``amp`` defaults to on for CUDA and is refused elsewhere.
    ``resume=True`` continues from ``checkpoint_dir/last.pt`` if it exists (else starts
    fresh); a path resumes from that file. ``epochs`` counts all epochs, resumed ones too.
    """
    if epochs < 1:
        msg = f"epochs must be >= 1, got {epochs}"
        raise BadInputError(msg)
    monitor = monitor or ("val_loss" if val_batches is not None else "train_loss")
    if monitor not in _MONITORS or (monitor.startswith("val") and val_batches is None):
        msg = f"monitor {monitor!r} is not available; expected one of {list(_MONITORS)} (val_* needs val_batches)"
        raise BadInputError(msg)
    task = task or getattr(model, "task", "classification")
    if monitor == "val_auc" and task != "classification":
        msg = "monitor='val_auc' needs a classification task"
        raise BadInputError(msg)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    use_amp = dev.type == "cuda" if amp is None else amp
    if use_amp and dev.type != "cuda":
        msg = f"amp=True needs a CUDA device, got {dev}"
        raise BadInputError(msg)
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume is True and ckdir is None:
        msg = "resume=True needs checkpoint_dir (or pass the checkpoint path as resume=...)"
        raise BadInputError(msg)

    seed_everything(seed)
    model.to(dev)
    n_out = getattr(model, "n_outputs", 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    stepper = _Stepper(model, opt, dev, use_amp, loss_for(model, task), grad_clip)
    sign = 1.0 if _MONITORS[monitor] == "min" else -1.0
    state: dict[str, Any] = {"best": None, "best_epoch": None, "bad_epochs": 0, "history": []}
    best_weights: dict[str, torch.Tensor] | None = None
    start = 0

    resume_path = (
        ckdir / LAST_NAME if resume is True and ckdir else Path(resume) if resume else None
    )
    if resume_path is not None and (resume is not True or resume_path.is_file()):
        ckpt = load_checkpoint(resume_path, map_location=dev)
        try:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            msg = f"{resume_path}: checkpoint does not fit this model/optimizer ({err})"
            raise TrainingError(msg) from err
        if ckpt.get("scaler"):
            stepper.scaler.load_state_dict(ckpt["scaler"])
        state, start = ckpt["state"], int(ckpt["epoch"])
        set_rng_state(ckpt["rng"])
        best_file = resume_path.with_name(BEST_NAME)
        if best_file.is_file():
            best_weights = load_checkpoint(best_file, map_location=dev)["model"]

    stopped = bool(patience is not None and state["bad_epochs"] >= patience)
    for epoch in range(start, epochs):
        if stopped:
            break
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        bar = tqdm(
            _iterate(train_batches, epoch),
            desc=f"epoch {epoch + 1}/{epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        for step, item in enumerate(bar):
            b = as_batch(item)
            _check_labels(b, task, n_out)
            b = b.to(dev, non_blocking=True)
            value = stepper.train_step(b, f"epoch {epoch + 1} batch {step}")
            total, count = total + value * len(b), count + len(b)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{value:.4f}")
        if count == 0:
            msg = (
                f"train_batches gave no data in epoch {epoch + 1}: a one-shot generator is "
                "exhausted after one epoch; pass a list, an ArrayBatches/ML4SCIDataset, or a callable"
            )
            raise TrainingError(msg)
        record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": total / count, "n_train": count}
        record["train_seconds"] = time.perf_counter() - t0
        record["frames_per_s"] = count / max(record["train_seconds"], 1e-9)
        if val_batches is not None:
            record.update(_validate(stepper, _iterate(val_batches, epoch), task, n_out, dev))
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            msg = f"non-finite weights after epoch {epoch + 1}; stopped without saving a checkpoint"
            raise TrainingError(msg)
        record["lr"] = opt.param_groups[0]["lr"]
        value = record[monitor]
        improved = not math.isnan(value) and (
            state["best"] is None or sign * (state["best"] - value) > min_delta
        )
        if improved:
            state.update(best=value, best_epoch=epoch + 1, bad_epochs=0)
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state["bad_epochs"] += 1
        state["history"].append(record)
        if ckdir is not None:
            if improved:
                save_checkpoint(ckdir / BEST_NAME, {"model": best_weights, "epoch": epoch + 1})
            save_checkpoint(
                ckdir / LAST_NAME,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scaler": stepper.scaler.state_dict() if stepper.scaler.is_enabled() else None,
                    "epoch": epoch + 1,
                    "state": state,
                    "rng": get_rng_state(),
                    "model_name": getattr(model, "model_name", type(model).__name__),
                    "model_kwargs": getattr(model, "model_kwargs", {}),
                },
            )
        if metrics_path is not None:
            _write_json(Path(metrics_path), state["history"])
        if progress:
            tqdm.write(_summary(record))
        stopped = bool(patience is not None and state["bad_epochs"] >= patience)

    if restore_best and best_weights is not None:
        model.load_state_dict(best_weights)
    return TrainResult(
        history=list(state["history"]),
        monitor=monitor,
        best_epoch=state["best_epoch"],
        best_metric=state["best"],
        epochs_run=len(state["history"]),
        stopped_early=stopped and len(state["history"]) < epochs,
        checkpoint_path=ckdir / LAST_NAME if ckdir else None,
        best_checkpoint_path=ckdir / BEST_NAME if ckdir and state["best_epoch"] else None,
    )


def _validate(
    stepper: _Stepper, batches: Iterable[Any], task: str, n_out: int, dev: torch.device
) -> dict[str, Any]:
    stepper.model.eval()
    total, count = 0.0, 0
    outs: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    with torch.no_grad():
        for item in batches:
            b = as_batch(item)
            out, loss = stepper.forward(b.to(dev, non_blocking=True))
            total, count = total + float(loss) * len(b), count + len(b)
            if task == "classification":
                outs.append(out.detach().float().cpu())
                labels.append(b.labels.cpu())
    if count == 0:
        msg = "val_batches gave no data; pass a re-iterable (list, dataset) or a callable"
        raise TrainingError(msg)
    rec: dict[str, Any] = {"val_loss": total / count, "n_val": count}
    if not math.isfinite(rec["val_loss"]):
        msg = f"non-finite validation loss ({rec['val_loss']}); stopped without saving a checkpoint"
        raise TrainingError(msg)
    if task == "classification":
        rec["val_auc"] = _auc(outs, labels, n_out)
    return rec


def _summary(rec: dict[str, Any]) -> str:
    keys = ("train_loss", "val_loss", "val_auc")
    parts = [f"{k}={rec[k]:.4f}" for k in keys if k in rec]
    return f"epoch {rec['epoch']}: " + " ".join(parts) + f" ({rec['frames_per_s']:.0f} frames/s)"
