"""Multi-class taggers: which objects make each class, and one-vs-rest AUCs from the
``class_score`` histograms against sklearn on the unbinned probabilities."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import roc_auc_score

from e2e_coffea.export import Contract
from e2e_coffea.hists.multiclass import class_groups, multiclass_entry, one_vs_rest, pairwise
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.processor.booking import book_class_hists, fill_class_scores


def test_truth_classes_take_their_label_from_every_sample() -> None:
    counts = {("qcd", "gluon"): 30, ("qcd", "quark"): 20, ("tau", "tau"): 10, ("qcd", "tau"): 1,
              ("tau", "quark"): 4, ("qcd", "unlabelled"): 7}  # fmt: skip
    groups, notes = class_groups(("quark", "gluon", "tau"), counts)
    assert notes == {}
    assert sorted(groups["tau"]) == [("qcd", "tau"), ("tau", "tau")]
    assert sorted(groups["quark"]) == [("qcd", "quark"), ("tau", "quark")]
    assert all(lab != "unlabelled" for cells in groups.values() for _, lab in cells)


def test_a_non_truth_class_comes_from_the_background_samples() -> None:
    counts = {("qcd", "gluon"): 30, ("qcd", "quark"): 20, ("qcd", "tau"): 1, ("tau", "tau"): 40,
              ("tau", "quark"): 4, ("ele", "electron"): 25, ("ele", "unmatched"): 3,
              ("qcd", "unlabelled"): 5}  # fmt: skip
    groups, notes = class_groups(("qcd", "electron", "tau"), counts)
    assert notes == {}
    # the tau and electron samples' other jets are not "qcd"; the QCD file's one tau is not
    # the tau class (weighted by the QCD cross-section it would outweigh the tau sample)
    assert sorted(groups["qcd"]) == [("qcd", "gluon"), ("qcd", "quark")]
    assert sorted(groups["tau"]) == [("tau", "tau")]
    assert groups["electron"] == [("ele", "electron")]


def test_two_non_truth_classes_are_ambiguous() -> None:
    counts = {("qcd", "gluon"): 30, ("tau", "tau"): 10}
    groups, notes = class_groups(("qcd", "jet", "tau"), counts)
    assert set(notes) == {"qcd", "jet"}
    assert groups["(rest)"] == [("qcd", "gluon")]  # still the taus' background


def _fill(rng: np.random.Generator, classes: tuple[str, ...]) -> tuple[dict, dict]:
    """Three samples with separable logits, filled in two chunks; returns the hists and
    the unbinned (dataset, label, probabilities) per object."""
    hists = book_class_hists()
    objs: dict[str, list] = {"dataset": [], "label": [], "p": []}
    samples = {  # label: share; the QCD file's few taus (under 5 % of all taus)
        "qcd": {"quark": 0.6, "gluon": 0.38, "tau": 0.02},
        "tau": {"tau": 0.85, "quark": 0.15},
        "ele": {"electron": 0.8, "unmatched": 0.1, "unlabelled": 0.1},
    }
    for ds, shares in samples.items():
        n = 400
        lab = rng.choice(list(shares), n, p=list(shares.values()))
        logits = rng.normal(0, 1, (n, len(classes)))
        for k, c in enumerate(classes):
            logits[:, k] += 1.5 * ((lab == c) | ((c == "qcd") & np.isin(lab, ["quark", "gluon"])))
        p = softmax(logits, axis=1)
        for part in np.array_split(np.arange(n), 2):
            fill_class_scores(hists, dataset=ds, tagger="m", labels=[LABEL_IDS[x] for x in lab[part]],
                              probabilities=p[part], class_names=classes)  # fmt: skip
        objs["dataset"] += [ds] * n
        objs["label"] += list(lab)
        objs["p"].append(p)
    return hists, {k: np.asarray(v) if k != "p" else np.concatenate(v) for k, v in objs.items()}


@pytest.mark.parametrize("classes", [("quark", "gluon", "tau"), ("qcd", "electron", "tau")])
def test_one_vs_rest_auc_agrees_with_sklearn(classes: tuple[str, ...]) -> None:
    hists, o = _fill(np.random.default_rng(5), classes)
    rocs = one_vs_rest(hists, "m", classes)
    # the groups written out by hand for these samples
    truth = [c for c in classes if c != "qcd"]
    member = {c: o["label"] == c for c in truth}
    if "qcd" in classes:  # background samples: not the tau or electron sample ...
        member["qcd"] = (o["dataset"] == "qcd") & ~np.isin(o["label"], [*truth, "unlabelled"])
        # ... and each truth class from its own sample: the QCD file's taus are in none
        own = {"tau": "tau", "electron": "ele"}
        member.update({c: member[c] & (o["dataset"] == own[c]) for c in truth})
    for k, c in enumerate(classes):
        roc, info = rocs[c]
        assert roc is not None, info
        sig = member[c]
        bkg = np.any([member[x] for x in classes if x != c], axis=0)
        assert not (sig & bkg).any()
        y = np.r_[np.ones(sig.sum()), np.zeros(bkg.sum())]
        s = np.r_[o["p"][sig, k], o["p"][bkg, k]]
        auc_sk = roc_auc_score(y, s)
        assert abs(roc.auc - auc_sk) <= roc.binning_err + 1e-12
        assert roc.n_signal == sig.sum()
        assert roc.n_background == bkg.sum()
        assert roc.auc > 0.7  # the logits separate: the comparison means something


def test_summary_entry_gives_every_class_or_why_not() -> None:
    classes = ("qcd", "muon_like", "tau")  # "muon_like" is not a label: two rest classes
    hists, _ = _fill(np.random.default_rng(6), ("qcd", "electron", "tau"))
    spec = SimpleNamespace(name="m", contract=Contract(task="classification", model_name="m",
                           channels=("ecal",), frame_size=(125, 125), class_names=classes))  # fmt: skip
    entry = multiclass_entry(hists, spec, [])
    assert "no probabilities for class(es) ['muon_like']" in entry["note"]
    good = SimpleNamespace(name="m", contract=Contract(task="classification", model_name="m",
                           channels=("ecal",), frame_size=(125, 125),
                           class_names=("qcd", "electron", "tau")))  # fmt: skip
    entry = multiclass_entry(hists, good, [])
    assert entry["auc"] is None  # the binary AUC field: multi-class figures are per class
    aucs = [entry["per_class"][c]["auc"] for c in ("qcd", "electron", "tau")]
    assert entry["auc_macro"] == pytest.approx(np.mean(aucs))
    assert entry["per_class"]["qcd"]["signal"] == ["qcd"]
    assert entry["per_class"]["tau"]["signal_labels"] == ["tau"]
    lost = multiclass_entry(hists, good, ["ele"])
    assert lost["per_class"] == {}
    assert "lost" in lost["note"]


def test_pairwise_auc_is_tau_against_each_class_alone() -> None:
    classes = ("qcd", "electron", "tau")
    hists, o = _fill(np.random.default_rng(7), classes)
    pairs = pairwise(hists, "m", classes)
    assert set(pairs) == {"tau_vs_qcd", "tau_vs_electron"}
    tau = (o["label"] == "tau") & (o["dataset"] == "tau")
    others = {
        "qcd": (o["dataset"] == "qcd") & np.isin(o["label"], ["quark", "gluon"]),
        "electron": (o["label"] == "electron") & (o["dataset"] == "ele"),
    }
    for other, member in others.items():
        y = np.r_[np.ones(tau.sum()), np.zeros(member.sum())]
        ref = roc_auc_score(y, np.r_[o["p"][tau, 2], o["p"][member, 2]])
        assert pairs[f"tau_vs_{other}"]["auc"] == pytest.approx(ref, abs=2e-3)
    # one-vs-rest for tau mixes both backgrounds: not the same figure as either pair
    rest = one_vs_rest(hists, "m", classes)["tau"][0]
    assert rest is not None
    assert all(abs(p["auc"] - rest.auc) > 1e-4 for p in pairs.values())
