"""Backend choice by name, pyhf-style but without global state.

Every builder takes ``backend=`` and ``device=`` and asks :func:`get_backend` for an
object with the small set of array operations frames need. Backends are imported
lazily so ``import e2e_coffea.frames`` never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ._hits import ScatterJob

__all__ = ["BACKENDS", "DTYPES", "FrameBackend", "check_dtype", "get_backend"]

BACKENDS: Final[dict[str, tuple[str, str]]] = {
    "numpy": ("e2e_coffea.frames.numpy_backend", "NumpyBackend"),
    "torch": ("e2e_coffea.frames.torch_backend", "TorchBackend"),
}
DTYPES: Final = ("float32", "float16")


class FrameBackend(Protocol):
    """Array operations of a frame builder. ``out`` arrays are (n, C, H, W) float32.

    Hit and seed arrays arrive as host numpy arrays; a device backend moves them once.
    ``scatter`` and ``crop`` return whether a non-finite value may have been written
    (``True`` when they cannot tell); ``nonfinite(suspect=False)`` then skips its pass.
    ``scatter(zero=True)`` zeroes every pixel of ``out`` before adding (``out`` from
    ``new(zeroed=False)`` or the caller's): the numpy kernels zero each object's block
    in the same pass as its hits.
    """

    name: str
    device: str

    def new(self, shape: tuple[int, ...], *, zeroed: bool) -> Any: ...

    def scatter(
        self,
        out: Any,
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
        wrap: int,
        grid_rows: int,
        jobs: Sequence[ScatterJob],
        *,
        zero: bool = False,
    ) -> bool: ...

    def crop(
        self,
        out: Any,
        channels: Sequence[int],
        dense: Sequence[npt.NDArray[np.float32]],
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
    ) -> bool: ...

    def upsample_towers(
        self, out: Any, c: int, towers: Any, factor: int, *, zeroed: bool = False
    ) -> None: ...

    def smooth(self, out: Any, c: int, window: Any, index: Any) -> None: ...

    def nonfinite(self, out: Any, *, mask: bool, suspect: bool = True) -> npt.NDArray[np.int64]: ...

    def normalise(
        self,
        out: Any,
        thr: npt.NDArray[np.float32],
        scale: npt.NDArray[np.float32],
        clip: npt.NDArray[np.float32],
    ) -> None: ...

    def finish(self, out: Any, dtype: str) -> Any: ...

    def asarray(self, x: npt.NDArray[Any]) -> Any: ...

    def to_output(self, x: npt.NDArray[Any]) -> Any: ...


def get_backend(name: str | FrameBackend, device: str = "cpu") -> FrameBackend:
    """The backend called ``name`` on ``device`` (numpy: ``cpu`` only); a backend object
    (e.g. ``TorchBackend("cpu", native=True)``) is returned as is."""
    if not isinstance(name, str):
        if not all(hasattr(name, a) for a in ("new", "scatter", "crop", "finish")):
            msg = f"backend must be a name in {sorted(BACKENDS)} or a backend object, got {name!r}"
            raise BadInputError(msg)
        return name
    if name not in BACKENDS:
        msg = f"unknown frame backend {name!r}; valid backends: {sorted(BACKENDS)}"
        raise BadInputError(msg)
    module, cls = BACKENDS[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - torch is a dependency
        msg = (
            f"backend {name!r} needs a missing package ({err}); install it, e.g. pip install {name}"
        )
        raise BadInputError(msg) from err
    backend: FrameBackend = getattr(mod, cls)(device)
    return backend


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        msg = f"unsupported frame dtype {dtype!r}; valid: {list(DTYPES)}"
        raise BadInputError(msg)
    return dtype
