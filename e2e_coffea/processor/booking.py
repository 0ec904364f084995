"""Book and fill the job's histograms; every object here merges by ``+`` across chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hist
import numpy as np
import numpy.typing as npt

from ..exceptions import ContractError
from ..layouts import LABELS

__all__ = [
    "MATCH_PT_EDGES",
    "NVTX_EDGES",
    "RESPONSE_BINS",
    "TRUE_PT_EDGES",
    "MeanImages",
    "ValueAxis",
    "book_class_hists",
    "book_regression_hists",
    "book_score_hists",
    "fill_class_scores",
    "fill_features",
    "fill_regression",
    "fill_scores",
    "label_names",
    "regression_keys",
    "value_axis",
]

SCORE_BINS = 1000
"""Fine enough that the ROC's binning error stays far below its statistical error."""
RESPONSE_BINS = (500, 0.0, 2.5)
"""predicted / true in steps of 0.005: quantiles (median, 16-84 %) good to half a percent."""
TRUE_PT_EDGES = (20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0)
"""True-pT bins of the response [GeV]; objects without a true pT land in the overflow."""
MATCH_PT_EDGES = (20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 130.0, 170.0, 250.0, 400.0,
                  450.0, 500.0, 600.0, 750.0, 1000.0)  # fmt: skip
"""Object-pT bins [GeV] in which the headline AUC reweights the signal to the background's
pT: fine where the QCD spectrum falls fast, modest so each bin holds signal. The bins
above 400 GeV are for FatJets (the top task's 400-1000 GeV): with one bin there, the
FatJet headline matched nothing and equalled the unweighted AUC."""
NVTX_EDGES = (0.5, 1.5, 10.5, 20.5, 30.5, 40.5, 50.5, 70.5)
"""nVtx bins of the AUC vs pile-up (1: no pile-up; <mu> = 35 fills 30-40)."""
FEATURE_BINS = 200
"""Bins of a single feature mapped into [0, 1) (:func:`~.features.to_unit`): coarser
than a score's, as a baseline needs two decimals, and each bin is paid for per pT bin,
dataset, label and tagger in every chunk's output."""
NVTX_SCORE_BINS = SCORE_BINS
"""Score bins of the AUC per nVtx bin: as fine as the headline's (with 200, scores piled
up near 0 or 1 moved the pu35 per-nVtx AUCs by up to 0.02)."""


def label_names(labels: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Truth label ids as names (``tau``, ``quark`` ...)."""
    ids = np.asarray(labels, dtype=np.int64)
    lo, hi = min(LABELS), max(LABELS)
    if ids.size and (ids.min() < lo or ids.max() > hi):
        ids = np.where((ids < lo) | (ids > hi), lo - 1, ids)  # unknown ids -> "label?"
    names = np.array([LABELS.get(i, "label?") for i in range(lo - 1, hi + 1)])
    return names[ids - (lo - 1)]


def book_score_hists() -> dict[str, Any]:
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
            hist.axis.Regular(40, 0, 1000, name="pt", label="object pT [GeV]"),
            storage=hist.storage.Weight(),
        ),
        "score_eta": hist.Hist(
            *cats,
            hist.axis.Regular(50, 0, 1, name="score"),
            hist.axis.Regular(24, -2.4, 2.4, name="eta"),
            storage=hist.storage.Weight(),
        ),
        # the headline AUC: fine score x object pT, to reweight the signal to the
        # background's pT; and the AUC in bins of pile-up
        "score_match": hist.Hist(
            *cats,
            hist.axis.Regular(SCORE_BINS, 0, 1, name="score"),
            hist.axis.Variable(MATCH_PT_EDGES, name="pt", label="object pT [GeV]"),
            storage=hist.storage.Weight(),
        ),
        "score_nvtx": hist.Hist(
            *cats,
            hist.axis.Regular(NVTX_SCORE_BINS, 0, 1, name="score"),
            hist.axis.Variable(NVTX_EDGES, name="nvtx", label="nVtx"),
            storage=hist.storage.Weight(),
        ),
        # single-feature baselines on the same objects and weights (.features)
        "feature": hist.Hist(
            *cats,
            hist.axis.StrCategory([], growth=True, name="feature"),
            hist.axis.Regular(FEATURE_BINS, 0, 1, name="value", label="x / (x + scale)"),
            hist.axis.Variable(MATCH_PT_EDGES, name="pt", label="object pT [GeV]"),
            storage=hist.storage.Weight(),
        ),
        # objects scored, unweighted: how many jets a weighted ROC rests on
        "objects": hist.Hist(*cats, storage=hist.storage.Int64()),
        # the same objects' scores unweighted: the exact unweighted AUC beside the headline
        # (a dataset spanning pT-hat bins carries several weights, which no per-cell
        # factor divides back out)
        "score_counts": hist.Hist(
            *cats, hist.axis.Regular(SCORE_BINS, 0, 1, name="score"), storage=hist.storage.Weight()
        ),
    }


def fill_scores(
    hists: dict[str, Any],
    *,
    dataset: str,
    tagger: str,
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    nvtx: npt.ArrayLike | None = None,
) -> None:
    """Fill all score histograms for one tagger's objects of one chunk (``nvtx`` per
    object; without it, or where NaN, ``score_nvtx`` gets nothing)."""
    s = np.clip(
        np.asarray(scores, dtype=np.float64), 0.0, 1.0 - 1e-12
    )  # 1.0 belongs in the last bin
    names = label_names(labels)
    w = np.ones_like(s) if weight is None else np.asarray(weight, dtype=np.float64)
    common: dict[str, Any] = {
        "dataset": dataset, "label": names, "tagger": tagger, "score": s, "weight": w,
    }  # fmt: skip
    hists["score"].fill(**common)
    hists["score_pt"].fill(**common, pt=np.asarray(pt, dtype=np.float64))
    hists["score_eta"].fill(**common, eta=np.asarray(eta, dtype=np.float64))
    hists["score_match"].fill(**common, pt=np.asarray(pt, dtype=np.float64))
    hists["score_counts"].fill(dataset=dataset, label=names, tagger=tagger, score=s)
    if nvtx is not None:
        nv = np.asarray(nvtx, dtype=np.float64)
        ok = np.isfinite(nv)
        if ok.any():
            hists["score_nvtx"].fill(dataset=dataset, label=names[ok], tagger=tagger,
                                     score=s[ok], weight=w[ok], nvtx=nv[ok])  # fmt: skip


def fill_features(
    hists: dict[str, Any],
    *,
    dataset: str,
    tagger: str,
    labels: npt.ArrayLike,
    features: dict[str, npt.ArrayLike],
    pt: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
) -> None:
    """Book each single feature (already mapped into [0, 1)) like a score; NaN values
    (a feature the file cannot give) are left out."""
    names = label_names(labels)
    p = np.asarray(pt, dtype=np.float64)
    w = np.ones(len(p)) if weight is None else np.asarray(weight, dtype=np.float64)
    for feature, values in features.items():
        v = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(v)
        if ok.any():
            hists["feature"].fill(dataset=dataset, label=names[ok], tagger=tagger,
                                  feature=feature, value=np.clip(v[ok], 0.0, 1.0 - 1e-12),
                                  pt=p[ok], weight=w[ok])  # fmt: skip


def book_class_hists() -> dict[str, Any]:
    """Multi-class taggers: every class probability per dataset x truth label x tagger."""
    return {
        "class_score": hist.Hist(
            hist.axis.StrCategory([], growth=True, name="dataset"),
            hist.axis.StrCategory([], growth=True, name="label"),
            hist.axis.StrCategory([], growth=True, name="tagger"),
            hist.axis.StrCategory([], growth=True, name="class"),
            hist.axis.Regular(SCORE_BINS, 0, 1, name="score"),
            storage=hist.storage.Weight(),
        )
    }


def fill_class_scores(
    hists: dict[str, Any],
    *,
    dataset: str,
    tagger: str,
    labels: npt.ArrayLike,
    probabilities: npt.ArrayLike,
    class_names: Sequence[str],
    weight: npt.ArrayLike | None = None,
) -> None:
    """Fill ``class_score`` with each object's (n, k) class probabilities, one per class."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_names):
        msg = f"tagger {tagger!r}: {p.shape} probabilities for classes {list(class_names)}"
        raise ContractError(msg)
    names = label_names(labels)
    w = np.ones(len(p)) if weight is None else np.asarray(weight, dtype=np.float64)
    for k, cls in enumerate(class_names):
        hists["class_score"].fill(dataset=dataset, label=names, tagger=tagger, weight=w,
                                  score=np.clip(p[:, k], 0.0, 1.0 - 1e-12), **_class_axis(cls))  # fmt: skip


def _class_axis(cls: str) -> dict[str, Any]:
    """``class`` is a keyword: the class axis is filled through a mapping."""
    return {"class": cls}


@dataclass(frozen=True)
class ValueAxis:
    """The axis of a regressed quantity: name, unit and range from the contract target."""

    name: str
    unit: str
    lo: float
    hi: float
    bins: int


_DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "mass": (0.0, 300.0), "pt": (0.0, 1000.0), "energy": (0.0, 2000.0),
}  # fmt: skip
"""GeV ranges by what the target's name contains: jet masses past the top quark's
(172.57 +- 0.29 GeV, PDG 2024, Phys. Rev. D 110 (2024) 030001), pT like the score-vs-pT
axis; values outside land in the flow bins, which the summary counts."""


def value_axis(contract: Any) -> ValueAxis:
    """A regression contract's value axis: ``target["range"]`` (and ``"bins"``, default
    300) when given, else by the target's name (``*mass*`` 0-300, ``*pt*`` 0-1000,
    ``*energy*`` 0-2000 GeV, anything else 0-1000 in the target's unit)."""
    target = contract.target or {}
    name = str(target.get("name") or contract.class_names[0])
    unit = str(target.get("unit", ""))
    given = target.get("range")
    try:
        if given is not None:
            lo, hi = (float(v) for v in given)
        else:
            lo, hi = next((r for k, r in _DEFAULT_RANGES.items() if k in name), (0.0, 1000.0))
        bins = int(target.get("bins", 300))
    except (TypeError, ValueError):
        lo, hi, bins = np.nan, np.nan, 0
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo and bins > 0):
        msg = (
            f"model {contract.model_name!r}: target range {given!r} and bins "
            f"{target.get('bins', 300)!r}; expected [lo, hi] with lo < hi and bins > 0"
        )
        raise ContractError(msg)
    return ValueAxis(name, unit, lo, hi, bins)


def regression_keys(tagger: str) -> tuple[str, str]:
    """The (value, response) histogram keys of one regression tagger (own axis ranges)."""
    return f"value:{tagger}", f"response:{tagger}"


def book_regression_hists(tagger: str, axis: ValueAxis) -> dict[str, Any]:
    """Value (model and baseline) and response = predicted / true vs true pT, per dataset
    x truth label; ``estimator`` is ``model`` or ``baseline`` (the reconstructed quantity)."""
    unit = f" [{axis.unit}]" if axis.unit else ""
    cats = [
        hist.axis.StrCategory([], growth=True, name="dataset"),
        hist.axis.StrCategory([], growth=True, name="label"),
        hist.axis.StrCategory([tagger], name="tagger"),
        hist.axis.StrCategory([], growth=True, name="estimator"),
    ]
    value_key, response_key = regression_keys(tagger)
    return {
        value_key: hist.Hist(
            *cats,
            hist.axis.Regular(
                axis.bins, axis.lo, axis.hi, name="value", label=f"{axis.name}{unit}"
            ),
            storage=hist.storage.Weight(),
        ),
        response_key: hist.Hist(
            *cats,
            hist.axis.Variable(TRUE_PT_EDGES, name="pt", label="true pT [GeV]"),
            hist.axis.Regular(
                *RESPONSE_BINS, name="response", label=f"{axis.name} predicted / true"
            ),
            storage=hist.storage.Weight(),
        ),
    }


def fill_regression(
    hists: dict[str, Any],
    *,
    dataset: str,
    tagger: str,
    labels: npt.ArrayLike,
    values: npt.ArrayLike,
    baseline: npt.ArrayLike | None = None,
    truth: npt.ArrayLike | None = None,
    true_pt: npt.ArrayLike | None = None,
    extra: dict[str, npt.ArrayLike] | None = None,
) -> None:
    """Fill one regression tagger's value and response histograms for one chunk's objects.

    ``values``: the model's target output; ``baseline``: the reconstructed quantity (NaN
    where absent); ``truth``: the target's true value (objects with none, NaN or <= 0,
    e.g. an unmatched ``Jet_genPt = -1``, enter the value histograms only); ``true_pt``:
    the response's pT axis (NaN goes to its overflow). ``extra``: a multi-output model's
    other outputs, kept in the value histogram as estimator ``model:<name>``.

    Unweighted, unlike the score histograms: response and resolution are properties of
    the estimator per object (a calibration, not a yield), and their counts are the
    objects they rest on."""
    value_key, response_key = regression_keys(tagger)
    names = label_names(labels)
    v = np.asarray(values, dtype=np.float64)
    n = len(v)

    def col(a: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
        return np.full(n, np.nan) if a is None else np.asarray(a, dtype=np.float64)

    base, true, pt = col(baseline), col(truth), col(true_pt)
    value_of = {
        "model": v,
        "baseline": base,
        **{f"model:{k}": col(a) for k, a in (extra or {}).items()},
    }
    for estimator, x in value_of.items():
        ok = ~np.isnan(x) if estimator == "baseline" else np.ones(n, bool)
        if ok.any():
            hists[value_key].fill(dataset=dataset, label=names[ok], tagger=tagger,
                                  estimator=estimator, value=x[ok])  # fmt: skip
    has_truth = np.isfinite(true) & (true > 0)
    for estimator, x in (("model", v), ("baseline", base)):
        ok = has_truth & (~np.isnan(x) if estimator == "baseline" else True)
        if ok.any():
            hists[response_key].fill(dataset=dataset, label=names[ok], tagger=tagger,
                                     estimator=estimator, pt=pt[ok], response=x[ok] / true[ok])  # fmt: skip


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
