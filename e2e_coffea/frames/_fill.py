"""Layout-independent frame filling: one window per object, every channel, both layouts.

A window is given on the ECAL grid by its top-left pixel ``(r0, c0)`` and its side; it
maps to the EB grid by ``r0 - 55`` and to the HCAL grid by ``r0 / 5`` (jet windows are
tower-aligned by construction: ``r0 = 5 * ieta - 60``). Sparse: hits are scattered into
the window; e2e: the dense image is cropped. Both write the same float32 numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, NonFiniteInputError
from ..io import arrays
from . import _hits
from .channels import GRID_SHAPES, ChannelSpec
from .frame_backend import FrameBackend
from .normalisation import Normalisation
from .smoothing import smooth_index

__all__ = ["check_out", "fill_frames", "finish_frames"]

F = geo.HCAL_TO_ECAL


def _grid_window(
    grid: str, r0: npt.NDArray[np.int64], c0: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if grid == "eb":
        return r0 - geo.EB_FIRST_ROW, c0
    if grid == "hcal":
        return r0 // F, c0 // F
    return r0, c0


def _by_grid(
    pairs: Sequence[tuple[ChannelSpec, int]],
) -> Iterator[tuple[str, list[tuple[ChannelSpec, int]]]]:
    """The (spec, channel) pairs grouped by the grid their hits or images live on."""
    for grid in ("ecal", "eb", "hcal"):
        group = [(s, c) for s, c in pairs if s.grid == grid]
        if group:
            yield grid, group


def _scatter(
    be: FrameBackend,
    out: Any,
    chunk: Any,
    pairs: Sequence[tuple[ChannelSpec, int]],
    ev: npt.NDArray[np.int64],
    r0: npt.NDArray[np.int64],
    c0: npt.NDArray[np.int64],
    cache: dict[str, Any],
    zero: bool = False,
) -> bool:
    """Scatter every (spec, channel) pair; specs are grouped by grid. ``zero``: ``out``
    is not zeroed yet, the first grid's scatter zeroes it."""
    suspect = False
    for grid, group in _by_grid(pairs):
        gr0, gc0 = _grid_window(grid, r0, c0)
        rows, cols = GRID_SHAPES[grid]
        jobs = _hits.scatter_jobs(chunk, group, cache)
        suspect |= be.scatter(out, ev, gr0, gc0, cols, rows, jobs, zero=zero)
        zero = False
    return suspect


def _crop(
    be: FrameBackend,
    out: Any,
    chunk: Any,
    pairs: Sequence[tuple[ChannelSpec, int]],
    ev: npt.NDArray[np.int64],
    r0: npt.NDArray[np.int64],
    c0: npt.NDArray[np.int64],
) -> bool:
    suspect = False
    for grid, group in _by_grid(pairs):
        gr0, gc0 = _grid_window(grid, r0, c0)
        dense = [
            np.asarray(
                arrays.dense_images(
                    chunk, s.e2e_branch, GRID_SHAPES[grid], why=f"channel {s.name!r}"
                ),
                dtype=np.float32,
            )
            for s, _ in group
        ]
        suspect |= be.crop(out, [c for _, c in group], dense, ev, gr0, gc0)
    return suspect


def fill_frames(
    be: FrameBackend,
    chunk: Any,
    layout: str,
    specs: Sequence[ChannelSpec],
    ev: npt.NDArray[np.int64],
    r0: npt.NDArray[np.int64],
    c0: npt.NDArray[np.int64],
    size: int,
    *,
    smooth_endcap: bool = False,
    out: Any = None,
) -> tuple[Any, bool]:
    """(n, C, size, size) float32 frames of windows ``(r0, c0)`` in events ``ev``, and
    whether a non-finite value may be in them. ``out``: an array of that shape to build
    into instead of a new one (:func:`check_out`).

    Sparse frames are zeroed by the first scatter, jet by jet, in the pass that adds the
    hits; without hits to scatter (HCAL or smoothed channels only) they are zeroed
    first, as the e2e crop needs no zeroing (it writes every pixel)."""
    n = len(ev)
    sparse = layout == "sparse"
    shape = (n, len(specs), size, size)
    direct = [
        (s, c)
        for c, s in enumerate(specs)
        if s.grid != "hcal" and not (smooth_endcap and s.name == "ecal")
    ]
    zero_in_scatter = sparse and bool(direct)
    if out is None:
        out = be.new(shape, zeroed=sparse and not zero_in_scatter)
    else:
        check_out(be, out, shape)
        if sparse and not zero_in_scatter:
            out.fill(0.0)
    put = _scatter if sparse else _crop
    kw: dict[str, Any] = {"cache": {}} if sparse else {}
    first: dict[str, Any] = {"zero": zero_in_scatter} if sparse else {}  # the frames only
    suspect = put(be, out, chunk, direct, ev, r0, c0, **kw, **first)
    for c, spec in enumerate(specs):
        if spec.grid == "hcal":
            towers = be.new((n, 1, size // F, size // F), zeroed=sparse)
            suspect |= put(be, towers, chunk, [(spec, 0)], ev, r0, c0, **kw)
            be.upsample_towers(out, c, towers[:, 0], F, zeroed=sparse)
        elif smooth_endcap and spec.name == "ecal":
            win = be.new((n, 1, size + 2, size + 2), zeroed=sparse)
            suspect |= put(
                be, win, chunk, [(spec, 0)], ev, r0 - 1, (c0 - 1) % geo.ECAL_SHAPE[1], **kw
            )
            be.smooth(out, c, win[:, 0], smooth_index(r0, c0, size))
    return out, suspect


def check_out(be: FrameBackend, out: Any, shape: tuple[int, ...]) -> None:
    """``out=`` of a builder: a writeable, C-contiguous float32 numpy array of the frames'
    shape, for the numpy backend (building into it saves allocating and page-faulting
    the frames' memory on every call: most of a sparse build's time)."""
    if be.name != "numpy" or not isinstance(out, np.ndarray):
        msg = f"out= takes a numpy array with backend 'numpy', got {type(out).__name__} with backend {be.name!r}"
        raise BadInputError(msg)
    if out.shape != shape or out.dtype != np.float32:
        msg = f"out= must be a float32 array of shape {shape}, got {out.dtype} {out.shape}"
        raise BadInputError(msg)
    if not (out.flags.c_contiguous and out.flags.writeable):
        msg = "out= must be a writeable C-contiguous array (np.empty(shape, np.float32))"
        raise BadInputError(msg)


def finish_frames(
    be: FrameBackend,
    filled: tuple[Any, bool],
    specs: Sequence[ChannelSpec],
    ev: npt.NDArray[np.int64],
    obj: npt.NDArray[np.int64],
    what: str,
    *,
    nonfinite: str,
    norm: Normalisation | None,
    dtype: str,
) -> tuple[Any, npt.NDArray[np.int64]]:
    """Non-finite check (raise or mask), normalisation, dtype; returns frames and the
    number of masked pixels per frame."""
    out, suspect = filled
    counts = be.nonfinite(out, mask=nonfinite == "mask", suspect=suspect)
    if nonfinite == "raise" and counts.any():
        j, c = (int(x) for x in np.argwhere(counts)[0])
        msg = (
            f"{counts[j, c]} non-finite pixel(s) in channel {specs[c].name!r} of entry "
            f"{arrays.entry_of(int(ev[j]))} ({what} {int(obj[j])}); fix the input or pass nonfinite='mask'"
        )
        raise NonFiniteInputError(msg)
    names = [s.name for s in specs]
    if norm is not None and not norm.is_identity_for(names):
        be.normalise(out, *norm.vectors(names))
    return be.finish(out, dtype), counts.sum(axis=1)
