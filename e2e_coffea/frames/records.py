"""What the builders return next to the frames, and how callers choose objects.

Records are flat numpy arrays, one entry per frame, in frame order, so a caller can
join scores back to events (``event``, ``index``) without awkward gymnastics. Jets and
e/gamma candidates share one record type: the seed is ``(seed_row, seed_col)`` on the
object's seed grid (HCAL towers for jets, EB crystals for e/gamma).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..layouts import ObjectKind

__all__ = [
    "EGRecords",
    "JetRecords",
    "JetSelection",
    "ObjectRecords",
    "ObjectSelection",
    "PointClouds",
]


@dataclass(frozen=True)
class ObjectRecords:
    """Per frame: position in the chunk, seed, kinematics, truth label and flags.

    ``in_frame`` is False when the window leaves the grid in eta (its frame is
    zero-padded there, not shifted); ``nonfinite`` counts pixels masked to 0.
    Kinematics a file lacks are NaN; a missing label is ``-2`` (``unlabelled``).
    ``missing`` names the optional quantities the chunk did not provide.
    """

    kind: ObjectKind
    event: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    seed_row: npt.NDArray[np.int64]
    seed_col: npt.NDArray[np.int64]
    pt: npt.NDArray[np.float32]
    eta: npt.NDArray[np.float32]
    phi: npt.NDArray[np.float32]
    mass: npt.NDArray[np.float32]
    energy: npt.NDArray[np.float32]
    label: npt.NDArray[np.int64]
    in_frame: npt.NDArray[np.bool_]
    nonfinite: npt.NDArray[np.int64]
    missing: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.event)

    def to_dict(self) -> dict[str, npt.NDArray[Any]]:
        """The per-object columns (not ``kind``/``missing``), e.g. for an npz file."""
        skip = ("kind", "missing")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def take(self, rows: npt.ArrayLike) -> ObjectRecords:
        """The records of ``rows`` (an index or boolean array), in that order."""
        idx = np.asarray(rows)
        cols = {k: v[idx] for k, v in self.to_dict().items()}
        return ObjectRecords(kind=self.kind, missing=self.missing, **cols)


JetRecords = ObjectRecords
"""Jet records are :class:`ObjectRecords` (``kind == "jet"``); the name reads better in jet code."""
EGRecords = ObjectRecords
"""e/gamma records are :class:`ObjectRecords` (``kind == "eg"``)."""


@dataclass(frozen=True)
class PointClouds:
    """Fixed-size per-jet point sets: ``features`` (n_jets, N, F), ``mask`` (n_jets, N)
    True for real points, ``n_points`` before truncation, and the feature names."""

    features: Any
    mask: Any
    n_points: npt.NDArray[np.int64]
    feature_names: tuple[str, ...]
    records: ObjectRecords

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class ObjectSelection:
    """Which objects to build, as (event, object-within-event) pairs in output order."""

    event: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.event)

    @classmethod
    def from_mask(cls, mask: Any) -> ObjectSelection:
        """From a jagged boolean mask shaped like the objects (e.g. ``events.Jet_pt > 30``)."""
        arr = ak.Array(mask) if not isinstance(mask, ak.Array) else mask
        if arr.ndim != 2:
            msg = f"an object mask must be jagged (n_events * var * bool), got type {arr.type}"
            raise BadInputError(msg)
        counts = np.asarray(ak.num(arr, axis=1), dtype=np.int64)
        values = ak.to_numpy(ak.flatten(arr, axis=1))
        if values.dtype != np.bool_:
            msg = f"an object mask must hold booleans, got {values.dtype}"
            raise BadInputError(msg)
        return cls.from_flat(counts, values)

    @classmethod
    def from_flat(
        cls, counts: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]
    ) -> ObjectSelection:
        """From per-event object counts and one boolean per object, in chunk order."""
        event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        index = np.arange(len(event), dtype=np.int64) - first
        sel = np.flatnonzero(keep)
        return cls(event[sel], index[sel])


JetSelection = ObjectSelection
"""The selection type under the name jet code reads best with."""
