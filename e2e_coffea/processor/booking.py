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
    """Per-label sums of frames, for the dashboards' mean images; merges by ``+``."""

    channels: tuple[str, ...]
    sums: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, frames: npt.NDArray[Any], labels: npt.ArrayLike) -> None:
        names = label_names(labels)
        for name in np.unique(names):
            rows = np.flatnonzero(names == name)
            # frame by frame into float64: no float64 copy of the chunk's frames (it cost
            # a quarter of a SimpleNet chunk), and the same sums as .sum(axis=0)
            s = np.zeros(frames.shape[1:], np.float64)
            for i in rows:
                s += frames[i]
            self.sums[str(name)] = self.sums.get(str(name), 0) + s
            self.counts[str(name)] = self.counts.get(str(name), 0) + len(rows)

    def mean(self, label: str) -> npt.NDArray[np.float64]:
        return self.sums[label] / max(self.counts[label], 1)

    def __add__(self, other: MeanImages) -> MeanImages:
        if self.channels != other.channels:
            msg = f"cannot merge mean images of channels {self.channels} and {other.channels}"
            raise ValueError(msg)
        out = MeanImages(self.channels, dict(self.sums), dict(self.counts))
        for k, v in other.sums.items():
            out.sums[k] = out.sums.get(k, 0) + v
            out.counts[k] = out.counts.get(k, 0) + other.counts[k]
        return out
