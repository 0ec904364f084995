"""The performance dashboard's figures, as pure functions of a run's output dict.

Each returns a matplotlib Figure on an Agg canvas (no pyplot state), so the same picture
comes out of a widget, a notebook cell or a test, and a live dashboard fed the chunks
one by one ends on exactly the figure of the merged output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import hist
import numpy as np

from ..exceptions import BadInputError
from ..hists.multiclass import one_vs_rest
from ..hists.roc import RocCurve
from ..hists.summary import class_split, draw_roc, roc_for_tagger

__all__ = [
    "REQUIRED_HISTS",
    "check_output",
    "efficiency_figure",
    "efficiency_vs_pt",
    "mean_images_figure",
    "multiclass_taggers",
    "roc_figure",
    "rocs_of",
    "score_figure",
    "stairs_with_errors",
    "throughput_figure",
]

REQUIRED_HISTS: dict[str, str] = {
    "score": "ROC curves and score distributions",
    "score_pt": "efficiency vs pT",
}
"""Histograms the dashboard needs, and what each one draws."""


def check_output(output: Any) -> None:
    """BadInputError naming every histogram the dashboard needs but the output lacks."""
    if not isinstance(output, Mapping):
        msg = f"a run output must be the dict e2e_coffea.run returns (RunResult.output), got {type(output).__name__}"
        raise BadInputError(msg)
    hists = output.get("hists")
    have = set(hists) if isinstance(hists, Mapping) else set()
    missing = [name for name in REQUIRED_HISTS if name not in have]
    if missing:
        needs = "; ".join(f"'{m}' for {REQUIRED_HISTS[m]}" for m in missing)
        msg = (
            f"the output lacks histogram(s) {missing} in output['hists'] (has {sorted(have)}): "
            f"the performance dashboard needs {needs}. Was it produced by e2e_coffea.run?"
        )
        raise BadInputError(msg)


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _note(fig: Any, text: str) -> Any:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="0.35", wrap=True)
    return fig


def multiclass_taggers(output: Mapping[str, Any]) -> list[str]:
    """Names of the multi-class taggers whose class probabilities the output holds."""
    h = output["hists"].get("class_score")
    return [] if h is None else list(h.axes["tagger"])


def rocs_of(output: Mapping[str, Any], classes: Mapping[str, Sequence[str]]) -> dict[str, RocCurve]:
    """ROC per binary tagger, and per class (``"tagger: class"``, one vs rest) of each
    multi-class tagger, that has signal and background in the output so far (others are
    left out)."""
    score = output["hists"]["score"]
    have = set(score.axes["tagger"])
    multi = set(multiclass_taggers(output))
    out = {}
    for name, names in classes.items():
        if name in multi:
            try:
                per_class = one_vs_rest(output["hists"], name, names)
            except BadInputError:  # a class not seen yet
                continue
            out.update({f"{name}: {c}": roc for c, (roc, _) in per_class.items() if roc})
        elif name in have:
            try:
                out[name] = roc_for_tagger(output["hists"], name, names)[0]
            except BadInputError:  # one class not seen yet (early chunks)
                continue
    return out


def _progress(output: Mapping[str, Any]) -> str:
    m = output.get("metrics", {})
    return f"{len(output.get('chunks', {}))} chunks, {int(m.get('entries', 0))} events, {int(m.get('objects', 0))} objects"


def roc_figure(output: Mapping[str, Any], classes: Mapping[str, Sequence[str]]) -> Any:
    """Background rejection vs signal efficiency, every tagger on one plot with its 1-sigma
    band, up to the last cut that keeps background; AUC +- error, weighted or not."""
    fig = _figure((6.4, 4.6))
    rocs = rocs_of(output, classes)
    if not rocs:
        return _note(fig, "no classifier has both signal and background jets yet")
    ax = fig.add_axes((0.12, 0.12, 0.84, 0.8))
    for name, roc in rocs.items():
        vs = " vs rest" if ": " in name else ""
        label = f"{name}{vs}: AUC {roc.auc:.3f} ± {roc.auc_err:.3f} ({_weighting(roc)})"
        draw_roc(ax, roc, label=label)
    ax.plot([0.001, 1], [1000, 1], color="0.6", lw=0.8, ls=":", label="random")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background rejection (1 / efficiency)")
    ax.set_title(f"ROC: {_progress(output)}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def _weighting(roc: RocCurve) -> str:
    if roc.weighted:
        return f"weighted, eff. N {roc.n_signal:.0f} + {roc.n_background:.0f}"
    return f"unweighted, N {roc.n_signal:.0f} + {roc.n_background:.0f}"


def stairs_with_errors(ax: Any, h: Any, *, label: str, **kwargs: Any) -> Any:
    """A 1D histogram normalised to unit area, with its statistical error per bin (from
    hist's variances: sum of squared weights) as error bars; the legend gives its total
    (the weighted yield, "sum w", when weights are not all 1). Nothing for an empty one."""
    values = np.asarray(h.values(), dtype=np.float64)
    total = float(values.sum())
    if total <= 0:
        return None
    var = h.variances()
    err = np.sqrt(np.asarray(values if var is None else var, dtype=np.float64)) / total
    edges = h.axes[0].edges
    weighted = var is not None and not np.allclose(var, values)
    text = f"{label} (sum w {total:.3g})" if weighted else f"{label} ({total:.0f})"
    art = ax.stairs(values / total, edges, label=text, **kwargs)
    centres = (edges[:-1] + edges[1:]) / 2
    ax.errorbar(centres, values / total, yerr=err, fmt="none", ecolor=art.get_edgecolor(), lw=0.8)
    return art


def score_figure(output: Mapping[str, Any], tagger: str, *, bins: int = 50) -> Any:
    """Score distribution per truth label, each normalised to unit area; for a multi-class
    tagger one panel per class probability."""
    if tagger in multiclass_taggers(output):
        h = output["hists"]["class_score"][{"tagger": tagger, "dataset": sum}]
        panels = [(f"P({c})", h[{"class": c}]) for c in h.axes["class"]]
    else:
        score = output["hists"]["score"]
        if tagger not in list(score.axes["tagger"]):
            return _note(_figure((6.4, 3.6)), f"no scores for {tagger!r} (a classifier's) yet")
        panels = [(f"{tagger} score", score[{"tagger": tagger, "dataset": sum}])]
    n = len(panels)
    fig = _figure((6.4, 3.6) if n == 1 else (2.9 * n + 1.6, 3.4))
    width = 0.62 if n == 1 else 0.8 / n - 0.04
    for i, (xlabel, h) in enumerate(panels):
        h = h[{"score": hist.rebin(max(len(h.axes["score"]) // bins, 1))}]
        ax = fig.add_axes((0.1 if n == 1 else 0.05 + i * (width + 0.04), 0.15, width, 0.75))
        for lab in sorted(h.axes["label"]):
            stairs_with_errors(ax, h[{"label": lab}], label=lab)
        ax.set_xlim(0, 1)
        ax.set_xlabel(xlabel)
        if i == 0:
            ax.set_ylabel("fraction of objects")
    title = f"scores per truth label: {_progress(output)}"
    if n == 1:
        ax.set_title(title, fontsize=9)
    else:
        fig.suptitle(f"{tagger}: {title}", fontsize=9)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return fig


def efficiency_vs_pt(
    output: Mapping[str, Any], tagger: str, classes: Sequence[str], working_point: float
) -> dict[str, Any]:
    """Per group (``signal``, ``background``): pT edges, labels, passing and total counts,
    efficiency and binomial error at ``score >= cut``; the cut is the first score-bin
    edge of ``score_pt`` at or above ``working_point`` (returned as ``cut``)."""
    h2 = output["hists"]["score_pt"]
    if tagger not in list(h2.axes["tagger"]):
        msg = f"no scores for tagger {tagger!r} (have {list(h2.axes['tagger'])})"
        raise BadInputError(msg)
    h = h2[{"tagger": tagger, "dataset": sum}]
    sig, bkg = class_split(classes, list(h.axes["label"]))
    edges = h.axes["score"].edges
    first = int(np.searchsorted(edges[:-1], working_point - 1e-12))  # first bin with low edge >= wp
    out: dict[str, Any] = {
        "cut": float(edges[min(first, len(edges) - 1)]),
        "pt_edges": h.axes["pt"].edges,
    }
    for name, group in (("signal", sig), ("background", bkg)):
        if not group:
            continue
        vals = sum(h[{"label": lab}].values() for lab in group)  # (score, pt)
        total = vals.sum(axis=0)
        passed = vals[first:].sum(axis=0)
        ok = total > 0
        eff = np.divide(passed, total, out=np.zeros_like(total), where=ok)
        err = np.sqrt(np.divide(eff * (1 - eff), total, out=np.zeros_like(total), where=ok))
        out[name] = {"labels": group, "passed": passed, "total": total, "eff": eff, "err": err}
    return out


def efficiency_figure(
    output: Mapping[str, Any], tagger: str, classes: Sequence[str], working_point: float
) -> Any:
    """Signal efficiency and background mistag rate vs pT at ``score >= working_point``."""
    fig = _figure((6.4, 3.8))
    if tagger not in list(output["hists"]["score_pt"].axes["tagger"]):
        return _note(
            fig, f"no binary scores for {tagger!r} yet (efficiency vs pT is for binary taggers)"
        )
    e = efficiency_vs_pt(output, tagger, classes, working_point)
    pt_edges = e["pt_edges"]
    centres = 0.5 * (pt_edges[1:] + pt_edges[:-1])
    ax = fig.add_axes((0.11, 0.15, 0.85, 0.75))
    for name, marker in (("signal", "o"), ("background", "s")):
        if name not in e:
            continue
        g = e[name]
        ok = g["total"] > 0
        ax.errorbar(
            centres[ok],
            g["eff"][ok],
            yerr=g["err"][ok],
            xerr=0.5 * np.diff(pt_edges)[ok],
            fmt=marker,
            ms=4,
            label=f"{name} ({', '.join(g['labels'])})",
        )
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("jet pT [GeV]")
    ax.set_ylabel("efficiency")
    ax.set_title(f"{tagger}: efficiency at score >= {e['cut']:.2f}", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return fig


def mean_images_figure(output: Mapping[str, Any], tagger: str) -> Any:
    """Mean frame per truth label (rows) and channel (columns), log colour per channel."""
    from matplotlib.colors import LogNorm, Normalize

    mi = output.get("mean_images", {}).get(tagger)
    if mi is None or not mi.counts:
        return _note(_figure((6.4, 1.5)), f"no mean images for {tagger!r} in this output")
    labels = sorted(mi.counts)
    chans = list(mi.channels)
    fig = _figure((1.15 * len(chans) + 0.9, 1.2 * len(labels) + 0.5))
    axes = fig.subplots(len(labels), len(chans), squeeze=False)
    fig.subplots_adjust(
        left=0.9 / fig.get_figwidth(), right=0.99, top=0.88, bottom=0.02, wspace=0.05, hspace=0.08
    )
    means = {lab: mi.mean(lab) for lab in labels}
    for j, ch in enumerate(chans):
        stack = np.stack([means[lab][j] for lab in labels])
        top = float(np.abs(stack).max(initial=0.0))
        signed = bool((stack < 0).any())
        for i, lab in enumerate(labels):
            ax = axes[i][j]
            img = means[lab][j]
            if signed:
                norm: Any = Normalize(-top or -1, top or 1)
                ax.imshow(img, origin="lower", cmap="RdBu_r", norm=norm, interpolation="nearest")
            else:
                norm = LogNorm(max(top * 1e-3, 1e-12), max(top, 1e-9))
                ax.imshow(
                    np.where(img > 0, img, np.nan),
                    origin="lower",
                    cmap="viridis",
                    norm=norm,
                    interpolation="nearest",
                )
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(ch, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{lab}\n(n={mi.counts[lab]})", fontsize=8)
    fig.suptitle(
        f"{tagger}: mean frames per truth label (as fed to the model), log colour per channel",
        fontsize=9,
    )
    return fig


def throughput_figure(output: Mapping[str, Any], wall_time: float | None = None) -> Any:
    """Events per worker, chunks per device and where the time went."""
    m = output.get("metrics")
    if not m:
        return _note(_figure((6.4, 1.5)), "no metrics in this output")
    fig = _figure((9.6, 3.2))
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.8, wspace=0.45)
    worker = m.get("worker", {})
    axes[0].bar(list(map(str, worker)), list(worker.values()), color="#1f77b4")
    axes[0].set_title("events per worker", fontsize=9)
    device = m.get("device", {})
    axes[1].bar(list(map(str, device)), list(device.values()), color="#ff7f0e")
    axes[1].set_title("chunks per device", fontsize=9)
    parts = {
        k.removeprefix("time_"): float(m.get(k, 0.0))
        for k in ("time_read", "time_frames", "time_inference")
    }
    axes[2].bar(list(parts), list(parts.values()), color="#2ca02c")
    axes[2].set_title("time summed over chunks [s]", fontsize=9)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    busy = sum(parts.values())
    text = f"{int(m.get('entries', 0))} events, {int(m.get('objects', 0))} objects, {int(m.get('chunks', 0))} chunks"
    if busy > 0:
        text += f"; {m.get('objects', 0) / busy:.0f} objects per busy second"
    if wall_time:
        text += f"; wall {wall_time:.1f} s: {m.get('entries', 0) / wall_time:.0f} events/s"
    fig.suptitle(text, fontsize=9)
    return fig
