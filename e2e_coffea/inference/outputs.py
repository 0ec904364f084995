"""A model's raw outputs -> what a physicist uses; and the per-object scalars it is fed.

Binary classifiers give the positive-class probability, multi-class models one
probability per class, regression models the value in physical units (the contract's
target transform undone). Scalars come from the object records (``pt``, ``seed_row``
...) or from event branches (``MET_pt``, ``nVtx``), broadcast to the event's objects
(:mod:`e2e_coffea.frames.scalars`, which training uses too).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit, softmax

from ..export.contract import Contract
from ..export.targets import from_network
from ..frames.scalars import OBJECT_SCALARS, scalar_branch_names, scalar_matrix

__all__ = ["OBJECT_SCALARS", "model_outputs", "scalar_branches", "scalar_matrix"]


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


def scalar_branches(contract: Contract, object_table: dict[str, str]) -> list[str]:
    """Our branch names a model's scalar inputs need (object quantities via the table)."""
    return scalar_branch_names(contract.scalar_inputs, object_table)
