"""Book and fill the job's histograms; every object here merges by ``+`` across chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hist
import numpy as np
import numpy.typing as npt

from ..layouts import LABELS

__all__ = ["MeanImages", "book_score_hists", "fill_scores", "label_names"]

SCORE_BINS = 1000
"""Fine enough that the ROC's binning error stays far below its statistical error."""


def label_names(labels: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Truth label ids as names (``tau``, ``quark`` ...)."""
    ids = np.asarray(labels, dtype=np.int64)
    lo, hi = min(LABELS), max(LABELS)
    if ids.size and (ids.min() < lo or ids.max() > hi):
        ids = np.where((ids < lo) | (ids > hi), lo - 1, ids)  # unknown ids -> "label?"
    names = np.array([LABELS.get(i, "label?") for i in range(lo - 1, hi + 1)])
    return names[ids - (lo - 1)]


def book_score_hists() -> dict[str, hist.Hist]:
    """Score, score-vs-pT and score-vs-eta histograms per dataset x truth label x tagger."""
    cats = [
        hist.axis.StrCategory([], growth=True, name="dataset"),
        hist.axis.StrCategory([], growth=True, name="label"),
        hist.axis.StrCategory([], growth=True, name="tagger"),
    ]
    return {
        "score": hist.Hist(
            *cats, hist.axis.Regular(SCORE_BINS, 0, 1, name="score"), storage=hist.storage.Weight()
        ),
        "score_pt": hist.Hist(
            *cats,
            hist.axis.Regular(50, 0, 1, name="score"),
            hist.axis.Regular(40, 0, 1000, name="pt", label="jet pT [GeV]"),
            storage=hist.storage.Weight(),
        ),
        "score_eta": hist.Hist(
            *cats,
            hist.axis.Regular(50, 0, 1, name="score"),
            hist.axis.Regular(24, -2.4, 2.4, name="eta"),
            storage=hist.storage.Weight(),
        ),
    }


def fill_scores(
    hists: dict[str, hist.Hist],
    *,
    dataset: str,
    tagger: str,
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
) -> None:
    """Fill all score histograms for one tagger's objects of one chunk."""
    s = np.clip(
        np.asarray(scores, dtype=np.float64), 0.0, 1.0 - 1e-12
    )  # 1.0 belongs in the last bin
    names = label_names(labels)
    w = np.ones_like(s) if weight is None else np.asarray(weight, dtype=np.float64)
    common = {"dataset": dataset, "label": names, "tagger": tagger, "score": s, "weight": w}
    hists["score"].fill(**common)
    hists["score_pt"].fill(**common, pt=np.asarray(pt, dtype=np.float64))
    hists["score_eta"].fill(**common, eta=np.asarray(eta, dtype=np.float64))


@dataclass
class MeanImages:
    """Per-label sums of frames, for the dashboards' mean images; merges by ``+``.

    Frames on a GPU (torch tensors) are summed there, in float64, and stay there until
    :meth:`flush` (the processor calls it once per chunk; pickling and ``+`` call it too):
    one small copy per label and chunk instead of every batch's frames crossing to the host.
    """

    channels: tuple[str, ...]
    sums: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pending: dict[str, Any] = {}  # label -> float64 sum on a device, not a field

    def add(self, frames: Any, labels: npt.ArrayLike) -> None:
        """Add a batch of frames (numpy, or a torch tensor on any device) with their labels."""
        names = label_names(labels)
        on_host = isinstance(frames, np.ndarray)
        for name in np.unique(names):
            rows = np.flatnonzero(names == name)
            key = str(name)
            if on_host:
                self.sums[key] = self.sums.get(key, 0) + _host_sum(frames, rows)
            else:
                s = _device_sum(frames, rows)
                self._pending[key] = s if key not in self._pending else self._pending[key] + s
            self.counts[key] = self.counts.get(key, 0) + len(rows)

    def flush(self) -> MeanImages:
        """Move the sums still on a device to the host (once per label); returns self."""
        for key, s in self._pending.items():
            self.sums[key] = self.sums.get(key, 0) + s.cpu().numpy()
        self._pending.clear()
        return self

    def mean(self, label: str) -> npt.NDArray[np.float64]:
        self.flush()
        return self.sums[label] / max(self.counts[label], 1)

    def __getstate__(self) -> dict[str, Any]:
        self.flush()  # what travels (to the client, into output.pkl) is numpy only
        return {k: v for k, v in self.__dict__.items() if k != "_pending"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pending = {}

    def __add__(self, other: MeanImages) -> MeanImages:
        if self.channels != other.channels:
            msg = f"cannot merge mean images of channels {self.channels} and {other.channels}"
            raise ValueError(msg)
        self.flush()
        other.flush()
        out = MeanImages(self.channels, dict(self.sums), dict(self.counts))
        for k, v in other.sums.items():
            out.sums[k] = out.sums.get(k, 0) + v
            out.counts[k] = out.counts.get(k, 0) + other.counts[k]
        return out


def _host_sum(frames: npt.NDArray[Any], rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    """Frame by frame into float64: no float64 copy of the chunk's frames (it cost a quarter
    of a SimpleNet chunk), and the same sums as ``.sum(axis=0)``."""
    s = np.zeros(frames.shape[1:], np.float64)
    for i in rows:
        s += frames[i]
    return s


def _device_sum(frames: Any, rows: npt.NDArray[np.intp]) -> Any:
    """The rows' sum on the frames' device, accumulated in float64 by the reduction."""
    import torch

    picked = (
        frames
        if len(rows) == len(frames)
        else frames.index_select(0, torch.as_tensor(rows, device=frames.device))
    )
    return picked.sum(dim=0, dtype=torch.float64)
