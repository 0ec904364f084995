"""The physical headline of a binary tagger, and the figures that say what it rests on.

An AUC of taus against QCD generated flat in pT-hat measures the generator's recipe: the
hard bins, 0.2 % of the physical rate, give half the jets. The headline here weights the
background to its cross-section per event (the score histograms hold
xsec x lumi / events) and reweights the signal, pT bin by pT bin, to the background's
object pT distribution, so that neither pT nor the sample mixture separates the classes.
Beside it, from the same histograms:

- the unweighted AUC, named as such, from the ``score_counts`` histogram (every object
  once; an output made before it existed: each cell's weights divided back out, exact
  only when a dataset has one cross-section, and ``unweighted_exact`` says which);
- the AUC against each background dataset (each pT-hat bin), the signal matched to that
  dataset's pT;
- the AUC in bins of nVtx (background weighted, signal not pT-matched: a pile-up trend);
- signal efficiency at 1 % and 10 % background efficiency;
- single-feature baselines (object pT, |eta|, MET, charged multiplicity, sum pT of other
  jets within dR < 1) with the same weights, as ``max(AUC, 1 - AUC)`` and the side the
  signal is on: what a cut on that one feature would give.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..processor.features import FEATURE_SCALES
from .roc import RocCurve, roc_from_counts
from .samples import cell_counts

__all__ = ["match_signal_pt", "physical_entry"]

Arr = npt.NDArray[np.float64]
Cell = tuple[str, str]


def match_signal_pt(signal: Arr, signal_var: Arr, background: Arr) -> tuple[Arr, Arr, float]:
    """Signal (score, pT) counts reweighted so that its pT distribution is the
    background's, keeping its total where the background has signal to match; also the share of background weight in pT bins
    with no signal (which no reweighting can cover). Returns (counts, variances, share)."""
    s_pt, b_pt = signal.sum(axis=0), background.sum(axis=0)
    s_tot, b_tot = float(s_pt.sum()), float(b_pt.sum())
    if s_tot <= 0 or b_tot <= 0:
        msg = f"pT matching needs both classes: signal weight {s_tot}, background {b_tot}"
        raise BadInputError(msg)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(s_pt > 0, (b_pt / b_tot) / (s_pt / s_tot), 0.0)
    uncovered = float(b_pt[s_pt <= 0].sum() / b_tot)
    return signal * factor, signal_var * factor**2, uncovered


def _grid(
    h: Any, cells: Sequence[Cell], scale: Mapping[Cell, float] | None = None
) -> tuple[Arr, Arr]:
    """Sum of the cells' (value, second axis) values and variances, flows of the second
    axis kept (objects below the first pT edge still count), the score's dropped (the
    fill clips scores into [0, 1)). ``scale`` multiplies each cell (unweighting)."""
    vals: Arr | None = None
    var: Arr | None = None
    for cell in cells:
        ds, lab = cell
        if ds not in list(h.axes["dataset"]) or lab not in list(h.axes["label"]):
            continue
        sub = h[{"dataset": ds, "label": lab}]
        k = 1.0 if scale is None else scale.get(cell, 0.0)
        v = np.asarray(sub.values(flow=True), dtype=np.float64)[1:-1] * k
        w2 = np.asarray(sub.variances(flow=True), dtype=np.float64)[1:-1] * k * k
        vals = v if vals is None else vals + v
        var = w2 if var is None else var + w2
    if vals is None or var is None:
        shape = (h.axes[-2].size, h.axes[-1].size + 2)
        return np.zeros(shape), np.zeros(shape)
    return vals, var


def _roc(s: Arr, s_var: Arr, b: Arr, b_var: Arr, edges: Arr) -> RocCurve | None:
    if s.sum() <= 0 or b.sum() <= 0:
        return None
    return roc_from_counts(s, b, edges, signal_var=s_var, background_var=b_var)


def _matched(s: Arr, s_var: Arr, b: Arr, b_var: Arr, edges: Arr) -> tuple[RocCurve | None, float]:
    if s.sum() <= 0 or b.sum() <= 0:
        return None, 0.0
    sm, sm_var, uncovered = match_signal_pt(s, s_var, b)
    return _roc(sm.sum(1), sm_var.sum(1), b.sum(1), b_var.sum(1), edges), uncovered


def _figure(roc: RocCurve | None) -> dict[str, Any]:
    if roc is None:
        return {"auc": None, "auc_err": None}
    return {"auc": roc.auc, "auc_err": roc.auc_err, **roc.weighting()}


def _unit_scales(
    h: Any, cells: Sequence[Cell], counts: Mapping[Cell, int] | None
) -> tuple[dict[Cell, float], bool]:
    """Per cell, objects / summed weight (turns weights back into counts), and whether
    that is exact (every object of a cell had the same weight)."""
    scales: dict[Cell, float] = {}
    exact = True
    for cell in cells:
        v, w2 = _grid(h, [cell])
        sumw, sumw2 = float(v.sum()), float(w2.sum())
        n = float(counts.get(cell, 0)) if counts is not None else sumw
        if sumw <= 0:
            continue
        scales[cell] = n / sumw
        exact &= bool(np.isclose(sumw * sumw / sumw2, n, rtol=1e-6)) if sumw2 > 0 else True
    return scales, exact


def physical_entry(
    hists: Mapping[str, Any], tagger: str, signal: Sequence[Cell], background: Sequence[Cell]
) -> dict[str, Any]:
    """The headline and its companions for one binary tagger, whose signal and background
    are the given (dataset, label) cells (those of its weighted ROC)."""
    if "score_match" not in hists:
        return {
            "note": "no 'score_match' histogram in the output (made before the headline existed)"
        }
    h = hists["score_match"][{"tagger": tagger}]
    edges = np.asarray(h.axes["score"].edges, dtype=np.float64)
    s, s_var = _grid(h, signal)
    b, b_var = _grid(h, background)
    head, uncovered = _matched(s, s_var, b, b_var, edges)
    # each cell's weights divided back out (the baselines' unweighted figures): exact only
    # for one weight per cell; the tagger's own comes from score_counts where it exists
    counts = cell_counts(hists.get("objects"), tagger)
    scales, exact = _unit_scales(h, [*signal, *background], counts)
    if "score_counts" in hists:  # every object once: exact
        hc = hists["score_counts"][{"tagger": tagger}]
        su, bu = _grid(hc, signal)[0], _grid(hc, background)[0]
        exact = True
    else:
        su, bu = _grid(h, signal, scales)[0].sum(1), _grid(h, background, scales)[0].sum(1)
    unweighted = _roc(su, su, bu, bu, edges)
    out: dict[str, Any] = {
        "definition": (
            "background weighted to its cross-section per event; signal reweighted to "
            "the background's object-pT distribution (bins "
            f"{list(h.axes['pt'].edges)} GeV, flows kept)"
        ),
        "auc_headline": None if head is None else head.auc,
        "auc_headline_err": None if head is None else head.auc_err,
        "auc_unweighted": None if unweighted is None else unweighted.auc,
        "auc_unweighted_err": None if unweighted is None else unweighted.auc_err,
        "unweighted_exact": exact,
        "background_weight_without_signal_pt": uncovered,
    }
    if b.sum() > 0 and np.allclose(b_var, b):
        out["note"] = (
            "the background carries unit weights (an --unweighted run, or no cross-sections "
            "in the fileset): the headline is pT-matched, not weighted to the physical rate"
        )
    if head is not None:
        out.update(head.weighting())
        out["signal_eff_at_1pct_bkg"] = head.signal_eff_at(0.01)
        out["signal_eff_at_10pct_bkg"] = head.signal_eff_at(0.10)
    out["per_background_dataset"] = {}
    for ds in sorted({d for d, _ in background}):
        bd, bd_var = _grid(h, [c for c in background if c[0] == ds])
        roc, _ = _matched(s, s_var, bd, bd_var, edges)
        out["per_background_dataset"][ds] = _figure(roc)
    out["per_nvtx"] = _per_nvtx(hists, tagger, signal, background)
    out["baselines"] = _baselines(hists, tagger, signal, background, scales)
    absent = [f for f in FEATURE_SCALES if f not in out["baselines"]]
    if absent:  # said, not silently left out
        out["baselines_missing"] = {
            f: "not computed: the files lack its inputs (tracks, jet phi or MET)" for f in absent
        }
    return out


def _per_nvtx(
    hists: Mapping[str, Any], tagger: str, signal: Sequence[Cell], background: Sequence[Cell]
) -> dict[str, Any]:
    if "score_nvtx" not in hists or tagger not in list(hists["score_nvtx"].axes["tagger"]):
        return {}
    h = hists["score_nvtx"][{"tagger": tagger}]
    edges = np.asarray(h.axes["score"].edges, dtype=np.float64)
    nv = list(h.axes["nvtx"].edges)
    names = ["< 1"] + [
        f"{lo + 0.5:g}" if hi - lo == 1 else f"{lo + 0.5:g}-{hi - 0.5:g}"
        for lo, hi in itertools.pairwise(nv)
    ]
    names += [f">= {nv[-1] + 0.5:g}"]
    s, s_var = _grid(h, signal)
    b, b_var = _grid(h, background)
    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        roc = _roc(s[:, k], s_var[:, k], b[:, k], b_var[:, k], edges)
        if roc is not None:
            out[name] = _figure(roc)
    return out


def _baselines(
    hists: Mapping[str, Any],
    tagger: str,
    signal: Sequence[Cell],
    background: Sequence[Cell],
    scales: Mapping[Cell, float],
) -> dict[str, Any]:
    if "feature" not in hists or tagger not in list(hists["feature"].axes["tagger"]):
        return {}
    hf = hists["feature"][{"tagger": tagger}]
    out: dict[str, Any] = {}
    for feature in hf.axes["feature"]:
        h = hf[{"feature": feature}]
        edges = np.asarray(h.axes["value"].edges, dtype=np.float64)
        s, s_var = _grid(h, signal)
        b, b_var = _grid(h, background)
        head, _ = _matched(s, s_var, b, b_var, edges)
        su, _ = _grid(h, signal, scales)
        bu, _ = _grid(h, background, scales)
        unw = _roc(su.sum(1), su.sum(1), bu.sum(1), bu.sum(1), edges)
        entry: dict[str, Any] = {}
        for key, roc in (("headline", head), ("unweighted", unw)):
            if roc is None:
                entry[f"auc_{key}"] = None
                continue
            entry[f"auc_{key}"] = max(roc.auc, 1.0 - roc.auc)
            entry[f"signal_side_{key}"] = "high" if roc.auc >= 0.5 else "low"
        out[str(feature)] = entry
    return out
