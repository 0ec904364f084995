"""What a fit remembers between epochs: the history of epoch records, the monitored
metric's best value and epoch, the early-stopping count, and the run's result.

It is its own module because it is the part of the loop that decides (when to stop,
which weights are best) without touching the model, the optimizer or the data; its
state is the ``state`` a checkpoint carries, so a resumed run decides as the
uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MONITORS", "EarlyStopping", "TrainResult", "epoch_summary"]

MONITORS = {"val_loss": "min", "val_auc": "max", "train_loss": "min"}
"""The metrics ``fit`` can monitor, and which way is better."""


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
    stop_reason: str | None = None
    """Why training stopped before ``epochs`` (None when it ran them all)."""


class EarlyStopping:
    """``patience`` epochs without an improvement of ``monitor`` larger than
    ``min_delta`` stop the run (never, with ``patience`` None). ``state`` is the
    checkpointed form: ``{"best", "best_epoch", "bad_epochs", "history"}``."""

    def __init__(
        self,
        monitor: str,
        patience: int | None,
        min_delta: float,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.sign = 1.0 if MONITORS[monitor] == "min" else -1.0
        self.state: dict[str, Any] = state or {
            "best": None, "best_epoch": None, "bad_epochs": 0, "history": [],
        }  # fmt: skip

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.state["history"])

    @property
    def stopped(self) -> bool:
        return bool(self.patience is not None and self.state["bad_epochs"] >= self.patience)

    def update(self, record: dict[str, Any]) -> bool:
        """Add epoch ``record``; True when it is the best so far."""
        value = record[self.monitor]
        best = self.state["best"]
        improved = not math.isnan(value) and (
            best is None or self.sign * (best - value) > self.min_delta
        )
        if improved:
            self.state.update(best=value, best_epoch=record["epoch"], bad_epochs=0)
        else:
            self.state["bad_epochs"] += 1
        self.state["history"].append(record)
        return improved

    def stop_reason(self, epochs: int, best_kept: bool) -> str | None:
        """Why the run ended before ``epochs``; None when it ran them all."""
        n = len(self.state["history"])
        if not self.stopped or n >= epochs:
            return None
        best = self.state["best"]
        return (
            f"early stop at epoch {n}/{epochs}: {self.monitor} did not improve "
            f"(by more than {self.min_delta:g}) for {self.patience} epoch(s); best "
            f"{'n/a' if best is None else f'{best:.4f}'} at epoch {self.state['best_epoch']}"
            + (", whose weights are kept" if best_kept else "")
        )


def epoch_summary(rec: dict[str, Any], epochs: int) -> str:
    """``epoch 3/20: train_loss=0.4123 val_loss=0.4410 val_auc=0.8123 (1500 frames/s)``."""
    keys = ("train_loss", "val_loss", "val_auc")
    parts = [f"{k}={rec[k]:.4f}" for k in keys if k in rec and rec[k] is not None]
    return (
        f"epoch {rec['epoch']}/{epochs}: " + " ".join(parts)
        + f" ({rec['frames_per_s']:.0f} frames/s)"
    )  # fmt: skip
