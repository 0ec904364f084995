"""A regression target's transform: what the network learns (``log`` of a mass) and its
inverse (what a physicist reads). Training applies :func:`to_network`, inference
:func:`from_network`, from the contract's ``target["transform"]``."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from ..exceptions import ContractError

__all__ = ["TRANSFORMS", "from_network", "to_network"]

TRANSFORMS: Final = ("none", "log", "log1p")


def _check(transform: str | None, where: str) -> str:
    t = transform or "none"
    if t not in TRANSFORMS:
        msg = f"{where}: unknown target transform {transform!r} ({', '.join(TRANSFORMS)})"
        raise ContractError(msg)
    return t


def to_network(
    values: npt.ArrayLike, transform: str | None, where: str = "target"
) -> npt.NDArray[np.float64]:
    """Physical values -> what the network is trained to output."""
    v = np.asarray(values, np.float64)
    t = _check(transform, where)
    return np.log(v) if t == "log" else np.log1p(v) if t == "log1p" else v


def from_network(
    values: npt.ArrayLike, transform: str | None, where: str = "target"
) -> npt.NDArray[np.float64]:
    """The network's outputs -> physical values (the inverse of :func:`to_network`)."""
    v = np.asarray(values, np.float64)
    t = _check(transform, where)
    return np.exp(v) if t == "log" else np.expm1(v) if t == "log1p" else v
