"""Issue 23's figures: the jet-mass response per m_gen bin (model beside the calibrated
calo and soft-drop masses) and the b-tagging ROC beside the track-counting baseline.

Both draw what :mod:`e2e_coffea.hists.response` and :mod:`e2e_coffea.hists.btag`
compute (``tools/evaluate-issue23.py`` writes them), so a figure and its numbers agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..hists.btag import FLAVOURS, mistag_at_efficiency, roc_from_values
from .plots import _figure

__all__ = ["btag_roc_figure", "mass_response_figure"]


def mass_response_figure(report: Mapping[str, Any], sample: str = "all") -> Any:
    """Median response and relative resolution per m_gen bin, one line per estimator,
    from :func:`~e2e_coffea.hists.response.mass_response_report`'s output."""
    fig = _figure((9.0, 3.4))
    med_ax, res_ax = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.3)
    for name, per in report["estimators"].items():
        rows = per.get(sample, [])
        x = np.arange(len(rows))
        med = [np.nan if r["median"] is None else r["median"] for r in rows]
        res = [np.nan if r["resolution"] is None else r["resolution"] for r in rows]
        med_ax.plot(x, med, "o-", label=name)
        res_ax.plot(x, res, "o-", label=name)
    rows = next(iter(report["estimators"].values())).get(sample, [])
    ticks = [f"{r['m_gen'][0]:g}-{r['m_gen'][1]:g}" if r["m_gen"][1] else f">{r['m_gen'][0]:g}"
             for r in rows]  # fmt: skip
    for ax, what in ((med_ax, "median response"), (res_ax, "relative resolution")):
        ax.set_xticks(np.arange(len(ticks)), ticks)
        ax.set_xlabel("m_gen [GeV]")
        ax.set_ylabel(what)
    med_ax.axhline(1.0, color="0.6", lw=0.8)
    med_ax.legend(fontsize=7)
    fig.suptitle(f"jet-mass response per m_gen bin ({sample})", fontsize=9)
    return fig


def btag_roc_figure(
    score: npt.ArrayLike,
    hadron_flavour: npt.ArrayLike,
    baseline: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    efficiency: float = 0.7,
) -> Any:
    """Light (and c) efficiency against b efficiency, log scale, of the tagger and of
    track counting on the same jets; the mistag at ``efficiency`` in the legend."""
    fl = np.asarray(hadron_flavour).astype(np.int64)
    w = np.ones(len(fl)) if weight is None else np.asarray(weight, np.float64)
    b, light, c = (fl == FLAVOURS[k] for k in ("b", "light", "c"))
    fig = _figure((5.2, 4.2))
    ax = fig.subplots()
    for name, values, style in (("tagger", score, "-"), ("track counting", baseline, "--")):
        x = np.asarray(values, np.float64)
        for bkg, mask, colour in (("light", light, "#1f77b4"), ("c", c, "#ff7f0e")):
            if not (mask.any() and b.any()):
                continue
            roc = roc_from_values(x[b], x[mask], signal_weight=w[b], background_weight=w[mask])
            mis = mistag_at_efficiency(roc, efficiency)
            ax.plot(roc.signal_eff, np.maximum(roc.background_eff, 1e-5), style, color=colour,
                    label=f"{name}, {bkg}: AUC {roc.auc:.3f}, "
                          f"{bkg} eff {mis:.3g} at {efficiency:.0%} b")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("b-jet efficiency")
    ax.set_ylabel("misidentification probability")
    ax.axvline(efficiency, color="0.7", lw=0.8)
    ax.legend(fontsize=6)
    return fig
