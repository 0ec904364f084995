"""A pass over the object branches before training: how many objects of each class are
in each split of each unit, the training objects' pT and |eta| for the weights, and the
mean and spread of their scalar inputs (for the scalars' standardisation).

Only the small per-object branches are read (no frames), so the index of 10^6 objects
costs little next to one epoch. The optional cap per class (``max_objects``) is applied
here, so every reader of the data agrees on which objects are in. The units are scanned
round-robin over the sources (one unit of every file in turn), so a cap takes objects from
every file and dataset alike: in plain file order a cap could fill a class from the first
dataset alone (for example every light jet from ttbar, none from QCD).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import numpy as np
import numpy.typing as npt
from torch.utils.data import DataLoader, Dataset

from ...exceptions import BadInputError
from .sources import ObjectChunk, ObjectSource
from .split import SPLIT_NAMES

__all__ = ["SampleIndex", "UnitPlan", "as_is", "build_index", "keep_rows"]

CLASS_NAMES = ("background", "signal")
"""How the counts name the two classes of a binary task."""


@dataclass(frozen=True)
class UnitPlan:
    """One unit of one source, what to keep of it, and its counts ``[split][class]``."""

    source: int
    start: int
    stop: int
    take: tuple[int | None, ...]
    counts: tuple[tuple[int, ...], ...]

    def n(self, split: int) -> int:
        return sum(self.counts[split])


def keep_rows(chunk: ObjectChunk, take: tuple[int | None, ...]) -> npt.NDArray[np.bool_]:
    """Objects of a unit within the per-class ``take`` limits (the first ones, in order)."""
    keep = np.ones(len(chunk), bool)
    for cls, limit in enumerate(take):
        if limit is not None:
            rows = np.flatnonzero(chunk.target == cls)
            keep[rows[limit:]] = False
    return keep


@dataclass
class SampleIndex:
    """Every unit worth reading, with the training objects' pT and |eta| per class, and
    the mean and standard deviation of each scalar input over them (None without)."""

    sources: list[ObjectSource]
    units: list[UnitPlan]
    pt: dict[int, npt.NDArray[np.float32]]
    abs_eta: dict[int, npt.NDArray[np.float32]]
    class_names: tuple[str, ...] = CLASS_NAMES
    scalar_mean: npt.NDArray[np.float64] | None = None
    scalar_std: npt.NDArray[np.float64] | None = None
    value: dict[int, npt.NDArray[np.float32]] | None = None
    """A regression's true values of the training objects per class (flat-target weights)."""

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def count(self, split: int, cls: int) -> int:
        return sum(u.counts[split][cls] for u in self.units)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            s: {c: self.count(i, k) for k, c in enumerate(self.class_names)}
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
    class_names: tuple[str, ...] = CLASS_NAMES,
) -> SampleIndex:
    """Scan every unit (in parallel over ``workers`` processes), one unit of every source
    in turn, and apply the cap per class; the classes are ``0 .. len(class_names) - 1``."""
    if max_objects is not None and max_objects < 1:
        msg = f"max_objects must be >= 1 or None, got {max_objects}"
        raise BadInputError(msg)
    k = len(class_names)
    per_source = [[(i, a, b) for a, b in src.units(step)] for i, src in enumerate(sources)]
    flat = [u for turn in zip_longest(*per_source) for u in turn if u is not None]
    loader = DataLoader(
        _Scan(sources, flat), batch_size=None, num_workers=workers, collate_fn=as_is
    )
    left: list[int | None] = [max_objects] * k
    units: list[UnitPlan] = []
    pts: dict[int, list[npt.NDArray[np.float32]]] = {c: [] for c in range(k)}
    etas: dict[int, list[npt.NDArray[np.float32]]] = {c: [] for c in range(k)}
    values: dict[int, list[npt.NDArray[np.float32]]] = {c: [] for c in range(k)}
    moments: list[npt.NDArray[np.float64]] = []  # per unit: [n, sum, sum of squares] per scalar
    for (src, a, b), chunk in zip(flat, loader, strict=True):
        if len(chunk) and (chunk.target.min() < 0 or chunk.target.max() >= k):
            msg = f"{sources[src].name}: class ids {sorted(set(chunk.target.tolist()))} outside 0..{k - 1}"
            raise BadInputError(msg)
        take: list[int | None] = [None] * k
        for cls in range(k):
            n = int((chunk.target == cls).sum())
            cap = left[cls]
            if cap is not None:
                if n > cap:
                    take[cls] = cap
                left[cls] = max(cap - n, 0)
        c = chunk.take(np.flatnonzero(keep_rows(chunk, tuple(take))))
        if len(c) == 0:
            continue
        counts = tuple(
            tuple(int(((c.split == s) & (c.target == cls)).sum()) for cls in range(k))
            for s in range(3)
        )
        units.append(UnitPlan(src, a, b, tuple(take), counts))
        tr = c.split == 0
        for cls in range(k):
            sel = tr & (c.target == cls)
            pts[cls].append(c.pt[sel])
            etas[cls].append(c.abs_eta[sel])
            if c.value is not None:
                values[cls].append(np.asarray(c.value, np.float32)[sel])
        if c.scalars is not None:
            x = c.scalars[tr].astype(np.float64)
            moments.append(np.stack([np.full(x.shape[1], len(x)), x.sum(0), (x * x).sum(0)]))
    mean = std = None
    if moments:
        n, s1, s2 = np.sum(moments, axis=0)
        mean = s1 / np.maximum(n, 1)
        std = np.sqrt(np.maximum(s2 / np.maximum(n, 1) - mean**2, 0.0))
        std = np.where(std > 0, std, 1.0)  # a constant scalar is left as it is, centred
    return SampleIndex(
        list(sources),
        units,
        {c: _concat(v) for c, v in pts.items()},
        {c: _concat(v) for c, v in etas.items()},
        tuple(class_names),
        mean,
        std,
        {c: _concat(v) for c, v in values.items()} if any(values.values()) else None,
    )
