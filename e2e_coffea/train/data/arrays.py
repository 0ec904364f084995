"""Objects held in memory as a training source, so that arrays reach ``fit`` the way
files do: indexed (:func:`~e2e_coffea.train.data.index.build_index`) and streamed
(:class:`~e2e_coffea.train.data.streaming.ObjectStream`), with the stream's shuffling,
class mixing, weights, scalar standardisation and data-parallel shards. There is no
second, in-memory batcher to drift from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError
from .sources import ObjectChunk, Select, units_of

__all__ = ["ArraySource"]


def _column(
    name: str, a: npt.ArrayLike | None, n: int, dtype: Any, fill: float
) -> npt.NDArray[Any]:
    out = np.full(n, fill, dtype) if a is None else np.asarray(a, dtype)
    if len(out) != n:
        msg = f"ArraySource: {name} has {len(out)} rows, the inputs have {n}"
        raise BadInputError(msg)
    return out


class ArraySource:
    """``inputs`` (n, C, H, W) or (n, N, F) with class ids ``target`` (0..k-1); by
    default every object is in the training split (``split``: 0 train, 1 val, 2 test)
    and its pT and |eta| are unknown (NaN: no pT reweighting). ``value`` holds a
    regression's truth, ``scalars`` (n, s) the raw scalar inputs."""

    sequential = False

    def __init__(
        self,
        inputs: npt.ArrayLike,
        target: npt.ArrayLike,
        *,
        split: npt.ArrayLike | int = 0,
        pt: npt.ArrayLike | None = None,
        abs_eta: npt.ArrayLike | None = None,
        value: npt.ArrayLike | None = None,
        scalars: npt.ArrayLike | None = None,
        name: str = "arrays",
    ) -> None:
        self.name = name
        self.inputs = np.ascontiguousarray(inputs, np.float32)
        n = len(self.inputs)
        self.target = _column("target", target, n, np.int64, 0)
        self.split = (
            np.full(n, split, np.int8)
            if isinstance(split, int)
            else _column("split", split, n, np.int8, 0)
        )
        if not np.isin(self.split, (0, 1, 2)).all():
            msg = f"ArraySource: split must be 0, 1 or 2, got {sorted(set(self.split.tolist()))}"
            raise BadInputError(msg)
        self.pt = _column("pt", pt, n, np.float32, np.nan)
        self.abs_eta = _column("abs_eta", abs_eta, n, np.float32, np.nan)
        self.value = None if value is None else _column("value", value, n, np.float32, 0)
        self.scalars = None if scalars is None else np.asarray(scalars, np.float32)
        if self.scalars is not None and (self.scalars.ndim != 2 or len(self.scalars) != n):
            msg = f"ArraySource: scalars must have shape ({n}, n_scalars), got {self.scalars.shape}"
            raise BadInputError(msg)

    def units(self, step: int) -> list[tuple[int, int]]:
        return units_of(len(self.inputs), step)

    def scan(self, start: int, stop: int) -> ObjectChunk:
        def part(a: npt.NDArray[Any] | None) -> Any:
            return None if a is None else a[start:stop]

        return ObjectChunk(
            self.target[start:stop], self.split[start:stop], self.pt[start:stop],
            self.abs_eta[start:stop], None, part(self.value), part(self.scalars),
        )  # fmt: skip

    def read(self, start: int, stop: int, select: Select | None = None) -> ObjectChunk:
        c = self.scan(start, stop).with_inputs(self.inputs[start:stop])
        return c if select is None else c.take(np.flatnonzero(select(c)))
