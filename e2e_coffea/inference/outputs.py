"""A model's raw outputs -> what a physicist uses; and the per-object scalars it is fed.

Binary classifiers give the positive-class probability, multi-class models one
probability per class, regression models the value in physical units (the contract's
target transform undone). Scalars come from the object records (``pt``, ``seed_row``
...) or from event branches (``MET_pt``, ``nVtx``), broadcast to the event's objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.special import expit, softmax

from ..exceptions import ContractError, FileLayoutError
from ..export.contract import Contract
from ..frames.records import ObjectRecords
from ..io import arrays

__all__ = ["OBJECT_SCALARS", "model_outputs", "scalar_branches", "scalar_matrix"]

OBJECT_SCALARS: Final = ("pt", "eta", "phi", "mass", "energy", "seed_row", "seed_col")
"""Scalar inputs taken from each object's own record."""


def model_outputs(raw: npt.NDArray[np.float32], contract: Contract) -> npt.NDArray[np.float32]:
    """(n,) positive-class probability, (n, k) class probabilities, or (n,)/(n, k) values."""
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim == 1:
        raw = raw[:, None]
    probs = contract.output_kind == "probabilities"
    if contract.task == "regression":
        values = _inverse_target(raw.astype(np.float64), contract)
        return (values[:, 0] if values.shape[1] == 1 else values).astype(np.float32)
    k = len(contract.class_names)
    if k == 2:
        if raw.shape[1] == 1:
            p = raw[:, 0] if probs else expit(raw[:, 0].astype(np.float64))
        else:
            p = raw[:, -1] if probs else softmax(raw.astype(np.float64), axis=1)[:, -1]
        return np.asarray(p, dtype=np.float32)
    p = raw if probs else softmax(raw.astype(np.float64), axis=1)
    return np.asarray(p, dtype=np.float32)


def _inverse_target(values: npt.NDArray[np.float64], contract: Contract) -> npt.NDArray[np.float64]:
    transform = (contract.target or {}).get("transform", "none")
    if transform in ("none", None):
        return values
    if transform == "log":
        return np.exp(values)
    if transform == "log1p":
        return np.expm1(values)
    msg = (
        f"model {contract.model_name!r}: unknown target transform {transform!r} (none, log, log1p)"
    )
    raise ContractError(msg)


def scalar_branches(contract: Contract, object_table: dict[str, str]) -> list[str]:
    """Our branch names a model's scalar inputs need (object quantities via the table)."""
    return [object_table.get(s, s) if s in OBJECT_SCALARS else s for s in contract.scalar_inputs]


def scalar_matrix(
    chunk: Any,
    records: ObjectRecords,
    names: Sequence[str],
    object_table: dict[str, str],
    norm: dict[str, Any] | None = None,
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
