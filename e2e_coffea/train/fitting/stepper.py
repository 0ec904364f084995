"""One optimisation step: forward under the chosen precision, weighted loss, backward.

The loss of a batch is the mean over its objects of ``weight * loss``; dividing by the
batch size (not by the sum of weights) keeps it additive, so that data-parallel
processes, which average their gradients, optimise exactly the loss of the global batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ...exceptions import BadInputError, TrainingError
from ..data.batch import Batch
from .precision import Precision

__all__ = ["LossFn", "Stepper", "loss_for"]

LossFn = Callable[..., torch.Tensor]
"""``loss(outputs, labels, weights=None) -> scalar``."""


def _reduce(per_object: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return per_object.mean()
    return (per_object * weights.to(per_object.dtype).reshape(per_object.shape)).mean()


def loss_for(model: nn.Module, task: str | None = None) -> LossFn:
    """BCE-with-logits (1 output), cross-entropy (n classes) or MSE (regression),
    each optionally weighted per object."""
    task = task or getattr(model, "task", "classification")
    n_out = getattr(model, "n_outputs", 1)
    fn = nn.functional
    if task == "regression":

        def mse(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            per = fn.mse_loss(out, y.to(out.dtype).reshape(out.shape), reduction="none")
            return _reduce(per.reshape(len(per), -1).mean(1), w)

        return mse
    if task != "classification":
        msg = f"unknown task {task!r}; expected 'classification' or 'regression'"
        raise BadInputError(msg)
    if n_out == 1:

        def bce(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            per = fn.binary_cross_entropy_with_logits(
                out.reshape(-1), y.to(out.dtype).reshape(-1), reduction="none"
            )
            return _reduce(per, w)

        return bce

    def ce(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        return _reduce(fn.cross_entropy(out, y.long().reshape(-1), reduction="none"), w)

    return ce


class Stepper:
    """Forward/backward/step of ``model`` (the DDP wrapper when data-parallel; ``module``
    is the bare model, used for evaluation); raises on a non-finite loss."""

    def __init__(
        self,
        model: nn.Module,
        module: nn.Module,
        opt: torch.optim.Optimizer,
        precision: Precision,
        loss: LossFn,
        grad_clip: float | None,
    ) -> None:
        self.model, self.module, self.opt, self.precision = model, module, opt, precision
        self.loss, self.clip = loss, grad_clip
        self.scaler = torch.amp.GradScaler("cuda", enabled=precision.scaler)

    def forward(self, b: Batch, *, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.model if train else self.module
        p = self.precision
        with torch.autocast(p.device_type, dtype=p.dtype, enabled=p.autocast):
            out = net(b.frames, b.scalars) if b.scalars is not None else net(b.frames)
        out = out.float()
        return out, self.loss(out, b.labels, b.weights)

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
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        if self.clip:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.module.parameters(), self.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        return value
