"""Turn a run's merged output into the summary a physicist reads first, and a ROC plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import hist
import numpy as np

from ..exceptions import BadInputError, MissingSampleError
from ..frames.occupancy import tally_means
from ..frames.selection import ObjectCuts
from ..inference.calibration import batch_report
from ..inference.conditions import conditions_warning, expected_conditions
from ..io.jsonfiles import json_safe
from ..layouts import LABEL_IDS
from ..processor.tagger_processor import tagger_cuts
from .multiclass import multiclass_entry
from .physical import physical_entry
from .response import regression_entry
from .roc import RocCurve, roc_from_counts
from .run_summary import FailedRange, RunSummary
from .samples import cell_counts, main_datasets

__all__ = [
    "class_split",
    "draw_roc",
    "physical_for_tagger",
    "plot_rocs",
    "roc_for_tagger",
    "roc_legend",
    "summarize",
    "tagger_entry",
]


def class_split(class_names: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Signal = the positive (last) class's truth label. Background = the negative class's
    label when it is a truth label (``gluon``), else every other label (``qcd``: any jet;
    then signal comes from the signal samples and background from the background samples
    only, see :func:`roc_for_tagger`). Objects without truth (``unlabelled``) are in
    neither."""
    positive, negative = class_names[-1], class_names[0]
    signal = [positive] if positive in labels else []
    if negative in LABEL_IDS:
        background = [negative] if negative in labels else []
    else:
        background = [lab for lab in labels if lab not in (positive, "unlabelled")]
    return signal, background


def _slice(h: hist.Hist[Any], where: Mapping[int | str, str]) -> hist.Hist[Any]:
    """``h[where]`` when it still has axes (hist types any indexing as ``Hist | float``)."""
    out = h[where]
    if not isinstance(out, hist.Hist):
        msg = f"selecting {where} left no histogram"
        raise BadInputError(msg)
    return out


def roc_for_tagger(
    hists: Mapping[str, Any], tagger: str, class_names: Sequence[str]
) -> tuple[RocCurve, dict[str, Any]]:
    """ROC of one tagger from a run's histograms (``output["hists"]``).

    The (dataset, label, tagger, score) histogram ``score`` holds event weights; the
    signal and background samples are chosen by the unweighted ``objects`` counts (see
    :mod:`.samples`), which also give ``info["n_objects"]``, the objects the ROC rests
    on. Both come in one mapping so that no caller can pair weights with the wrong
    sample choice."""
    score, objects = hists["score"], hists.get("objects")
    if tagger not in list(score.axes["tagger"]):
        msg = f"no scores for tagger {tagger!r} in the output (have {list(score.axes['tagger'])})"
        raise BadInputError(msg)
    h = _slice(score, {"tagger": tagger})
    labels = list(h.axes["label"])
    datasets = list(h.axes["dataset"])
    sig_labels, bkg_labels = class_split(class_names, labels)
    counts = cell_counts(objects, tagger)

    def collect(
        chosen: list[str], among: list[str]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, float]]:
        vals = np.zeros(h.axes["score"].size)
        var = np.zeros_like(vals)
        weighted: dict[str, float] = {}
        n: dict[str, float] = {}
        for ds in among:
            for lab in chosen:
                sub = _slice(h, {"dataset": ds, "label": lab})
                total = float(np.sum(sub.values()))
                if total > 0:
                    vals += sub.values()
                    var += np.asarray(sub.variances(), dtype=np.float64)
                    weighted[ds] = weighted.get(ds, 0.0) + total
                    n[ds] = n.get(ds, 0.0) + (total if counts is None else counts.get((ds, lab), 0))
        return vals, var, weighted, n

    s, s_var, s_ds, s_n = collect(sig_labels, datasets)
    bkg_datasets = datasets
    if class_names[0] not in LABEL_IDS:
        # "qcd"-like negative class: signal from the signal samples, background from the
        # others, as in training. A ttbar event's b jet is not background; a QCD sample's
        # rare real taus are not the signal either: weighted by its cross-section they
        # would outweigh the whole tau sample, and their ROC is not the tagger's.
        # Without a sample besides the signal ones, the "background" would be the signal
        # sample's own unmatched jets: not what the tagger is measured against, so no ROC.
        signal_samples = main_datasets(s_n)
        if signal_samples and not set(datasets) - set(signal_samples):
            pos, neg = class_names[-1], class_names[0]
            msg = (
                f"no AUC: no background sample besides {signal_samples}, which hold the "
                f"{pos!r} objects; a ROC of {pos!r} against {neg!r} needs a background dataset "
                f"in the fileset (a signal sample's other jets are not one)"
            )
            raise MissingSampleError(msg, which="background")
        if set(datasets) - set(signal_samples):
            s, s_var, s_ds, s_n = collect(sig_labels, signal_samples)
            bkg_datasets = [ds for ds in datasets if ds not in signal_samples]
    b, b_var, b_ds, b_n = collect(bkg_labels, bkg_datasets)
    roc = roc_from_counts(s, b, h.axes["score"].edges, signal_var=s_var, background_var=b_var)
    info: dict[str, Any] = {
        "signal": main_datasets(s_n),
        "background": main_datasets(b_n),
        "signal_weight": s_ds,
        "background_weight": b_ds,
        "signal_labels": sig_labels,
        "background_labels": bkg_labels,
    }
    if counts is not None:  # objects, unweighted, beside the weighted yields above
        info["signal_counts"] = {ds: round(n) for ds, n in s_n.items()}
        info["background_counts"] = {ds: round(n) for ds, n in b_n.items()}
        info["n_objects"] = round(sum(s_n.values()) + sum(b_n.values()))
    return roc, info


def summarize(result: Any, specs: Sequence[Any], cuts: ObjectCuts | None = None) -> RunSummary:
    """The ``summary.json`` contents: per-tagger figures (AUC, per-class AUCs or response),
    each with the kinematic ``range`` its objects were selected in (the run's ``cuts``
    narrowed to the tagger's validity, as the processor does, and a jet's |eta| to what
    its window allows, 1.392), entry accounting, failures,
    throughput."""
    out = result.output
    if "hists" not in out or "score" not in out["hists"]:
        msg = "the output holds no 'hists'/'score' histogram; was it produced by e2e_coffea.run?"
        raise BadInputError(msg)
    metrics = out.get("metrics", {})
    lost = result.lost_datasets() if hasattr(result, "lost_datasets") else []
    taggers = {
        spec.name: {
            **tagger_entry(out["hists"], spec, lost),
            "range": tagger_cuts(spec, cuts or ObjectCuts()).effective_range(spec.kind),
            "batch_size": batch_report(metrics.get("batch_size", {}).get(spec.name, {})),
        }
        for spec in specs
    }
    measured = {
        spec.name: tally_means(out.get("conditions", {}).get(spec.name, {})) for spec in specs
    }
    for spec in specs:
        taggers[spec.name]["conditions"] = {
            "measured": measured[spec.name],
            "trained": expected_conditions(spec.contract),
        }
    warnings = [
        line
        for spec in specs
        if (
            line := conditions_warning(
                spec.name, expected_conditions(spec.contract), measured[spec.name]
            )
        )
    ]
    wall = max(result.wall_time, 1e-9)
    summary: RunSummary = {
        "taggers": taggers,
        "warnings": warnings,
        "entries": {
            "processed": result.processed,
            "expected": int(sum(result.expected.values())),
        },
        "complete": result.complete,
        "incomplete_taggers": {
            name: t["note"] for name, t in taggers.items() if t.get("missing_sample")
        },
        "failed": [cast(FailedRange, f.to_dict()) for f in result.failed],
        "lost_datasets": lost,
        "throughput": {
            "jets_per_s": metrics.get("objects", 0) / wall,
            "events_per_s": result.processed / wall,
            "wall_s": wall,
        },
        "timing": {
            "time_read": metrics.get("time_read", 0.0),
            "time_frames": metrics.get("time_frames", 0.0),
            "time_inference": metrics.get("time_inference", 0.0),
        },
        "devices": metrics.get("device", {}),
        "device_reasons": metrics.get("device_reason", {}),
        "oom_halvings": metrics.get("oom_halvings", 0),
        "workers": metrics.get("worker", {}),
        "cutflow": out.get("cutflow", {}),
        "missing_branches": getattr(result, "missing_branches", {}),
        "weights": {ds: sorted(how) for ds, how in out.get("weights", {}).items()},
        "notes": {name: sorted(n) for name, n in out.get("notes", {}).items()},
    }
    return cast(RunSummary, json_safe(summary))


def tagger_entry(hists: dict[str, Any], spec: Any, lost: list[str]) -> dict[str, Any]:
    """One tagger's summary by model kind: binary AUC (:func:`_binary_entry`), one-vs-rest
    AUC per class (:func:`~.multiclass.multiclass_entry`) or response and resolution
    against the baseline (:func:`~.response.regression_entry`)."""
    c = spec.contract
    if c.task == "regression":
        return regression_entry(hists, spec)
    if len(c.class_names) > 2:
        return multiclass_entry(hists, spec, lost)
    return _binary_entry(hists, spec, lost)


def _binary_entry(hists: Mapping[str, Any], spec: Any, lost: list[str]) -> dict[str, Any]:
    """One binary tagger's AUC, or why there is none.

    A ROC compares a signal sample with a background sample: when a whole dataset of the
    fileset was lost (unreadable, every chunk failed) the AUC would change meaning (say,
    the signal sample's own non-signal jets as background), so none is given; the same
    when the fileset never had a background sample (:class:`~e2e_coffea.exceptions.MissingSampleError`).
    Either way ``missing_sample`` says so and the summary lists the tagger under
    ``incomplete_taggers``. Objects without truth (``unlabelled``) never enter a ROC."""
    entry: dict[str, Any] = {"task": spec.contract.task, "classes": list(spec.contract.class_names)}
    none: dict[str, Any] = {
        "signal": [],
        "background": [],
        "auc": None,
        "auc_err": None,
        "n_jets": 0,
    }
    if lost:
        note = (
            f"no AUC: dataset(s) {lost} were lost (no entry processed); a ROC needs both its "
            f"signal and its background samples"
        )
        return {**entry, **none, "note": note, "missing_sample": "lost"}
    try:
        roc, info = roc_for_tagger(hists, spec.name, spec.contract.class_names)
    except MissingSampleError as err:
        return {**entry, **none, "note": str(err), "missing_sample": err.which}
    except BadInputError as err:
        return {**entry, **none, "note": str(err)}
    n_objects = info.pop("n_objects", None)  # weighted sums are not object counts
    entry.update(info)
    if roc.n_signal <= 0 or roc.n_background <= 0:
        which = "signal" if roc.n_signal <= 0 else "background"
        note = f"no AUC: no {which} objects with truth labels {info[which + '_labels']}"
        return {**entry, **none, "note": note}
    entry.update({
        "auc": roc.auc, "auc_err": roc.auc_err, "auc_binning_err": roc.binning_err,
        "n_jets": round(roc.n_signal + roc.n_background) if n_objects is None else n_objects,
        **roc.weighting(),
        "signal_eff_at_1pct_bkg": roc.signal_eff_at(0.01),
    })  # fmt: skip
    physical = _physical(hists, spec.name, info)
    entry["auc_headline"] = physical.get("auc_headline")
    entry["auc_unweighted"] = physical.get("auc_unweighted")
    entry["physical"] = physical
    return entry


def _physical(hists: Mapping[str, Any], tagger: str, info: Mapping[str, Any]) -> dict[str, Any]:
    """The headline entry on the (dataset, label) cells of the tagger's weighted ROC."""
    cells = {
        key: [(ds, lab) for ds in info[f"{key}_weight"] for lab in info[f"{key}_labels"]]
        for key in ("signal", "background")
    }
    return physical_entry(hists, tagger, cells["signal"], cells["background"])


def physical_for_tagger(
    hists: Mapping[str, Any], tagger: str, class_names: Sequence[str]
) -> dict[str, Any]:
    """A binary tagger's headline, unweighted, per-sample, per-nVtx and single-feature
    figures (:func:`~.physical.physical_entry`), its signal and background chosen as
    :func:`roc_for_tagger` chooses them."""
    _, info = roc_for_tagger(hists, tagger, class_names)
    return _physical(hists, tagger, info)


def plot_rocs(rocs: dict[str, RocCurve], path: str | Path) -> Path:
    """Background rejection vs signal efficiency, one curve per tagger with its 1-sigma
    band (:func:`draw_roc`), AUC in the legend."""
    import mplhep
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.style import context

    with context(mplhep.style.CMS):  # a Figure of its own: no pyplot state, no backend switch
        fig = Figure(figsize=(8, 7))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        for name, roc in rocs.items():
            draw_roc(ax, roc, label=roc_legend(name, roc))
        ax.set_yscale("log")
        ax.set_xlabel("Signal efficiency")
        ax.set_ylabel("Background rejection")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=13)
        # data=False already writes "Simulation"; passing it as the label's text too
        # printed it twice (and ``label=`` is deprecated in mplhep >= 1.0)
        mplhep.cms.label(ax=ax, data=False, rlabel="e2e-coffea, 13 TeV")
        p = Path(path)
        fig.savefig(p, dpi=100, bbox_inches="tight")
    return p


def roc_legend(name: str, roc: RocCurve) -> str:
    """``tau (AUC 0.917 ± 0.098; weighted, eff. N 11 + 1)``: the AUC and what it rests on."""
    how = "weighted, eff. N" if roc.weighted else "unweighted, N"
    n = f"{roc.n_signal:.0f} + {roc.n_background:.0f}"
    return f"{name} (AUC {roc.auc:.3f} $\\pm$ {roc.auc_err:.3f}; {how} {n})"


def draw_roc(ax: Any, roc: RocCurve, **kwargs: Any) -> Any:
    """One ROC on ``ax`` as rejection vs efficiency, up to the last cut that keeps
    background, with the rejection's 1-sigma band: where few (effective) background
    objects are left, the band shows how little the rejection there means."""
    sig, rej, lo, hi = roc.curve()
    (line,) = ax.plot(sig, rej, **kwargs)
    top = float(np.max(rej, initial=1.0)) * 10
    ax.fill_between(sig, lo, np.minimum(hi, top), color=line.get_color(), alpha=0.25, lw=0)
    return line
