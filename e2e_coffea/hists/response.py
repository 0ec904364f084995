"""Regression taggers: response = predicted / true, its median and resolution, from hists.

Quantiles come from the bin contents (weighted, mergeable across chunks like every other
figure of the summary): linear inside the bin where the cumulative weight reaches
``q * total``, hence within one bin width (0.005 in response) of the same quantile of
the unbinned values. The resolution is half the 16-84 % interval of the response, the
quantile form of a Gaussian's sigma (that interval is +-1 sigma for a Gaussian) that
does not let a few outliers decide; the baseline is the reconstructed quantity the model
should beat (the calo jet's four-vector mass for a mass target, its pT for a pT target).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..inference.truth import regression_baseline, regression_truth
from ..processor.booking import regression_keys, value_axis

__all__ = [
    "BASELINE_DESCRIPTIONS",
    "MASS_BINS",
    "BinnedCalibration",
    "binned_response",
    "fit_calibration",
    "hist_quantiles",
    "mass_response_report",
    "regression_entry",
    "response_figures",
]

BASELINE_DESCRIPTIONS = {
    "mass": "calo jet mass from the jet four-vector",
    "pt": "calo jet pT",
    "energy": "calo energy",
}

FloatArray = npt.NDArray[np.float64]

MASS_BINS: Final = (0.0, 30.0, 60.0, 120.0, 220.0, np.inf)
"""m_gen bins [GeV] of the jet-mass report: below the W, the W, between, the top, above."""
CALIBRATION_PT: Final = (400.0, 500.0, 600.0, 800.0, np.inf)
CALIBRATION_ABS_ETA: Final = (0.0, 0.5, 1.0, 1.5, np.inf)
"""Bins of the calibrated baselines: a median correction per (pT, |eta|) cell, as jet
energy corrections are binned [CMS, JINST 12 (2017) P02014], derived on the training split."""


def hist_quantiles(counts: npt.ArrayLike, edges: npt.ArrayLike, qs: Sequence[float]) -> FloatArray:
    """Quantiles ``qs`` of binned weights ``counts`` (underflow first, overflow last, so
    ``len(edges) + 1`` entries): -inf/+inf when one falls in a flow bin, NaN when empty."""
    c = np.asarray(counts, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    if c.shape != (len(e) + 1,):
        msg = f"hist_quantiles wants len(edges) + 1 = {len(e) + 1} counts (flow included), got {c.shape}"
        raise BadInputError(msg)
    total = float(c.sum())
    out = np.full(len(qs), np.nan)
    if total <= 0:
        return out
    cum = np.cumsum(c)
    for n, q in enumerate(qs):
        t = q * total
        i = min(int(np.searchsorted(cum, t, side="left")), len(c) - 1)
        if i == 0:
            out[n] = -np.inf
        elif i == len(c) - 1:
            out[n] = np.inf
        else:
            frac = (t - cum[i - 1]) / c[i] if c[i] > 0 else 0.5
            out[n] = e[i - 1] + frac * (e[i] - e[i - 1])
    return out


def _figures(counts: FloatArray, edges: FloatArray) -> dict[str, Any]:
    q16, q50, q84 = hist_quantiles(counts, edges, (0.16, 0.5, 0.84))
    n = float(counts.sum())
    if n <= 0:
        return {"median": None, "resolution": None, "q16": None, "q84": None, "n": 0}
    # a quantile in a flow bin is -inf/+inf: no number to report (and none JSON can hold)
    res = (q84 - q16) / 2 if np.isfinite(q16) and np.isfinite(q84) else None
    return {
        "median": _finite(q50),
        "resolution": res,
        "q16": _finite(q16),
        "q84": _finite(q84),
        "n": n,
    }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def response_figures(response: Any, estimator: str) -> dict[str, Any]:
    """Median response, resolution and their true-pT dependence for one estimator of one
    tagger's ``response`` histogram (summed over datasets and labels), plus per dataset.
    Objects whose true pT is outside the pT bins count in the overall figures only."""
    if estimator not in list(response.axes["estimator"]):
        return {"response_median": None, "resolution": None, "bias_vs_pt": [], "n_objects": 0}
    picks: dict[str, Any] = {"estimator": estimator, "label": sum}
    if "tagger" in response.axes.name:  # one regression tagger per histogram
        picks["tagger"] = sum
    h = response[picks]
    pt_edges, r_edges = h.axes["pt"].edges, h.axes["response"].edges
    per_ds = {ds: h[{"dataset": ds}].view(flow=True)["value"] for ds in h.axes["dataset"]}
    grid = sum(per_ds.values())  # (pt + flow, response + flow)
    overall = _figures(grid.sum(axis=0), r_edges)
    bias = []
    for b in range(len(pt_edges) - 1):
        f = _figures(grid[b + 1], r_edges)
        bias.append({"pt": [float(pt_edges[b]), float(pt_edges[b + 1])], "median": f["median"],
                     "resolution": f["resolution"], "n": f["n"]})  # fmt: skip
    return {
        "response_median": overall["median"],
        "resolution": overall["resolution"],
        "response_q16": overall["q16"],
        "response_q84": overall["q84"],
        "bias_vs_pt": bias,
        "n_objects": round(overall["n"]),
        "n_outside_pt_bins": round(float(grid[0].sum() + grid[-1].sum())),
        "by_dataset": {
            ds: {
                k: v
                for k, v in _figures(g.sum(axis=0), r_edges).items()
                if k != "q16" and k != "q84"
            }
            for ds, g in per_ds.items()
        },
    }


def regression_entry(hists: dict[str, Any], spec: Any) -> dict[str, Any]:
    """summary.json's entry of a regression tagger: the model's response figures and the
    baseline's on the same objects (those with truth), or why there is no response."""
    c = spec.contract
    axis = value_axis(c)
    value_key, response_key = regression_keys(spec.name)
    truth, base = regression_truth(c), regression_baseline(c)
    entry: dict[str, Any] = {
        "task": "regression", "classes": list(c.class_names), "target": axis.name,
        "unit": axis.unit, "truth": truth, "auc": None,
    }  # fmt: skip
    if value_key not in hists or response_key not in hists:
        entry.update(
            n_objects=0,
            n_jets=0,
            note=f"no histograms {value_key!r}/{response_key!r} in the output",
        )
        return entry
    values = hists[value_key]
    n = 0.0
    entry.update(value_median=None, n_value_outside_axis=0)
    if "model" in list(values.axes["estimator"]):
        v = values[{"estimator": "model", "dataset": sum, "label": sum, "tagger": spec.name}]
        flow = v.view(flow=True)["value"]
        n = float(flow.sum())
        entry["value_median"] = hist_quantiles(flow, v.axes["value"].edges, (0.5,))[0]
        entry["n_value_outside_axis"] = round(float(flow[0] + flow[-1]))
    entry.update(n_objects=round(n), n_jets=round(n))
    model = response_figures(hists[response_key], "model")
    entry.update({k: model[k] for k in ("response_median", "resolution", "bias_vs_pt")})
    entry["response"] = {k: v for k, v in model.items() if k not in entry}
    entry["n_with_truth"] = model["n_objects"]
    if base is not None:
        figs = response_figures(hists[response_key], "baseline")
        entry["baseline"] = {"quantity": base, "description": BASELINE_DESCRIPTIONS[base], **figs}
    else:
        entry["baseline"] = None
    if truth is None:
        entry["note"] = (
            f"no response: the contract target {axis.name!r} names no truth quantity; "
            f"set target['truth'] (e.g. 'gen_pt', 'gen_mass')"
        )
    elif model["n_objects"] == 0:
        entry["note"] = (
            f"no response: no object had a truth {truth!r} (its branch is absent from the files "
            "or no generator jet was matched)"
        )
    elif model["response_median"] is None or model["resolution"] is None:
        lo, hi = hists[response_key].axes["response"].edges[[0, -1]]
        entry["note"] = (
            f"the response lies outside {lo:g}-{hi:g} for more than 16% of the objects: "
            "no median or resolution within the histogram's range"
        )
    return entry


def _quantile_figures(r: FloatArray, w: FloatArray) -> dict[str, Any]:
    """Weighted median and relative resolution (half the 16-84 % interval / median)."""
    if len(r) == 0 or w.sum() <= 0:
        return {"n": len(r), "median": None, "resolution": None}
    order = np.argsort(r)
    cum = np.cumsum(w[order]) / w.sum()
    q16, q50, q84 = (float(np.interp(q, cum, r[order])) for q in (0.16, 0.5, 0.84))
    rel = (q84 - q16) / 2 / q50 if q50 > 0 else None
    return {"n": len(r), "median": q50, "resolution": rel, "q16": q16, "q84": q84}


def binned_response(
    predicted: npt.ArrayLike,
    true: npt.ArrayLike,
    *,
    bins: Sequence[float] = MASS_BINS,
    weight: npt.ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """Response ``predicted / true`` per bin of ``true``: median and relative resolution
    (half the 16-84 % interval divided by the median). Objects without a positive true
    value (unmatched) are left out."""
    p, t = np.asarray(predicted, np.float64), np.asarray(true, np.float64)
    w = np.ones(len(t)) if weight is None else np.asarray(weight, np.float64)
    if not len(p) == len(t) == len(w):
        msg = f"predicted ({len(p)}), true ({len(t)}) and weight ({len(w)}) differ in length"
        raise BadInputError(msg)
    ok = np.isfinite(p) & np.isfinite(t) & (t > 0)
    out = []
    for lo, hi in itertools.pairwise(bins):
        m = ok & (t >= lo) & (t < hi)
        f = _quantile_figures(p[m] / t[m], w[m])
        out.append({"m_gen": [float(lo), float(hi) if np.isfinite(hi) else None], **f})
    return out


@dataclass(frozen=True)
class BinnedCalibration:
    """A median correction per (pT, |eta|) cell: ``corrected = reco / median(reco/true)``."""

    pt_edges: tuple[float, ...]
    eta_edges: tuple[float, ...]
    factors: tuple[tuple[float, ...], ...]

    def _cells(self, pt: FloatArray, abs_eta: FloatArray) -> tuple[Any, Any]:
        i = np.clip(np.searchsorted(self.pt_edges, pt, side="right") - 1, 0, len(self.pt_edges) - 2)
        j = np.clip(np.searchsorted(self.eta_edges, abs_eta, side="right") - 1, 0,
                    len(self.eta_edges) - 2)  # fmt: skip
        return i, j

    def apply(self, reco: npt.ArrayLike, pt: npt.ArrayLike, eta: npt.ArrayLike) -> FloatArray:
        i, j = self._cells(np.asarray(pt, np.float64), np.abs(np.asarray(eta, np.float64)))
        out: FloatArray = np.asarray(reco, np.float64) / np.asarray(self.factors)[i, j]
        return out


def fit_calibration(
    reco: npt.ArrayLike,
    true: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    *,
    pt_edges: Sequence[float] = CALIBRATION_PT,
    eta_edges: Sequence[float] = CALIBRATION_ABS_ETA,
    min_count: int = 20,
) -> BinnedCalibration:
    """The median response ``reco / true`` per (pT, |eta|) cell of the training objects;
    a cell with fewer than ``min_count`` objects takes its pT row's median (then the
    overall median)."""
    r, t = np.asarray(reco, np.float64), np.asarray(true, np.float64)
    p, e = np.asarray(pt, np.float64), np.abs(np.asarray(eta, np.float64))
    ok = np.isfinite(r) & np.isfinite(t) & (t > 0) & (r > 0)
    if ok.sum() < min_count:
        msg = f"a calibration needs >= {min_count} objects with a positive reco and true value, got {int(ok.sum())}"
        raise BadInputError(msg)
    resp, p, e = r[ok] / t[ok], p[ok], e[ok]
    cal = BinnedCalibration(tuple(pt_edges), tuple(eta_edges), ())
    i, j = cal._cells(p, e)
    overall = float(np.median(resp))
    rows = []
    for a in range(len(pt_edges) - 1):
        row_sel = i == a
        row_med = float(np.median(resp[row_sel])) if row_sel.sum() >= min_count else overall
        cells = []
        for b in range(len(eta_edges) - 1):
            sel = row_sel & (j == b)
            cells.append(float(np.median(resp[sel])) if sel.sum() >= min_count else row_med)
        rows.append(tuple(cells))
    return BinnedCalibration(tuple(pt_edges), tuple(eta_edges), tuple(rows))


def mass_response_report(
    true: npt.ArrayLike,
    sample: npt.ArrayLike,
    estimators: dict[str, npt.ArrayLike],
    *,
    bins: Sequence[float] = MASS_BINS,
    weight: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Per estimator (the model, the calibrated calo and soft-drop masses ...), per sample
    (``top``, ``qcd``, and all together) and per m_gen bin: median response and relative
    resolution. Calibrate the baselines first (:func:`fit_calibration` on the training
    split, :meth:`BinnedCalibration.apply` on the evaluated objects)."""
    t = np.asarray(true, np.float64)
    smp = np.asarray(sample).astype(str)
    w = np.ones(len(t)) if weight is None else np.asarray(weight, np.float64)
    out: dict[str, Any] = {"bins": [float(b) for b in bins[:-1]], "estimators": {}}
    for name, values in estimators.items():
        v = np.asarray(values, np.float64)
        per = {"all": binned_response(v, t, bins=bins, weight=w)}
        for s in sorted(set(smp.tolist())):
            m = smp == s
            per[s] = binned_response(v[m], t[m], bins=bins, weight=w[m])
        out["estimators"][name] = per
    return out
