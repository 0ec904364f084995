"""Multi-class taggers: one-vs-rest ROC and AUC per class, from the ``class_score`` hists.

Each class is a group of (dataset, truth label) cells. A class named after a truth label
(``tau``, ``gluon``) holds the objects with that label, from every dataset. A class that
is not a truth label (``qcd``, ``jet``) holds every other labelled object, taken from the
background samples only (those giving under 5 % of every truth class), and then each
truth class comes from its own samples only, as
:func:`~e2e_coffea.hists.summary.roc_for_tagger` does for a binary tagger's ``qcd``
class: a ttbar sample's b jet is not "qcd", and a QCD sample's rare real taus, weighted
by its cross-section, do not stand for the tau class. For class ``c`` the
ROC cuts on ``P(c)``: signal = group ``c``, background = every other class's group.
Objects with label ``unlabelled`` are in no group and never enter a ROC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import BadInputError
from ..layouts import LABEL_IDS
from .roc import RocCurve, roc_from_counts
from .samples import cell_counts, main_datasets

__all__ = ["class_groups", "multiclass_entry", "one_vs_rest", "pairwise"]

Cell = tuple[str, str]
"""(dataset, truth label)."""


def class_groups(
    class_names: Sequence[str], counts: dict[Cell, float]
) -> tuple[dict[str, list[Cell]], dict[str, str]]:
    """({class: its (dataset, label) cells}, {class: why it has no group}) from the
    objects per cell. With more than one non-truth class, which of them an object
    belongs to is undefined: those classes get no group (their objects stay background
    of the truth classes, as one "rest" group)."""
    truth = [c for c in class_names if c in LABEL_IDS and c != "unlabelled"]
    rest = [c for c in class_names if c not in truth]
    seen = [cell for cell, n in counts.items() if n > 0]
    groups: dict[str, list[Cell]] = {c: [cell for cell in seen if cell[1] == c] for c in truth}
    notes: dict[str, str] = {}
    if rest:
        samples: set[str] = set()
        for c in truth:
            samples |= set(main_datasets(_per_dataset(groups[c], counts)))
        datasets = {ds for ds, _ in seen}
        background = (datasets - samples) or datasets  # one sample only: keep it all
        cells = [
            (ds, lab) for ds, lab in seen
            if ds in background and lab not in truth and lab != "unlabelled"
        ]  # fmt: skip
        for c in truth:  # each truth class from its own samples
            own = set(main_datasets(_per_dataset(groups[c], counts)))
            groups[c] = [cell for cell in groups[c] if cell[0] in own]
        if len(rest) == 1:
            groups[rest[0]] = cells
        else:
            for c in rest:
                notes[c] = (
                    f"no ROC: classes {rest} are not truth labels, so which of them an object "
                    "belongs to is undefined"
                )
            groups["(rest)"] = cells
    return groups, notes


def _per_dataset(cells: list[Cell], counts: dict[Cell, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ds, lab in cells:
        out[ds] = out.get(ds, 0.0) + counts[(ds, lab)]
    return out


def one_vs_rest(
    hists: Mapping[str, Any], tagger: str, class_names: Sequence[str]
) -> dict[str, tuple[RocCurve | None, dict[str, Any]]]:
    """Per class: (its one-vs-rest ROC, or None, and what went in or why there is none),
    from a run's histograms (``output["hists"]``).

    ``class_score`` holds event weights; the groups (and ``info["n_objects"]``) come from
    the unweighted ``objects`` counts (see :mod:`.samples`)."""
    values, variances, datasets, labels, have, groups, notes, counts, edges = _setup(
        hists, tagger, class_names
    )
    out: dict[str, tuple[RocCurve | None, dict[str, Any]]] = {}

    def collect(cells: list[Cell], k: int) -> tuple[Any, Any]:
        s, v = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
        for ds, lab in cells:
            i, j = datasets.index(ds), labels.index(lab)
            s += values[i, j, k]
            v += variances[i, j, k]
        return s, v

    for c in class_names:
        if c in notes:
            out[c] = (None, {"note": notes[c]})
            continue
        sig_cells = groups[c]
        bkg_cells = [cell for other, cells in groups.items() if other != c for cell in cells]
        info: dict[str, Any] = {
            "signal": main_datasets(_per_dataset(sig_cells, counts)),
            "background": main_datasets(_per_dataset(bkg_cells, counts)),
            "signal_labels": sorted({lab for _, lab in sig_cells}),
            "background_labels": sorted({lab for _, lab in bkg_cells}),
            "n_objects": round(sum(counts[cell] for cell in (*sig_cells, *bkg_cells))),
        }
        k = have.index(c)
        s, s_var = collect(sig_cells, k)
        b, b_var = collect(bkg_cells, k)
        if s.sum() <= 0 or b.sum() <= 0:
            which = "signal" if s.sum() <= 0 else "background"
            info["note"] = f"no AUC: no {which} objects for class {c!r}"
            out[c] = (None, info)
            continue
        out[c] = (roc_from_counts(s, b, edges, signal_var=s_var, background_var=b_var), info)
    return out


def _setup(hists: Mapping[str, Any], tagger: str, class_names: Sequence[str]) -> Any:
    """The tagger's class probabilities as arrays, with the class groups (see
    :func:`class_groups`), shared by :func:`one_vs_rest` and :func:`pairwise`."""
    if "class_score" not in hists:
        msg = "the output holds no 'class_score' histogram"
        raise BadInputError(msg)
    class_score, objects = hists["class_score"], hists.get("objects")
    if tagger not in list(class_score.axes["tagger"]):
        msg = f"no class probabilities for tagger {tagger!r} (have {list(class_score.axes['tagger'])})"
        raise BadInputError(msg)
    h = class_score[{"tagger": tagger}]
    datasets, labels = list(h.axes["dataset"]), list(h.axes["label"])
    have = list(h.axes["class"])
    missing = [c for c in class_names if c not in have]
    if missing:
        msg = f"tagger {tagger!r}: no probabilities for class(es) {missing} (have {have})"
        raise BadInputError(msg)
    values = np.asarray(h.values(), dtype=np.float64)  # (dataset, label, class, score)
    variances = np.asarray(h.variances(), dtype=np.float64)
    k0 = have.index(class_names[0])
    weighted = {
        (ds, lab): float(values[i, j, k0].sum())
        for i, ds in enumerate(datasets)
        for j, lab in enumerate(labels)
    }
    unweighted = cell_counts(objects, tagger)
    counts: dict[Cell, float] = (
        weighted if unweighted is None
        else {cell: float(unweighted.get(cell, 0)) if w > 0 else 0.0 for cell, w in weighted.items()}
    )  # fmt: skip
    groups, notes = class_groups(class_names, counts)
    edges = h.axes["score"].edges
    return values, variances, datasets, labels, have, groups, notes, counts, edges


def pairwise(
    hists: Mapping[str, Any], tagger: str, class_names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The positive (last) class against each other class alone, cutting on the positive
    class's probability: ``tau_vs_qcd``, ``tau_vs_electron``. Unlike one-vs-rest, a
    trivially separated class (electrons for a tau tagger) cannot lift the figure of the
    hard one. Background weighted as the score histograms are (cross-section per event);
    no pT matching (``class_score`` has no pT axis)."""
    values, variances, datasets, labels, have, groups, notes, _counts, edges = _setup(
        hists, tagger, class_names
    )
    pos = class_names[-1]
    k = have.index(pos)
    out: dict[str, dict[str, Any]] = {}

    def collect(cells: list[Cell]) -> tuple[Any, Any]:
        s, v = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
        for ds, lab in cells:
            i, j = datasets.index(ds), labels.index(lab)
            s += values[i, j, k]
            v += variances[i, j, k]
        return s, v

    for other in class_names[:-1]:
        key = f"{pos}_vs_{other}"
        if pos in notes or other in notes:
            out[key] = {"auc": None, "note": notes.get(pos) or notes.get(other)}
            continue
        s, s_var = collect(groups.get(pos, []))
        b, b_var = collect(groups.get(other, []))
        if s.sum() <= 0 or b.sum() <= 0:
            out[key] = {
                "auc": None,
                "note": f"no AUC: no objects for class {other if s.sum() > 0 else pos!r}",
            }
            continue
        roc = roc_from_counts(s, b, edges, signal_var=s_var, background_var=b_var)
        out[key] = {"auc": roc.auc, "auc_err": roc.auc_err, **roc.weighting(),
                    "signal_eff_at_1pct_bkg": roc.signal_eff_at(0.01),
                    "signal_eff_at_10pct_bkg": roc.signal_eff_at(0.10)}  # fmt: skip
    return out


def multiclass_entry(hists: dict[str, Any], spec: Any, lost: list[str]) -> dict[str, Any]:
    """summary.json's entry of a multi-class tagger: one-vs-rest figures per class."""
    names = list(spec.contract.class_names)
    entry: dict[str, Any] = {
        "task": spec.contract.task, "classes": names, "auc": None, "auc_macro": None,
        "n_jets": 0, "per_class": {},
    }  # fmt: skip
    if lost:
        entry["note"] = (
            f"no AUC: dataset(s) {lost} were lost (no entry processed); a ROC needs both its "
            "signal and its background samples"
        )
        return entry
    try:
        rocs = one_vs_rest(hists, spec.name, names)
    except (BadInputError, KeyError) as err:
        entry["note"] = f"no AUC: {err}"
        return entry
    aucs = []
    for c, (roc, info) in rocs.items():
        n_objects = info.pop("n_objects", 0)  # weighted sums are not object counts
        if roc is None:
            entry["per_class"][c] = {**info, "auc": None, "auc_err": None, "n_jets": 0}
            continue
        aucs.append(roc.auc)
        entry["per_class"][c] = {
            **info, "auc": roc.auc, "auc_err": roc.auc_err, "auc_binning_err": roc.binning_err,
            "n_jets": n_objects, **roc.weighting(),
            "signal_eff_at_1pct_bkg": roc.signal_eff_at(0.01),
        }  # fmt: skip
    entry["n_jets"] = max((v["n_jets"] for v in entry["per_class"].values()), default=0)
    if len(aucs) == len(names):
        entry["auc_macro"] = float(np.mean(aucs))
    entry["pairwise"] = pairwise(hists, spec.name, names)
    return entry
