"""numpy backend: numba kernels when numba is importable, pure numpy otherwise.

Both paths give bitwise-identical frames: scatters accumulate float32 in hit order
(``np.add.at`` is unbuffered and ordered), crops copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ._hits import ScatterJob, combine
from .smoothing import SmoothIndex

try:  # numba is optional: the pure-numpy path is slower (scatter ~1.5-2x, crop = per-jet slices) but identical
    from . import _kernels

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by forcing use_numba=False
    HAVE_NUMBA = False  # _kernels stays unbound: only use_numba (False then) reaches it

__all__ = ["HAVE_NUMBA", "NumpyBackend", "object_hit_pairs"]


def object_hit_pairs(
    obj_ev: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(object, hit) for every hit of every object's event, object-major then hit order:
    the vectorised "for each object, for each hit of its event" of the frame builders
    and of the sparse Triton wire."""
    start = offsets[obj_ev]
    counts = offsets[obj_ev + 1] - start
    obj = np.repeat(np.arange(len(obj_ev), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    hit = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(start - first, counts)
    return obj, hit


def _crop_slices(
    out: npt.NDArray[np.float32],
    c: int,
    dense: npt.NDArray[np.float32],
    jet_ev: npt.NDArray[np.int64],
    r0: npt.NDArray[np.int64],
    c0: npt.NDArray[np.int64],
) -> None:
    """Fallback crop: per-jet slices (at most two column segments for the phi wrap)."""
    _, _, H, W = out.shape
    Hg, Wg = dense.shape[1:]
    for j in range(len(jet_ev)):
        top = int(r0[j])
        lo, hi = max(top, 0), min(top + H, Hg)
        dst = out[j, c]
        dst[:] = 0.0
        if lo >= hi:
            continue
        rows = dense[jet_ev[j], lo:hi]
        s = int(c0[j])
        first = min(W, Wg - s)
        d = dst[lo - top : hi - top]
        d[:, :first] = rows[:, s : s + first]
        if first < W:
            d[:, first:] = rows[:, : W - first]


_NO_I32: Final = np.zeros(0, np.int32)
_NO_F32: Final = np.zeros(0, np.float32)


def _plain(x: npt.NDArray[Any], dtype: type) -> npt.NDArray[Any]:
    """``x`` as a writeable C-contiguous array of ``dtype`` (one numba type for every
    job's array: a read-only or strided one would make the tuples heterogeneous)."""
    if x.dtype == dtype and x.flags.c_contiguous and x.flags.writeable:
        return x
    return np.array(x, dtype=dtype, order="C")


def _kernel_jobs(jobs: Sequence[ScatterJob]) -> tuple[Any, Any, Any, Any, Any, Any]:
    """The jobs as :func:`~._kernels.scatter_hits` takes them: stacked offsets, tuples of
    rows, cols, values and per-hit channels (empty where a job has none), and per job
    (channel or -1, unit values, row offset)."""
    offsets = np.stack([j.offsets for j in jobs]) if jobs else np.zeros((0, 1), np.int64)
    return (
        offsets.astype(np.int64, copy=False),
        tuple(_plain(j.row, np.int32) for j in jobs),
        tuple(_plain(j.col, np.int32) for j in jobs),
        tuple(_NO_F32 if j.val is None else _plain(j.val, np.float32) for j in jobs),
        tuple(_NO_I32 if j.ch is None else _plain(j.ch, np.int32) for j in jobs),
        np.array([[j.channel, j.val is None, j.row_offset] for j in jobs], np.int64).reshape(-1, 3),
    )


class NumpyBackend:
    """Frames as numpy arrays on the host."""

    name = "numpy"

    def __init__(self, device: str = "cpu", *, use_numba: bool | None = None) -> None:
        if device != "cpu":
            msg = (
                f"the numpy backend runs on device 'cpu' only, got {device!r}; use backend='torch'"
            )
            raise BadInputError(msg)
        self.device = device
        self.use_numba = HAVE_NUMBA if use_numba is None else (use_numba and HAVE_NUMBA)

    def new(self, shape: tuple[int, ...], *, zeroed: bool) -> npt.NDArray[np.float32]:
        return np.zeros(shape, np.float32) if zeroed else np.empty(shape, np.float32)

    def asarray(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return x

    def scatter(
        self,
        out: npt.NDArray[np.float32],
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
        wrap: int,
        grid_rows: int,
        jobs: Sequence[ScatterJob],
        *,
        zero: bool = False,
    ) -> bool:
        if len(out) == 0:
            return False
        if not jobs or not self.use_numba:
            if zero:
                out.fill(0.0)
            if not jobs:
                return False
        if self.use_numba:
            offs, rows, cols, vals, chs, per_job = _kernel_jobs(jobs)
            return bool(
                _kernels.scatter_hits(
                    out, jet_ev, r0, c0, wrap, grid_rows, offs, rows, cols, vals, chs, per_job, zero
                )
            )
        flat = combine(jobs, grid_rows)
        _n, C, H, W = out.shape
        suspect = False
        for offs in flat.offsets:  # one collection after the other keeps each cell's hit order
            jet, hit = object_hit_pairs(jet_ev, offs)
            k = flat.ch[hit].astype(np.int64)
            i = flat.row[hit] - r0[jet]
            m = (flat.col[hit] - c0[jet]) % wrap
            ok = (k >= 0) & (i >= 0) & (i < H) & (m < W)
            idx = ((jet * C + k) * H + i) * W + m
            added = flat.val[hit[ok]]
            np.add.at(out.reshape(-1), idx[ok], added)
            suspect |= not bool(np.isfinite(added).all())
        return suspect

    def crop(
        self,
        out: npt.NDArray[np.float32],
        channels: Sequence[int],
        dense: Sequence[npt.NDArray[np.float32]],
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
    ) -> bool:
        if len(out) == 0:
            return False
        if self.use_numba:  # one jet-major pass over every image of the grid
            images = tuple(np.ascontiguousarray(img, dtype=np.float32) for img in dense)
            chans = np.asarray(channels, dtype=np.int64)
            return bool(_kernels.crop_windows(out, chans, images, jet_ev, r0, c0))
        for c, img in zip(channels, dense, strict=True):
            _crop_slices(out, c, img, jet_ev, r0, c0)
        return True  # not tracked: check every pixel

    def upsample_towers(
        self,
        out: npt.NDArray[np.float32],
        c: int,
        towers: npt.NDArray[np.float32],
        factor: int,
        *,
        zeroed: bool = False,
    ) -> None:
        if self.use_numba:
            _kernels.upsample_towers(out, c, np.ascontiguousarray(towers), factor, zeroed)
            return
        n, h, w = towers.shape
        per = towers / np.float32(factor * factor)
        view = np.reshape(out[:, c], (n, h, factor, w, factor), copy=False)  # a view, or raise
        view[...] = per[:, :, None, :, None]

    def smooth(
        self,
        out: npt.NDArray[np.float32],
        c: int,
        window: npt.NDArray[np.float32],
        index: SmoothIndex,
    ) -> None:
        _n, S = index.row_lo.shape
        a_lo = np.take_along_axis(window, index.col_lo[:, None, :], axis=2)
        a_hi = np.take_along_axis(window, index.col_hi[:, None, :], axis=2)
        pair = a_lo + a_hi  # (n, S+2, S)
        s = np.take_along_axis(pair, index.row_lo[:, :, None], axis=1) + np.take_along_axis(
            pair, index.row_hi[:, :, None], axis=1
        )
        centre = window[:, 1 : S + 1, 1 : S + 1]
        out[:, c] = np.where(index.endcap[:, :, None], s * np.float32(0.25), centre)

    def nonfinite(
        self, out: npt.NDArray[np.float32], *, mask: bool, suspect: bool = True
    ) -> npt.NDArray[np.int64]:
        if len(out) == 0 or not suspect:  # the kernels saw only finite values
            return np.zeros(out.shape[:2], np.int64)
        if self.use_numba:
            return _kernels.count_nonfinite(out, mask)
        bad = ~np.isfinite(out)
        if mask:
            out[bad] = 0.0
        counts: npt.NDArray[np.int64] = bad.sum(axis=(2, 3)).astype(np.int64)
        return counts

    def normalise(
        self,
        out: npt.NDArray[np.float32],
        thr: npt.NDArray[np.float32],
        scale: npt.NDArray[np.float32],
        clip: npt.NDArray[np.float32],
    ) -> None:
        if self.use_numba and out.flags.c_contiguous and out.flags.writeable and len(out):
            f32 = [np.ascontiguousarray(v, dtype=np.float32) for v in (thr, scale, clip)]
            _kernels.normalise(out, *f32)
            return
        for c in range(out.shape[1]):
            x = out[:, c]
            if thr[c] > 0:
                x[np.abs(x) < thr[c]] = 0.0
            if scale[c] != 1:
                np.divide(x, scale[c], out=x)
            if np.isfinite(clip[c]):
                np.clip(x, -clip[c], clip[c], out=x)

    def finish(self, out: npt.NDArray[np.float32], dtype: str) -> npt.NDArray[Any]:
        return out if dtype == "float32" else out.astype(dtype)

    def to_output(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return x
