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
from ..exceptions import NonFiniteInputError
from ..io import arrays
from . import _hits
from .channels import GRID_SHAPES, ChannelSpec
from .frame_backend import FrameBackend
from .normalisation import Normalisation
from .smoothing import smooth_index

__all__ = ["fill_frames", "finish_frames"]

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
) -> bool:
    """Scatter every (spec, channel) pair; specs are grouped by grid."""
    suspect = False
    for grid, group in _by_grid(pairs):
        gr0, gc0 = _grid_window(grid, r0, c0)
        job = _hits.combine(_hits.scatter_jobs(chunk, group, cache))
        suspect |= be.scatter(
            out, ev, gr0, gc0, GRID_SHAPES[grid][1], job.offsets, job.row, job.col, job.val, job.ch
        )
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
) -> tuple[Any, bool]:
    """(n, C, size, size) float32 frames of windows ``(r0, c0)`` in events ``ev``, and
    whether a non-finite value may be in them."""
    n = len(ev)
    sparse = layout == "sparse"
    out = be.new((n, len(specs), size, size), zeroed=sparse)
    put = _scatter if sparse else _crop
    kw: dict[str, Any] = {"cache": {}} if sparse else {}
    direct = [
        (s, c)
        for c, s in enumerate(specs)
        if s.grid != "hcal" and not (smooth_endcap and s.name == "ecal")
    ]
    suspect = put(be, out, chunk, direct, ev, r0, c0, **kw)
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
