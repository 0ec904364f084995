"""The performance dashboard's regression panel: value, response and resolution vs true pT.

The model and the baseline it should beat (the reconstructed quantity of the target,
:mod:`e2e_coffea.hists.response`) side by side, from the same histograms and with the
same quantile code as ``summary.json``, so the picture and the numbers agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..hists.response import response_figures
from ..processor.booking import regression_keys
from .plots import _figure, _note, _progress, stairs_with_errors

__all__ = ["regression_taggers", "response_figure"]

_STYLE = {"model": ("o", "#1f77b4"), "baseline": ("s", "#7f7f7f")}


def regression_taggers(output: Mapping[str, Any]) -> list[str]:
    """Names of the regression taggers whose histograms the output holds."""
    hists = output.get("hists", {})
    return sorted(k.removeprefix("response:") for k in hists if k.startswith("response:"))


def response_figure(output: Mapping[str, Any], tagger: str) -> Any:
    """Regressed value (model and baseline), median response and resolution vs true pT."""
    hists = output["hists"]
    value_key, response_key = regression_keys(tagger)
    if response_key not in hists:
        return _note(_figure((6.4, 1.5)), f"{tagger!r} is not a regression tagger")
    fig = _figure((11.0, 3.6))
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.86, wspace=0.38)
    values = hists[value_key]
    filled = np.zeros(len(values.axes["value"]), bool)
    for est in ("model", "baseline"):
        if est not in list(values.axes["estimator"]):
            continue
        h = values[{"estimator": est, "dataset": sum, "label": sum, "tagger": tagger}]
        filled |= h.values() > 0
        stairs_with_errors(axes[0], h, label=est, color=_STYLE[est][1])
    if filled.any():  # the populated part of the target's axis
        edges, nonempty = values.axes["value"].edges, np.flatnonzero(filled)
        axes[0].set_xlim(edges[nonempty[0]], edges[nonempty[-1] + 1])
    axes[0].set_xlabel(values.axes["value"].label)
    axes[0].set_ylabel("fraction of objects")
    axes[0].legend(fontsize=8)
    response = hists[response_key]
    drawn = False
    for est in ("model", "baseline"):
        figs = response_figures(response, est)
        rows = [
            b for b in figs["bias_vs_pt"]
            if b["n"] > 0 and b["median"] is not None and b["resolution"] is not None
        ]  # fmt: skip
        if not rows:
            continue
        drawn = True
        lo = np.array([b["pt"][0] for b in rows])
        hi = np.array([b["pt"][1] for b in rows])
        x, xerr = (lo + hi) / 2, (hi - lo) / 2
        marker, color = _STYLE[est]
        med = np.array([b["median"] for b in rows], dtype=float)
        res = np.array([b["resolution"] for b in rows], dtype=float)
        overall = (figs["response_median"], figs["resolution"])
        label = (
            f"{est}: median {overall[0]:.3f}, resolution {overall[1]:.3f}"
            if None not in overall
            else f"{est}: response mostly outside the histogram's range"
        )
        axes[1].errorbar(x, med, xerr=xerr, yerr=res, fmt=marker, color=color, ms=4, label=label)
        axes[2].errorbar(x, res, xerr=xerr, fmt=marker, color=color, ms=4, label=est)
    if not drawn:
        axes[1].text(0.5, 0.5, "no object with truth:\nno response", ha="center", va="center",
                     transform=axes[1].transAxes, color="0.35")  # fmt: skip
    axes[1].axhline(1.0, color="0.6", lw=0.8, ls=":")
    ticks = [t for t in (20, 50, 100, 200, 500, 1000) if t <= response.axes["pt"].edges[-1]]
    for ax in axes[1:]:
        ax.set_xscale("log")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(response.axes["pt"].label)
    axes[1].set_ylabel("median response ± resolution")
    axes[2].set_ylabel("resolution (16-84 % half-width)")
    if drawn:
        axes[1].legend(fontsize=7)
        axes[2].legend(fontsize=8)
    fig.suptitle(f"{tagger}: {response.axes['response'].label}; {_progress(output)}", fontsize=9)
    return fig
