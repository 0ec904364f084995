"""What the builders return next to the frames, and how callers choose jets.

Records are flat numpy arrays, one entry per frame, in frame order, so a caller can
join scores back to events (``event``, ``jet``) without awkward gymnastics.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError

__all__ = ["EGRecords", "JetRecords", "JetSelection", "PointClouds"]


class _Records:
    """Equal-length numpy columns; ``len`` is the number of frames."""

    event: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.event)

    def to_dict(self) -> dict[str, npt.NDArray[Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class JetRecords(_Records):
    """Per jet frame: position in the chunk, seed, kinematics, label and flags.

    ``in_frame`` is False when the 125x125 window leaves ECAL rows 0..279 (its frame
    is zero-padded there, not shifted); ``nonfinite`` counts pixels masked to 0.
    """

    event: npt.NDArray[np.int64]
    jet: npt.NDArray[np.int64]
    ieta: npt.NDArray[np.int64]
    iphi: npt.NDArray[np.int64]
    pt: npt.NDArray[np.float32]
    eta: npt.NDArray[np.float32]
    phi: npt.NDArray[np.float32]
    label: npt.NDArray[np.int64]
    in_frame: npt.NDArray[np.bool_]
    nonfinite: npt.NDArray[np.int64]


@dataclass(frozen=True)
class EGRecords(_Records):
    """Per e/gamma frame: position in the chunk, seed crystal (EB grid), kinematics."""

    event: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    seed_row: npt.NDArray[np.int64]
    seed_col: npt.NDArray[np.int64]
    energy: npt.NDArray[np.float32]
    pt: npt.NDArray[np.float32]
    eta: npt.NDArray[np.float32]
    label: npt.NDArray[np.int64]
    in_frame: npt.NDArray[np.bool_]
    nonfinite: npt.NDArray[np.int64]


@dataclass(frozen=True)
class PointClouds:
    """Fixed-size per-jet point sets: ``features`` (n_jets, N, F), ``mask`` (n_jets, N)
    True for real points, ``n_points`` before truncation, and the feature names."""

    features: Any
    mask: Any
    n_points: npt.NDArray[np.int64]
    feature_names: tuple[str, ...]
    records: JetRecords

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class JetSelection:
    """Which jets to build, as (event, jet-within-event) pairs in output order."""

    event: npt.NDArray[np.int64]
    jet: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.event)

    @classmethod
    def from_mask(cls, mask: Any) -> JetSelection:
        """From a jagged boolean mask shaped like the jets (e.g. ``events.Jet.pt > 30``)."""
        arr = ak.Array(mask) if not isinstance(mask, ak.Array) else mask
        if arr.ndim != 2:
            msg = f"a jet mask must be jagged (n_events * var * bool), got type {arr.type}"
            raise BadInputError(msg)
        counts = np.asarray(ak.num(arr, axis=1), dtype=np.int64)
        values = ak.to_numpy(ak.flatten(arr, axis=1))
        if values.dtype != np.bool_:
            msg = f"a jet mask must hold booleans, got {values.dtype}"
            raise BadInputError(msg)
        event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        jet = np.arange(len(values), dtype=np.int64) - first
        sel = np.flatnonzero(values)
        return cls(event[sel], jet[sel])
