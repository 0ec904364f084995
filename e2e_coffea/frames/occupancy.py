"""How busy frames are, per channel: the occupancy a tagger's training conditions record.

A tagger trained without pile-up sees a few hundred ECAL hits per event; at <mu> = 35 it
sees several times that, and its scores fall to chance with nothing else to tell. The
mean number of non-zero pixels (``hits``) and their summed absolute value (``energy``,
in the frame's own units: what the model sees) per frame and channel are measured the same way
at training and at run time, so the two can be compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np

from ..io import arrays

try:  # numba is optional (as for the frame kernels): numpy reductions otherwise
    from . import _kernels

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is installed with the package
    HAVE_NUMBA = False

__all__ = [
    "add_frames", "add_nvtx", "frame_sums", "new_tally", "per_event_number", "tally_means",
]  # fmt: skip


def frame_sums(frames: Any) -> tuple[np.ndarray, np.ndarray]:
    """(hits, energy) per channel summed over a batch of ``(n, C, H, W)`` frames, numpy
    or a torch tensor on any device (reduced there; two small copies back). ``energy``
    sums absolute values: signed channels (d0 significance) measure activity too."""
    if isinstance(frames, np.ndarray):
        if HAVE_NUMBA and frames.ndim == 4 and frames.dtype == np.float32 and len(frames):
            counts, energy = _kernels.plane_sums(np.ascontiguousarray(frames))
            return counts.astype(np.float64), energy
        hits = np.count_nonzero(frames, axis=(0, 2, 3)).astype(np.float64)
        energy = np.abs(frames).sum(axis=(0, 2, 3), dtype=np.float64)
        return hits, np.asarray(energy, dtype=np.float64)
    hits_t = (frames != 0).sum(dim=(0, 2, 3))
    energy_t = frames.double().abs().sum(dim=(0, 2, 3))
    return hits_t.cpu().numpy().astype(np.float64), energy_t.cpu().numpy()


def new_tally() -> dict[str, Any]:
    """Sums that merge like every output (a plain dict of numbers, which coffea's
    ``accumulate`` adds): ``frames``, ``hits`` and ``energy`` per channel, ``events`` and
    ``nvtx`` (the summed nVtx of the events that had one)."""
    return {"frames": 0, "hits": {}, "energy": {}, "events": 0, "nvtx": 0.0}


def add_frames(tally: dict[str, Any], frames: Any, channels: Sequence[str]) -> None:
    """Count a batch of ``(n, C, H, W)`` frames into ``tally``."""
    if len(frames) == 0:
        return
    hits, energy = frame_sums(frames)
    tally["frames"] += len(frames)
    for k, ch in enumerate(channels):
        tally["hits"][ch] = tally["hits"].get(ch, 0.0) + float(hits[k])
        tally["energy"][ch] = tally["energy"].get(ch, 0.0) + float(energy[k])


def add_nvtx(tally: dict[str, Any], nvtx: Any) -> None:
    """Count the events' nVtx (NaN: an event without one) into ``tally``."""
    v = np.asarray(nvtx, dtype=np.float64)
    v = v[np.isfinite(v)]
    tally["events"] += len(v)
    tally["nvtx"] += float(v.sum())


def tally_means(tally: Mapping[str, Any]) -> dict[str, Any]:
    """``{"mean_nvtx", "occupancy": {channel: {"hits", "energy"}}}``: per event for nVtx,
    per frame for the channels; a key is absent where nothing was counted."""
    out: dict[str, Any] = {}
    if tally.get("events"):
        out["mean_nvtx"] = tally["nvtx"] / tally["events"]
    n = tally.get("frames") or 0
    if n:
        out["occupancy"] = {
            ch: {"hits": tally["hits"][ch] / n, "energy": tally["energy"][ch] / n}
            for ch in tally["hits"]
        }
    return out


def per_event_number(raw: Any) -> np.ndarray | None:
    """A per-event number as float64, also from a one-element vector per event (MLAnalyzer
    writes ``goodvertices`` so); None for anything else (not a per-event number)."""
    if isinstance(raw, np.ndarray) and raw.ndim == 1:
        return raw.astype(np.float64)
    if isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.shape[1] == 1:
        return raw[:, 0].astype(np.float64)
    if ak.Array(raw).ndim == 1:
        return np.asarray(ak.to_numpy(raw), dtype=np.float64)
    j = arrays.jagged(raw)
    return np.asarray(j.values, dtype=np.float64) if bool((j.counts == 1).all()) else None
