"""A pass over the object branches before training: how many objects of each class are
in each split of each unit, and the training objects' pT and |eta| for the weights.

Only the small per-object branches are read (no frames), so the index of 10^6 objects
costs little next to one epoch. The optional cap per class (``max_objects``) is applied
here, in file order, so every reader of the data agrees on which objects are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from torch.utils.data import DataLoader, Dataset

from ..exceptions import BadInputError
from .sources import ObjectChunk, ObjectSource
from .split import SPLIT_NAMES

__all__ = ["SampleIndex", "UnitPlan", "as_is", "build_index", "keep_rows"]

CLASS_NAMES = ("background", "signal")


@dataclass(frozen=True)
class UnitPlan:
    """One unit of one source, what to keep of it, and its counts ``[split][class]``."""

    source: int
    start: int
    stop: int
    take: tuple[int | None, int | None]
    counts: tuple[tuple[int, int], ...]

    def n(self, split: int) -> int:
        return sum(self.counts[split])


def keep_rows(chunk: ObjectChunk, take: tuple[int | None, int | None]) -> npt.NDArray[np.bool_]:
    """Objects of a unit within the per-class ``take`` limits (the first ones, in order)."""
    keep = np.ones(len(chunk), bool)
    for cls, limit in enumerate(take):
        if limit is not None:
            rows = np.flatnonzero(chunk.target == cls)
            keep[rows[limit:]] = False
    return keep


@dataclass
class SampleIndex:
    """Every unit worth reading, with the training objects' pT and |eta| per class."""

    sources: list[ObjectSource]
    units: list[UnitPlan]
    pt: dict[int, npt.NDArray[np.float32]]
    abs_eta: dict[int, npt.NDArray[np.float32]]

    def count(self, split: int, cls: int) -> int:
        return sum(u.counts[split][cls] for u in self.units)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            s: {c: self.count(i, k) for k, c in enumerate(CLASS_NAMES)}
            for i, s in enumerate(SPLIT_NAMES)
        }


def _concat(parts: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def as_is(item: Any) -> Any:
    """The DataLoader's collate function for items that are already what we want."""
    return item


class _Scan(Dataset[Any]):
    def __init__(self, sources: Sequence[ObjectSource], units: list[tuple[int, int, int]]) -> None:
        self.sources, self.units = sources, units

    def __len__(self) -> int:
        return len(self.units)

    def __getitem__(self, i: int) -> ObjectChunk:
        s, a, b = self.units[i]
        return self.sources[s].scan(a, b)


def build_index(
    sources: Sequence[ObjectSource],
    *,
    step: int,
    max_objects: int | None = None,
    workers: int = 0,
) -> SampleIndex:
    """Scan every unit (in parallel over ``workers`` processes) and apply the cap."""
    if max_objects is not None and max_objects < 1:
        msg = f"max_objects must be >= 1 or None, got {max_objects}"
        raise BadInputError(msg)
    flat = [(i, a, b) for i, src in enumerate(sources) for a, b in src.units(step)]
    loader = DataLoader(
        _Scan(sources, flat), batch_size=None, num_workers=workers, collate_fn=as_is
    )
    left = [max_objects, max_objects]
    units: list[UnitPlan] = []
    pts: dict[int, list[npt.NDArray[np.float32]]] = {0: [], 1: []}
    etas: dict[int, list[npt.NDArray[np.float32]]] = {0: [], 1: []}
    for (src, a, b), chunk in zip(flat, loader, strict=True):
        take: list[int | None] = [None, None]
        for cls in (0, 1):
            n = int((chunk.target == cls).sum())
            cap = left[cls]
            if cap is not None:
                if n > cap:
                    take[cls] = cap
                left[cls] = max(cap - n, 0)
        c = chunk.take(np.flatnonzero(keep_rows(chunk, (take[0], take[1]))))
        if len(c) == 0:
            continue
        counts = tuple(
            (
                int(((c.split == s) & (c.target == 0)).sum()),
                int(((c.split == s) & (c.target == 1)).sum()),
            )
            for s in range(3)
        )
        units.append(UnitPlan(src, a, b, (take[0], take[1]), counts))
        tr = c.split == 0
        for cls in (0, 1):
            sel = tr & (c.target == cls)
            pts[cls].append(c.pt[sel])
            etas[cls].append(c.abs_eta[sel])
    return SampleIndex(
        list(sources),
        units,
        {k: _concat(v) for k, v in pts.items()},
        {k: _concat(v) for k, v in etas.items()},
    )
