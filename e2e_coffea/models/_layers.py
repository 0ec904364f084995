"""Pieces every model shares: the task heads, input checks, and the common base class.

All models end in the same :class:`Head`: pooled features, optionally concatenated with
per-jet scalars (seed ieta/iphi, jet pT) as E2E does [Andrews et al., arXiv:1902.08276],
then a linear layer (or a small MLP). The head emits raw outputs: one logit for binary
classification, ``n`` logits for ``n`` classes, or ``n`` regressed values; losses and
sigmoid/softmax live outside the model so the exported ONNX graph stays minimal.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard

import torch
from torch import nn

from ..exceptions import BadInputError, ChannelError

__all__ = ["HEAD_TASKS", "E2EModel", "Head", "HeadTask", "check_task", "tracing"]

#: What a model's head emits. Not :class:`e2e_coffea.train.tasks.definitions.Task`, the physics task
#: (samples, classes, kinematic range) that a model is trained for.
HeadTask = Literal["classification", "regression"]
HEAD_TASKS: Final[tuple[HeadTask, ...]] = ("classification", "regression")


def _is_task(task: str) -> TypeGuard[HeadTask]:
    return task in HEAD_TASKS


def check_task(task: str) -> HeadTask:
    """Return ``task`` if it is one of :data:`HEAD_TASKS`, else raise BadInputError."""
    if not _is_task(task):
        msg = f"unknown task {task!r}; expected one of {list(HEAD_TASKS)}"
        raise BadInputError(msg)
    return task


def tracing() -> bool:
    """True while torch.jit traces (ONNX export): shapes are then tensors, skip Python checks."""
    return bool(torch.jit.is_tracing())  # type: ignore[attr-defined,no-untyped-call]


def _check_count(label: str, value: object, minimum: int) -> int:
    """``value`` as given by a user (a CLI or JSON option): an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{label} must be an integer >= {minimum}, got {value!r}"
        raise BadInputError(msg)
    return value


class Head(nn.Module):
    """Pooled features (+ scalars) -> outputs; ``hidden > 0`` adds one ReLU layer."""

    def __init__(
        self,
        in_features: int,
        n_outputs: int,
        n_scalars: int = 0,
        hidden: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_scalars = _check_count("n_scalars", n_scalars, 0)
        _check_count("hidden", hidden, 0)
        width = in_features + n_scalars
        layers: list[nn.Module] = []
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        if hidden > 0:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)

    def forward(self, feats: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_scalars:
            if scalars is None:
                msg = f"this model needs {self.n_scalars} scalar input(s) per jet, got none"
                raise BadInputError(msg)
            if not tracing() and (scalars.dim() != 2 or scalars.shape[1] != self.n_scalars):
                msg = (
                    f"scalars must have shape (batch, {self.n_scalars}), got {tuple(scalars.shape)}"
                )
                raise BadInputError(msg)
            feats = torch.cat([feats, scalars.to(feats.dtype)], dim=1)
        elif scalars is not None:
            msg = "this model was built with n_scalars=0 but scalars were passed"
            raise BadInputError(msg)
        out: torch.Tensor = self.mlp(feats)
        return out


class E2EModel(nn.Module):
    """Base of every registered model: records the sizes and checks the input tensor.

    ``expected_ndim`` is 4 for frames (B, C, H, W) and 3 for point clouds (B, N, F); the
    channel axis is 1 for frames and 2 for points.
    """

    expected_ndim: int = 4
    channel_axis: int = 1

    def __init__(self, in_channels: int, n_outputs: int, n_scalars: int, task: str) -> None:
        super().__init__()
        self.in_channels = _check_count("in_channels", in_channels, 1)
        self.n_outputs = _check_count("n_outputs", n_outputs, 1)
        self.n_scalars = _check_count("n_scalars", n_scalars, 0)
        self.task: HeadTask = check_task(task)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error for a wrong rank or channel count (not while tracing)."""
        if tracing():  # export_onnx checks the example shape against the model instead
            return
        if x.dim() != self.expected_ndim:
            want = "(batch, C, H, W)" if self.expected_ndim == 4 else "(batch, N, features)"
            msg = f"{type(self).__name__} expects a {self.expected_ndim}-d input {want}, got shape {tuple(x.shape)}"
            raise BadInputError(msg)
        if x.shape[self.channel_axis] != self.in_channels:
            msg = (
                f"{type(self).__name__} was built for {self.in_channels} channel(s), "
                f"the input has {x.shape[self.channel_axis]} (shape {tuple(x.shape)})"
            )
            raise ChannelError(msg)
