"""One unit of training data, and a re-iterable batcher for arrays held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ...exceptions import BadInputError

__all__ = ["ArrayBatches", "Batch", "as_batch"]


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


def _tensor(a: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.to(dtype) if dtype is not None and t.dtype != dtype else t


def as_batch(item: Batch | tuple[Any, ...] | list[Any]) -> Batch:
    """Accept a Batch or a (frames, labels[, scalars]) tuple of tensors or arrays."""
    if isinstance(item, Batch):
        return item
    if len(item) in (2, 3):
        frames, labels, *rest = item
        scalars = rest[0] if rest else None
        return Batch(
            _tensor(frames, torch.float32),
            _tensor(labels),
            None if scalars is None else _tensor(scalars, torch.float32),
        )
    msg = (
        f"a batch must be a Batch or a (frames, labels[, scalars]) tuple, got {type(item).__name__}"
    )
    raise BadInputError(msg)


class ArrayBatches:
    """Re-iterable batches over in-memory arrays; shuffles per epoch via ``set_epoch``.

    The permutation depends only on ``seed`` and the epoch number, so a resumed run sees
    exactly the batches the uninterrupted run would have seen. ``shard=(rank, world)``
    gives data-parallel process ``rank`` its contiguous part of every global batch of
    ``batch_size`` objects (``batch_size`` must divide by ``world``).
    """

    def __init__(
        self,
        frames: npt.ArrayLike | torch.Tensor,
        labels: npt.ArrayLike | torch.Tensor,
        scalars: npt.ArrayLike | torch.Tensor | None = None,
        *,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        weights: npt.ArrayLike | torch.Tensor | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.frames = _tensor(frames, torch.float32)
        self.labels = _tensor(labels)
        self.scalars = None if scalars is None else _tensor(scalars, torch.float32)
        self.weights = None if weights is None else _tensor(weights, torch.float32)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise BadInputError(msg)
        rank, world = shard or (0, 1)
        if not 0 <= rank < world or batch_size % world:
            msg = f"shard {shard} does not fit batch_size {batch_size}: need 0 <= rank < world dividing it"
            raise BadInputError(msg)
        Batch(
            self.frames[:1],
            self.labels[:1],
            None if self.scalars is None else self.scalars[:1],
            None if self.weights is None else self.weights[:1],
        )
        n = len(self.frames)
        if len(self.labels) != n or (self.weights is not None and len(self.weights) != n):
            msg = f"{n} frames but {len(self.labels)} labels / {'-' if self.weights is None else len(self.weights)} weights"
            raise BadInputError(msg)
        self.batch_size, self.shuffle, self.seed, self.drop_last = (
            batch_size,
            shuffle,
            seed,
            drop_last,
        )
        self.rank, self.world = rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.frames)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.frames)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if self.world > 1:
                part = -(-len(idx) // self.world)
                idx = idx[self.rank * part : (self.rank + 1) * part]
            yield Batch(
                self.frames[idx],
                self.labels[idx],
                None if self.scalars is None else self.scalars[idx],
                None if self.weights is None else self.weights[idx],
            )
