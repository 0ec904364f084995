"""A model's raw outputs -> what a physicist uses.

Binary classifiers give the positive-class probability, multi-class models one
probability per class, regression models the value in physical units (the contract's
target transform undone). What a model is fed (frames, points, scalars) is built by
:class:`e2e_coffea.frames.model_inputs.ModelInputs`, which training uses too.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import numpy.typing as npt
from scipy.special import expit, softmax

from ..export.contract import Contract
from ..export.targets import from_network

__all__ = ["jagged_outputs", "model_outputs", "output_width"]


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
    return from_network(values, transform, where=f"model {contract.model_name!r}")


def output_width(contract: Contract) -> int:
    """Values per object: 1 for a binary classifier, else one per class or target."""
    if contract.task == "classification" and len(contract.class_names) == 2:
        return 1
    return len(contract.class_names)


def jagged_outputs(
    values: npt.NDArray[np.float32],
    passed: npt.NDArray[np.bool_],
    counts: npt.NDArray[np.int64],
    contract: Contract,
) -> ak.Array:
    """Per-object outputs (one row per object, NaN where not scored) as a jagged option
    array, ``None`` where not ``passed``; a record per class for a multi-class model."""
    if values.ndim == 2:
        cols = {name: ak.mask(values[:, k], passed) for k, name in enumerate(contract.class_names)}
        flat = ak.mask(ak.zip(cols), passed)
    else:
        flat = ak.mask(ak.Array(values), passed)
    return ak.unflatten(flat, counts)
