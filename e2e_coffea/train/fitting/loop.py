"""A streaming training loop: a stream of batches in, a trained model and its history out.

Data arrive as an :class:`~e2e_coffea.train.data.streaming.ObjectStream` (of ROOT files,
frames files or arrays in memory), never as one big tensor, so the loop scales to
samples larger than memory. Each epoch ends with validation, a metrics record, a checkpoint and the
early-stopping decision (:mod:`~e2e_coffea.train.fitting.stopping`); a non-finite loss stops the run before anything is saved.

The caller's global random state is left as it was: ``fit`` seeds its own run from
``seed`` and puts the previous torch/numpy/Python states back when it returns. When a
process group is up (see :mod:`e2e_coffea.train.fitting.distributed`) the model is trained
data-parallel; rank 0 validates, checkpoints and decides when to stop, for everyone.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ...exceptions import BadInputError, TrainingError
from ...io.jsonfiles import write_json
from ..data.batch import Batch, expect_batch
from .checkpoint import (
    BEST_NAME,
    LAST_NAME,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from .distributed import broadcast_object, rank_info
from .evaluate import auc_of, predict
from .precision import resolve_precision
from .stepper import Stepper, loss_for
from .stopping import MONITORS, EarlyStopping, TrainResult, epoch_summary

__all__ = ["LR_SCHEDULES", "BatchSource", "epoch_lr_factor", "fit", "loss_for"]

BatchSource = Iterable[Batch]
"""Batches, iterated once per epoch after ``set_epoch(epoch)`` where the source has it:
an :class:`~e2e_coffea.train.data.streaming.ObjectStream` (or a list of its batches)."""

LR_SCHEDULES = ("constant", "cosine")


def _iterate(source: BatchSource, epoch: int) -> BatchSource:
    set_epoch = getattr(source, "set_epoch", None)
    if set_epoch is not None:
        set_epoch(epoch)
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


@contextmanager
def _own_rng(seed: int) -> Iterator[None]:
    """Seed torch/numpy/Python for the run, and give the caller its states back after."""
    saved = get_rng_state()
    seed_everything(seed)
    try:
        yield
    finally:
        set_rng_state(saved)


def _check_args(
    epochs: int, monitor: str | None, val: BatchSource | None, task: str, resume: Any, ck: Any
) -> str:
    if epochs < 1:
        msg = f"epochs must be >= 1, got {epochs}"
        raise BadInputError(msg)
    monitor = monitor or ("val_loss" if val is not None else "train_loss")
    if monitor not in MONITORS or (monitor.startswith("val") and val is None):
        msg = f"monitor {monitor!r} is not available; expected one of {list(MONITORS)} (val_* needs val_batches)"
        raise BadInputError(msg)
    if monitor == "val_auc" and task != "classification":
        msg = "monitor='val_auc' needs a classification task"
        raise BadInputError(msg)
    if resume is True and ck is None:
        msg = "resume=True needs checkpoint_dir (or pass the checkpoint path as resume=...)"
        raise BadInputError(msg)
    return monitor


def fit(
    model: nn.Module,
    train_batches: BatchSource,
    val_batches: BatchSource | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
    precision: str | None = None,
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
    lr_schedule: str = "constant",
) -> TrainResult:
    """Train ``model`` with AdamW; validate, checkpoint and early-stop every epoch.

    Batches are :class:`Batch` objects (with optional per-object ``weights``: weighted
    loss and weighted validation AUC), as an
    :class:`~e2e_coffea.train.data.streaming.ObjectStream` yields them.
    ``monitor`` is ``val_loss`` (default with validation), ``val_auc`` (binary or macro
    multiclass) or ``train_loss``; ``patience`` epochs without an improvement larger than
    ``min_delta`` stop the run. ``precision`` is ``auto`` (AMP on CUDA: bf16, else fp16
    with loss scaling; fp32 on the CPU), ``fp32``, ``bf16`` (also on the CPU) or ``fp16``
    (CUDA). ``resume=True`` continues from
    ``checkpoint_dir/last.pt`` if it exists (else starts fresh); a path resumes from that
    file. ``epochs`` counts all epochs, resumed ones too. ``lr_schedule``: ``constant``,
    or ``cosine``: epoch e (0-based) of E trains at ``lr * (1 + cos(pi e / E)) / 2``
    [Loshchilov & Hutter, SGDR, arXiv:1608.03983, without restarts], a function of the
    epoch alone, so a resumed run follows the same schedule.
    """
    if lr_schedule not in LR_SCHEDULES:
        msg = f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {lr_schedule!r}"
        raise BadInputError(msg)
    task = str(task or getattr(model, "task", "classification"))
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    monitor = _check_args(epochs, monitor, val_batches, task, resume, ckdir)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    prec = resolve_precision(dev, precision)
    with _own_rng(seed):
        return _Run(model, dev, prec, task, lr, weight_decay, grad_clip, seed).fit(
            train_batches, val_batches, epochs=epochs, patience=patience, monitor=monitor,
            min_delta=min_delta, ckdir=ckdir, resume=resume, metrics_path=metrics_path,
            restore_best=restore_best, progress=progress, lr_schedule=lr_schedule,
        )  # fmt: skip


class _Run:
    """The state of one ``fit`` call: model (bare and data-parallel), optimizer, stepper."""

    def __init__(
        self,
        model: nn.Module,
        dev: torch.device,
        prec: Any,
        task: str,
        lr: float,
        weight_decay: float,
        grad_clip: float | None,
        seed: int,
    ) -> None:
        self.rank = rank_info()
        self.model, self.dev, self.prec, self.task, self.seed = model, dev, prec, task, seed
        model.to(dev)
        net: nn.Module = model
        if self.rank.world > 1:
            index: int | None = dev.index  # None for a bare "cuda"
            ids = [self.rank.local if index is None else index] if dev.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.net = net
        self.n_out = getattr(model, "n_outputs", 1)
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.stepper = Stepper(net, model, self.opt, prec, loss_for(model, task), grad_clip)

    def _resume(self, path: Path) -> tuple[dict[str, Any], int, dict[str, torch.Tensor] | None]:
        ckpt = load_checkpoint(path, map_location=self.dev)
        try:
            self.model.load_state_dict(ckpt["model"])
            self.opt.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            msg = f"{path}: checkpoint does not fit this model/optimizer ({err})"
            raise TrainingError(msg) from err
        if ckpt.get("scaler"):
            self.stepper.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        best_file = path.with_name(BEST_NAME)
        best = (
            load_checkpoint(best_file, map_location=self.dev)["model"]
            if best_file.is_file()
            else None
        )
        return ckpt["state"], int(ckpt["epoch"]), best

    def _train_epoch(
        self, batches: BatchSource, epoch: int, epochs: int, progress: bool
    ) -> tuple[float, int]:
        self.net.train()
        if self.rank.rank > 0:  # rank 0 carries the checkpointed stream; the others reseed
            torch.manual_seed(self.seed * 1_000_003 + epoch * 1_009 + self.rank.rank)
        total, count = 0.0, 0
        join: Any = nullcontext()
        if self.rank.world > 1:  # ranks may get unequal numbers of batches
            from torch.distributed.algorithms.join import Join

            join = Join([self.net])  # type: ignore[list-item]
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not progress or not self.rank.main, leave=False)  # fmt: skip
        with join:
            for step, item in enumerate(bar):
                b = expect_batch(item)
                _check_labels(b, self.task, self.n_out)
                b = b.to(self.dev, non_blocking=True)
                value = self.stepper.train_step(b, f"epoch {epoch + 1} batch {step}")
                total, count = total + value * len(b), count + len(b)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{value:.4f}")
        return total, count

    def _validate(self, batches: BatchSource) -> dict[str, Any]:
        o = predict(self.model, batches, self.dev, self.prec, self.stepper.loss)
        if len(o) == 0:
            msg = "val_batches gave no data; pass an ObjectStream (re-iterable), not a one-shot generator"
            raise TrainingError(msg)
        rec: dict[str, Any] = {"val_loss": o.loss, "n_val": len(o)}
        if not math.isfinite(rec["val_loss"]):
            msg = f"non-finite validation loss ({rec['val_loss']}); stopped without saving a checkpoint"
            raise TrainingError(msg)
        if self.task == "classification":
            rec["val_auc"] = auc_of(o)
            if o.weights is not None:
                rec["val_auc_unweighted"] = auc_of(o, weighted=False)
        return rec

    def fit(
        self,
        train_batches: BatchSource,
        val_batches: BatchSource | None,
        *,
        epochs: int,
        patience: int | None,
        monitor: str,
        min_delta: float,
        ckdir: Path | None,
        resume: bool | str | os.PathLike[str],
        metrics_path: str | os.PathLike[str] | None,
        restore_best: bool,
        progress: bool,
        lr_schedule: str = "constant",
    ) -> TrainResult:
        main = self.rank.main
        base_lr = [g["initial_lr"] if "initial_lr" in g else g["lr"] for g in self.opt.param_groups]
        stopping = EarlyStopping(monitor, patience, min_delta)
        best_weights: dict[str, torch.Tensor] | None = None
        start = 0
        resume_path: Path | None = None
        if resume is True:
            resume_path = ckdir / LAST_NAME if ckdir else None
        elif resume:
            resume_path = Path(resume)
        if resume_path is not None and (resume is not True or resume_path.is_file()):
            state, start, best_weights = self._resume(resume_path)
            stopping = EarlyStopping(monitor, patience, min_delta, state)

        for epoch in range(start, epochs):
            if stopping.stopped:
                break
            factor = epoch_lr_factor(lr_schedule, epoch, epochs)
            for g, lr0 in zip(self.opt.param_groups, base_lr, strict=True):
                g["initial_lr"], g["lr"] = lr0, lr0 * factor
            t0 = time.perf_counter()
            total, count = self._train_epoch(
                _iterate(train_batches, epoch), epoch, epochs, progress
            )
            if count == 0:
                msg = (
                    f"train_batches gave no data in epoch {epoch + 1}: a one-shot generator is "
                    "exhausted after one epoch; pass an ObjectStream or a list of its batches"
                )
                raise TrainingError(msg)
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": total / count,
                "n_train": count,
            }
            record["train_seconds"] = time.perf_counter() - t0
            record["frames_per_s"] = count / max(record["train_seconds"], 1e-9)
            if self.rank.world > 1:
                record["world_size"] = self.rank.world
            if val_batches is not None and main:
                record.update(self._validate(_iterate(val_batches, epoch)))
            if not all(torch.isfinite(p).all() for p in self.model.parameters()):
                msg = f"non-finite weights after epoch {epoch + 1}; stopped without saving a checkpoint"
                raise TrainingError(msg)
            record["lr"] = self.opt.param_groups[0]["lr"]
            record = broadcast_object(record)  # rank 0's validation decides for everyone
            improved = stopping.update(record)
            if improved:
                best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if ckdir is not None and main:
                self._save(ckdir, epoch, stopping.state, best_weights if improved else None)
            if metrics_path is not None and main:
                write_json(Path(metrics_path), stopping.state["history"])
            if progress and main:
                tqdm.write(epoch_summary(record, epochs))

        reason = stopping.stop_reason(epochs, restore_best and best_weights is not None)
        if reason is not None and progress and main:
            tqdm.write(reason)
        if restore_best and best_weights is not None:
            self.model.load_state_dict(best_weights)
        best_epoch = stopping.state["best_epoch"]
        return TrainResult(
            history=stopping.history,
            monitor=monitor,
            best_epoch=best_epoch,
            best_metric=stopping.state["best"],
            epochs_run=len(stopping.state["history"]),
            stopped_early=reason is not None,
            checkpoint_path=ckdir / LAST_NAME if ckdir else None,
            best_checkpoint_path=ckdir / BEST_NAME if ckdir and best_epoch else None,
            extra={"precision": self.prec.name},
            stop_reason=reason,
        )

    def _save(
        self, ckdir: Path, epoch: int, state: dict[str, Any], best: dict[str, torch.Tensor] | None
    ) -> None:
        if best is not None:
            save_checkpoint(ckdir / BEST_NAME, {"model": best, "epoch": epoch + 1})
        scaler = self.stepper.scaler
        save_checkpoint(
            ckdir / LAST_NAME,
            {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                "epoch": epoch + 1,
                "state": state,
                "rng": get_rng_state(),
                "model_name": getattr(self.model, "model_name", type(self.model).__name__),
                "model_kwargs": getattr(self.model, "model_kwargs", {}),
            },
        )


def epoch_lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The learning rate of 0-based ``epoch`` of ``epochs``, relative to the initial one."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return 1.0
