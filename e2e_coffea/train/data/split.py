"""Deterministic train/validation/test assignment per event.

The split must not depend on file order, chunking, the number of workers or Python's
per-process ``hash()`` salt, so that the same (run, lumi, event) is in the same split in
every job, forever. We hash the three numbers with splitmix64 [Steele, Lea & Flood,
"Fast splittable pseudorandom number generators", OOPSLA 2014; constants from
Vigna's reference ``splitmix64.c``], vectorised over numpy uint64 (wrapping arithmetic),
and cut the top 53 bits, read as a uniform number in [0, 1), at the cumulative fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError

__all__ = ["SPLIT_NAMES", "split_of", "splitmix64"]

SPLIT_NAMES: Final = ("train", "val", "test")
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)


def splitmix64(x: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """One splitmix64 step: ``z = x + golden``, then the two xor-shift-multiply rounds."""
    z = np.array(x, dtype=np.uint64, ndmin=1)  # ndmin=1: numpy warns on 0-d overflow only
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _as_u64(name: str, v: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    a = np.asarray(v)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            msg = f"{name} must be integers, got dtype {a.dtype}"
            raise BadInputError(msg)
    # negative ints map to their two's complement: still a stable, distinct key
    return np.array(a.astype(np.int64) if a.dtype.kind == "i" else a, ndmin=1).astype(np.uint64)


def split_of(
    run: npt.ArrayLike,
    lumi: npt.ArrayLike,
    event: npt.ArrayLike,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    salt: int = 0,
) -> npt.NDArray[np.int8]:
    """0 (train), 1 (val) or 2 (test) for each event; same inputs, same answer, anywhere.

    ``salt`` gives an independent split of the same events (e.g. for k-fold studies).
    """
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(~np.isfinite(f)) or np.any(f < 0) or abs(f.sum() - 1) > 1e-9:
        msg = f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}"
        raise BadInputError(msg)
    try:
        shape = np.broadcast_shapes(np.shape(run), np.shape(lumi), np.shape(event))
    except ValueError as err:
        msg = f"run, lumi and event must have the same length, got {np.shape(run)}, {np.shape(lumi)}, {np.shape(event)}"
        raise BadInputError(msg) from err
    r, lu, ev = (_as_u64(n, v) for n, v in (("run", run), ("lumi", lumi), ("event", event)))
    h = splitmix64(splitmix64(splitmix64(np.uint64(salt & 0xFFFFFFFFFFFFFFFF) ^ r) ^ lu) ^ ev)
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    out = np.full(u.shape, 2, dtype=np.int8)
    out[u < f[0] + f[1]] = 1
    out[u < f[0]] = 0
    return out.reshape(shape)
