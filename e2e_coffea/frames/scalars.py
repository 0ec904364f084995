"""Per-object scalar inputs fed beside the frames: object quantities (``pt``, ``seed_row``
...) from each object's record, or event branches (``MET_pt``, ``nVtx``) broadcast to
the event's objects. Training and inference build them with this one function, so a
model sees the same numbers in both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import FileLayoutError
from ..io import arrays
from .records import ObjectRecords

__all__ = ["OBJECT_SCALARS", "scalar_branch_names", "scalar_matrix"]

OBJECT_SCALARS: Final = ("pt", "eta", "phi", "mass", "energy", "seed_row", "seed_col")
"""Scalar inputs taken from each object's own record."""


def scalar_branch_names(names: Sequence[str], object_table: Mapping[str, str]) -> list[str]:
    """Our branch names that the scalars ``names`` need (object quantities via the table)."""
    return [object_table.get(s, s) if s in OBJECT_SCALARS else s for s in names]


def scalar_matrix(
    chunk: Any,
    records: ObjectRecords,
    names: Sequence[str],
    object_table: Mapping[str, str],
    norm: Mapping[str, Any] | None = None,
) -> npt.NDArray[np.float32]:
    """(n_objects, n_scalars) float32: each named scalar per object, standardised by
    ``norm[name] = [mean, std]`` when given. Event branches are broadcast to objects; a
    one-entry-per-event vector (MLAnalyzer's ``goodvertices``) counts as per event."""
    out = np.empty((len(records), len(names)), np.float32)
    for j, name in enumerate(names):
        if name in OBJECT_SCALARS:
            col = np.asarray(getattr(records, name), dtype=np.float64)
            if name in records.missing:
                msg = f"scalar input {name!r} needs branch {object_table.get(name)!r}, which the chunk lacks"
                raise FileLayoutError(msg)
        else:
            arr = arrays.branch(chunk, name, layout="", why=f"scalar input {name!r}")
            col = _per_object(arr, name, records)
        if norm and name in norm:
            mean, std = norm[name]
            col = (col - float(mean)) / float(std)
        if not np.all(np.isfinite(col)):
            k = int(np.flatnonzero(~np.isfinite(col))[0])
            msg = f"scalar input {name!r} is not finite for object {int(records.index[k])} of event {int(records.event[k])}"
            raise FileLayoutError(msg)
        out[:, j] = col
    return out


def _per_object(arr: Any, name: str, records: ObjectRecords) -> npt.NDArray[np.float64]:
    import awkward as ak

    a = arr if isinstance(arr, np.ndarray) else ak.Array(arr)
    if a.ndim == 1:  # one number per event
        return np.asarray(a, dtype=np.float64)[records.event]
    j = arrays.jagged(a)
    if np.all(j.counts == 1):  # a one-entry vector per event
        return j.values.astype(np.float64)[records.event]
    if np.any(records.index >= j.counts[records.event]):
        msg = f"scalar input branch {name!r} is neither per event nor one value per object"
        raise FileLayoutError(msg)
    per_object: npt.NDArray[np.float64] = j.values.astype(np.float64)[
        j.offsets[records.event] + records.index
    ]
    return per_object
