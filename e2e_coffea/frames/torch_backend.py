"""torch backend: hits (or, for the e2e layout, the needed dense images) go to the device
once and frames are built there; nothing comes back to the host but one small tensor of
non-finite counts per call (the only sync).

On ``cpu`` the backend by default builds with the numpy backend's numba kernels and
wraps the result with ``torch.from_numpy`` (no copy): same numbers, several times faster
than torch's CPU indexing ops. ``TorchBackend("cpu", native=True)`` runs the device code
path on the CPU instead; the tests use it to check what runs on CUDA.

Scatter: every (jet, hit-of-its-event) pair is enumerated on the device; pairs outside
the window add ``+0.0`` at a spread-out harmless position instead of being filtered, so
no data-dependent size (and no host sync) is needed. ``index_put_(accumulate=True)``
sums duplicates in index order on the CPU (bitwise equal to the numpy backend); on CUDA
the summation order of several hits in one cell is the kernel's, so such cells may
differ in the last bit (tested on CPU only: no GPU was available to this author).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch

from ..exceptions import BadInputError
from ._hits import ScatterJob, combine
from .numpy_backend import NumpyBackend
from .smoothing import SmoothIndex

__all__ = ["HostKernelTorchBackend", "TorchBackend"]

MAX_PAIRS: Final = 1 << 22
"""Jet-hit pairs enumerated at once; bounds device memory (~10 int64 arrays of this)."""


class TorchBackend:
    """Frames as float32 torch tensors on ``device`` (``cpu``, ``cuda``, ``cuda:1`` ...).

    ``TorchBackend("cpu")`` is a :class:`HostKernelTorchBackend` (numba kernels, frames
    wrapped as tensors) unless ``native=True``; every other device runs the code below."""

    name = "torch"

    def __new__(cls, device: str = "cpu", *, native: bool | None = None) -> TorchBackend:
        if cls is TorchBackend and not _runs_native(device, native):
            return super().__new__(HostKernelTorchBackend)
        return super().__new__(cls)

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, bool]]:
        """Unpickling calls ``__new__`` with these, so a backend comes back as its class."""
        return (self.device,), {"native": self.native}

    def __init__(self, device: str = "cpu", *, native: bool | None = None) -> None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            msg = f"invalid torch device {device!r}: {err}"
            raise BadInputError(msg) from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            msg = f"device {device!r} requested but torch sees no CUDA device; use 'cpu'"
            raise BadInputError(msg)
        self._dev = dev
        self.device = str(dev)
        self.native = dev.type != "cpu" if native is None else native
        if not self.native and dev.type != "cpu":
            msg = f"native=False (numba kernels) needs device 'cpu', got {device!r}"
            raise BadInputError(msg)

    # --- helpers --------------------------------------------------------------------
    def asarray(self, x: npt.NDArray[Any]) -> torch.Tensor:
        if not x.flags.writeable or not x.flags.c_contiguous:
            x = np.array(x)  # torch.from_numpy refuses read-only buffers
        return torch.from_numpy(x).to(self._dev, non_blocking=True)

    def new(self, shape: tuple[int, ...], *, zeroed: bool) -> torch.Tensor:
        make = torch.zeros if zeroed else torch.empty
        return make(shape, dtype=torch.float32, device=self._dev)

    # --- building -------------------------------------------------------------------
    def scatter(
        self,
        out: torch.Tensor,
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
        wrap: int,
        grid_rows: int,
        jobs: Sequence[ScatterJob],
        *,
        zero: bool = False,
    ) -> bool:
        if zero:
            out.zero_()
        n = out.shape[0]
        if n == 0 or not jobs:
            return False
        flat = combine(jobs, grid_rows)
        if len(flat.row) == 0:
            return False
        row_t, col_t = self.asarray(flat.row), self.asarray(flat.col)
        val_t, ch_t = self.asarray(flat.val), self.asarray(flat.ch)
        r0_t, c0_t = self.asarray(r0), self.asarray(c0)
        for offs in flat.offsets:  # collections one after the other: hit order per cell kept
            self._scatter_one(out, jet_ev, r0_t, c0_t, wrap, offs, row_t, col_t, val_t, ch_t)
        return True  # not tracked on the device (would need a sync): check afterwards

    def _scatter_one(
        self,
        out: torch.Tensor,
        jet_ev: npt.NDArray[np.int64],
        r0_t: torch.Tensor,
        c0_t: torch.Tensor,
        wrap: int,
        offsets: npt.NDArray[np.int64],
        row_t: torch.Tensor,
        col_t: torch.Tensor,
        val_t: torch.Tensor,
        ch_t: torch.Tensor,
    ) -> None:
        n, C, H, W = out.shape
        start = offsets[jet_ev]
        counts = offsets[jet_ev + 1] - start  # host: sizes are known without a sync
        flat_out = out.view(-1)
        numel = flat_out.numel()
        cum = np.cumsum(counts)
        a = 0
        while a < n:  # batches of jets with at most MAX_PAIRS pairs (at least one jet)
            b = max(a + 1, int(np.searchsorted(cum, (cum[a - 1] if a else 0) + MAX_PAIRS, "right")))
            cnt = counts[a:b]
            total = int(cnt.sum())
            if total:
                first = np.cumsum(cnt) - cnt
                jet = torch.repeat_interleave(
                    torch.arange(a, b, device=self._dev), self.asarray(cnt), output_size=total
                )
                shift = self.asarray(start[a:b] - first)
                pair = torch.arange(total, device=self._dev)
                hit = pair + shift.index_select(0, jet - a)
                k = ch_t.index_select(0, hit).long()
                i = row_t.index_select(0, hit).long() - r0_t.index_select(0, jet)
                m = torch.remainder(
                    col_t.index_select(0, hit).long() - c0_t.index_select(0, jet), wrap
                )
                ok = (k >= 0) & (i >= 0) & (i < H) & (m < W)
                flat = ((jet * C + k) * H + i) * W + m
                flat = torch.where(ok, flat, pair % numel)
                v = torch.where(ok, val_t.index_select(0, hit), torch.zeros((), device=self._dev))
                flat_out.index_put_((flat,), v, accumulate=True)
            a = b

    def crop(
        self,
        out: torch.Tensor,
        channels: Sequence[int],
        dense: Sequence[npt.NDArray[np.float32]],
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
    ) -> bool:
        n, _, H, W = out.shape
        if n == 0 or not channels:
            return False
        Hg, Wg = dense[0].shape[1:]
        uniq, inv = np.unique(jet_ev, return_inverse=True)
        whole = len(uniq) == dense[0].shape[0]
        rows = self.asarray(r0)[:, None] + torch.arange(H, device=self._dev)
        valid = ((rows >= 0) & (rows < Hg))[:, :, None]
        cols = torch.remainder(self.asarray(c0)[:, None] + torch.arange(W, device=self._dev), Wg)
        ev = self.asarray(jet_ev if whole else inv.astype(np.int64))
        idx = (ev[:, None, None] * Hg + rows.clamp(0, Hg - 1)[:, :, None]) * Wg + cols[:, None, :]
        zero = torch.zeros((), device=self._dev)
        for c, img in zip(channels, dense, strict=True):
            d = self.asarray(np.ascontiguousarray(img if whole else img[uniq], dtype=np.float32))
            out[:, c] = torch.where(valid, d.view(-1)[idx], zero)
        return True

    def upsample_towers(
        self, out: torch.Tensor, c: int, towers: torch.Tensor, factor: int, *, zeroed: bool = False
    ) -> None:
        n, h, w = towers.shape
        # a device tensor, not a Python scalar: CUDA turns division by a CPU scalar into a
        # multiplication by its reciprocal, which can differ from numpy's x / 25 by an ulp
        per = towers / torch.tensor(float(factor * factor), device=self._dev)
        big = per[:, :, None, :, None].expand(n, h, factor, w, factor)
        out[:, c] = big.reshape(n, h * factor, w * factor)

    def smooth(self, out: torch.Tensor, c: int, window: torch.Tensor, index: SmoothIndex) -> None:
        n, S = index.row_lo.shape
        full = window.shape[1]
        col_lo = self.asarray(index.col_lo)[:, None, :].expand(n, full, S)
        col_hi = self.asarray(index.col_hi)[:, None, :].expand(n, full, S)
        pair = window.gather(2, col_lo) + window.gather(2, col_hi)
        row_lo = self.asarray(index.row_lo)[:, :, None].expand(n, S, S)
        row_hi = self.asarray(index.row_hi)[:, :, None].expand(n, S, S)
        s = pair.gather(1, row_lo) + pair.gather(1, row_hi)
        endcap = self.asarray(index.endcap)[:, :, None]
        out[:, c] = torch.where(endcap, s * 0.25, window[:, 1 : S + 1, 1 : S + 1])

    # --- finishing ------------------------------------------------------------------
    def nonfinite(
        self, out: torch.Tensor, *, mask: bool, suspect: bool = True
    ) -> npt.NDArray[np.int64]:
        if not suspect:
            return np.zeros(tuple(out.shape[:2]), np.int64)
        bad = ~torch.isfinite(out)
        counts = bad.sum(dim=(2, 3))
        if mask:
            out.masked_fill_(bad, 0.0)
        return counts.cpu().numpy().astype(np.int64)  # the one device->host sync

    def normalise(
        self,
        out: torch.Tensor,
        thr: npt.NDArray[np.float32],
        scale: npt.NDArray[np.float32],
        clip: npt.NDArray[np.float32],
    ) -> None:
        shape = (1, len(thr), 1, 1)
        if (thr > 0).any():
            out.masked_fill_(out.abs() < self.asarray(thr).view(shape), 0.0)
        if (scale != 1).any():
            out.div_(self.asarray(scale).view(shape))
        if np.isfinite(clip).any():
            limit = self.asarray(clip).view(shape)
            torch.clamp(out, min=-limit, max=limit, out=out)

    def finish(self, out: torch.Tensor | npt.NDArray[np.float32], dtype: str) -> torch.Tensor:
        t = out if isinstance(out, torch.Tensor) else torch.from_numpy(out)
        return t if dtype == "float32" else t.to(getattr(torch, dtype))

    def to_output(self, x: npt.NDArray[Any]) -> torch.Tensor:
        """A host array as this backend's output (a tensor on the device)."""
        return self.asarray(x)


class HostKernelTorchBackend(TorchBackend):
    """:class:`TorchBackend` on the CPU that builds with the numpy backend's numba kernels:
    the building ops below are the numpy backend's, and ``finish`` wraps the frames
    with ``torch.from_numpy`` (no copy). ``out`` is therefore a numpy array here."""

    def __init__(self, device: str = "cpu", *, native: bool | None = None) -> None:
        if native:
            msg = "HostKernelTorchBackend builds with numba kernels; native=True is TorchBackend's"
            raise BadInputError(msg)
        super().__init__(device, native=False)
        self._host = NumpyBackend()

    # The signatures below repeat the FrameBackend protocol's (frames/frame_backend.py), as
    # every backend's do: each op is the numpy backend's, delegated.

    def new(self, shape: tuple[int, ...], *, zeroed: bool) -> Any:
        return self._host.new(shape, zeroed=zeroed)

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
    ) -> bool:
        return self._host.scatter(out, jet_ev, r0, c0, wrap, grid_rows, jobs, zero=zero)

    def crop(
        self,
        out: Any,
        channels: Sequence[int],
        dense: Sequence[npt.NDArray[np.float32]],
        jet_ev: npt.NDArray[np.int64],
        r0: npt.NDArray[np.int64],
        c0: npt.NDArray[np.int64],
    ) -> bool:
        return self._host.crop(out, channels, dense, jet_ev, r0, c0)

    def upsample_towers(
        self, out: Any, c: int, towers: Any, factor: int, *, zeroed: bool = False
    ) -> None:
        self._host.upsample_towers(out, c, towers, factor, zeroed=zeroed)

    def smooth(self, out: Any, c: int, window: Any, index: SmoothIndex) -> None:
        self._host.smooth(out, c, window, index)

    def nonfinite(self, out: Any, *, mask: bool, suspect: bool = True) -> npt.NDArray[np.int64]:
        return self._host.nonfinite(out, mask=mask, suspect=suspect)

    def normalise(
        self,
        out: Any,
        thr: npt.NDArray[np.float32],
        scale: npt.NDArray[np.float32],
        clip: npt.NDArray[np.float32],
    ) -> None:
        self._host.normalise(out, thr, scale, clip)


def _runs_native(device: str, native: bool | None) -> bool:
    """Whether ``TorchBackend(device, native=native)`` runs the device code path; a device
    torch cannot parse counts as native, so that ``__init__`` names the error."""
    if native is not None:
        return native
    try:
        return torch.device(device).type != "cpu"
    except (RuntimeError, TypeError):
        return True
