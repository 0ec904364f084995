"""One unit of training data: what :class:`~e2e_coffea.train.data.streaming.ObjectStream`
yields and :func:`e2e_coffea.train.fit` consumes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...exceptions import BadInputError

__all__ = ["Batch", "expect_batch"]


@dataclass(frozen=True)
class Batch:
    """Frames (B, C, H, W) or points (B, N, F), labels (B,) or (B, k), optional scalars
    (B, s) and optional per-object loss weights (B,)."""

    frames: torch.Tensor
    labels: torch.Tensor
    scalars: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n = self.frames.shape[0]
        if self.labels.shape[0] != n:
            msg = f"batch has {n} frames but {self.labels.shape[0]} labels"
            raise BadInputError(msg)
        if self.scalars is not None and (self.scalars.dim() != 2 or self.scalars.shape[0] != n):
            msg = f"scalars must have shape ({n}, n_scalars), got {tuple(self.scalars.shape)}"
            raise BadInputError(msg)
        if self.weights is not None and tuple(self.weights.shape) != (n,):
            msg = f"weights must have shape ({n},), got {tuple(self.weights.shape)}"
            raise BadInputError(msg)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(mv(self.frames), mv(self.labels), mv(self.scalars), mv(self.weights))  # type: ignore[arg-type]

    def pin_memory(self) -> Batch:
        """Page-locked copies, for fast host-to-GPU transfer (the DataLoader calls this)."""

        def pin(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.pin_memory()

        return Batch(pin(self.frames), pin(self.labels), pin(self.scalars), pin(self.weights))  # type: ignore[arg-type]


def expect_batch(item: object) -> Batch:
    """``item`` if it is a :class:`Batch`; anything else is refused in one line."""
    if isinstance(item, Batch):
        return item
    msg = f"a batch must be a Batch (an ObjectStream yields them), got {type(item).__name__}"
    raise BadInputError(msg)
