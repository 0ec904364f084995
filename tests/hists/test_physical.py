"""The physical headline: weights against an independent reference, per-bin sums against
the fileset's cross-sections, and pT-matching closure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from e2e_coffea.hists.physical import match_signal_pt, physical_entry
from e2e_coffea.processor.booking import (
    MATCH_PT_EDGES,
    book_score_hists,
    fill_features,
    fill_scores,
)
from e2e_coffea.processor.features import to_unit
from e2e_coffea.processor.weights import PB_PER_INV_FB, event_weights

LUMI_FB = 2.0
BACKGROUNDS = {"qcd_lo": (5.0e5, 400), "qcd_hi": (2.0e3, 300)}
"""dataset -> (xsec pb, events): a soft, frequent bin and a hard, rare one."""


def _sample(seed: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    """Signal (flat pT, higher scores) and two background datasets (soft and hard pT,
    each weighted by xsec x lumi / events), filled into the run's histograms; also the
    unbinned objects for the reference."""
    rng = np.random.default_rng(seed)
    hists = book_score_hists()
    objects: dict[str, Any] = {}
    n = 500
    pt = rng.uniform(20, 300, n)
    score = np.clip(rng.normal(0.6, 0.15, n) + 0.0005 * pt, 0, 0.999)
    objects["tau"] = (pt, score, np.ones(n), 2)
    for ds, (xsec, nev) in BACKGROUNDS.items():
        lo, hi = (20, 80) if ds == "qcd_lo" else (100, 500)
        pt = rng.uniform(lo, hi, nev)
        score = np.clip(rng.normal(0.4, 0.15, nev) + 0.0004 * pt, 0, 0.999)
        w = event_weights({"xsec_pb": xsec, "nevents": nev}, nev, LUMI_FB).weights
        assert w is not None
        objects[ds] = (pt, score, w, 0)
    for ds, (pt, score, w, label) in objects.items():
        labels = np.full(len(pt), label)
        fill_scores(hists, dataset=ds, tagger="t", labels=labels, scores=score, pt=pt,
                    eta=np.zeros(len(pt)), weight=w, nvtx=np.full(len(pt), 1.0))  # fmt: skip
        fill_features(hists, dataset=ds, tagger="t", labels=labels, pt=pt, weight=w,
                      features={"pt": to_unit("pt", pt)})  # fmt: skip
        hists["objects"].fill(dataset=ds, label=np.array(["tau" if label == 2 else "quark"] * len(pt)),
                              tagger="t")  # fmt: skip
    return hists, objects


SIGNAL = [("tau", "tau")]
BACKGROUND = [(ds, "quark") for ds in BACKGROUNDS]


def _pt_bin(pt: Any) -> Any:
    return np.digitize(pt, MATCH_PT_EDGES)  # 0: underflow ... len(edges): overflow


def test_headline_equals_sklearn_on_the_matched_weights() -> None:
    hists, obj = _sample()
    entry = physical_entry(hists, "t", SIGNAL, BACKGROUND)
    # the reference: unbinned scores, the signal reweighted to the background's pT by hand
    s_pt, s_score, _, _ = obj["tau"]
    b_pt = np.concatenate([obj[ds][0] for ds in BACKGROUNDS])
    b_score = np.concatenate([obj[ds][1] for ds in BACKGROUNDS])
    b_w = np.concatenate([obj[ds][2] for ds in BACKGROUNDS])
    nb = len(MATCH_PT_EDGES) + 1
    s_hist = np.bincount(_pt_bin(s_pt), minlength=nb) / len(s_pt)
    b_hist = np.bincount(_pt_bin(b_pt), weights=b_w, minlength=nb) / b_w.sum()
    s_w = (b_hist / np.where(s_hist > 0, s_hist, 1))[_pt_bin(s_pt)]
    y = np.r_[np.ones(len(s_pt)), np.zeros(len(b_pt))]
    ref = roc_auc_score(y, np.r_[s_score, b_score], sample_weight=np.r_[s_w, b_w])
    assert entry["auc_headline"] == pytest.approx(ref, abs=2e-3)  # 1000 score bins
    ref_unw = roc_auc_score(y, np.r_[s_score, b_score])
    assert entry["auc_unweighted"] == pytest.approx(ref_unw, abs=2e-3)
    assert entry["unweighted_exact"] is True
    # the three differ: the matching and the weights both matter in this sample
    plain = roc_auc_score(y, np.r_[s_score, b_score], sample_weight=np.r_[np.ones(len(s_pt)), b_w])
    assert abs(ref - plain) > 0.01
    assert abs(ref - ref_unw) > 0.01
    # per background dataset: the signal matched to that dataset's pT
    for ds in BACKGROUNDS:
        pt, score, w, _ = obj[ds]
        d_hist = np.bincount(_pt_bin(pt), weights=w, minlength=nb) / w.sum()
        sw = (d_hist / np.where(s_hist > 0, s_hist, 1))[_pt_bin(s_pt)]
        y_d = np.r_[np.ones(len(s_pt)), np.zeros(len(pt))]
        ref_d = roc_auc_score(y_d, np.r_[s_score, score], sample_weight=np.r_[sw, w])
        assert entry["per_background_dataset"][ds]["auc"] == pytest.approx(ref_d, abs=2e-3)
    assert set(entry["per_nvtx"]) == {"1"}
    assert 0 < entry["signal_eff_at_1pct_bkg"] < entry["signal_eff_at_10pct_bkg"] < 1
    # pT alone: unweighted it separates; matched to the background's pT, hardly
    pt_base = entry["baselines"]["pt"]
    ref_pt = roc_auc_score(y, np.r_[s_pt, b_pt])
    assert pt_base["auc_unweighted"] == pytest.approx(max(ref_pt, 1 - ref_pt), abs=3e-3)
    assert pt_base["auc_headline"] < pt_base["auc_unweighted"] - 0.03


def test_weights_sum_to_cross_section_times_lumi() -> None:
    hists, _obj = _sample()
    h = hists["score_match"][{"tagger": "t"}]
    for ds, (xsec, _) in BACKGROUNDS.items():
        total = h[{"dataset": ds}].sum(flow=True).value  # one object per event here
        assert total == pytest.approx(xsec * LUMI_FB * PB_PER_INV_FB, rel=1e-9)
    # a pT-hat mixture: each bin's events sum to that bin's cross-section x lumi
    meta = {"xsec_pb_per_bin": [1.0e5, 3.0e2], "nevents_per_bin": [7, 5]}
    numbers = np.arange(1, 13)  # round robin: bin (event - 1) % 2, 6 events each
    meta["nevents_per_bin"] = [6, 6]
    w = event_weights(meta, 12, LUMI_FB, numbers).weights
    assert w is not None
    for b, xsec in enumerate(meta["xsec_pb_per_bin"]):
        assert w[(numbers - 1) % 2 == b].sum() == pytest.approx(xsec * LUMI_FB * PB_PER_INV_FB)


def test_pt_matching_closure() -> None:
    hists, _ = _sample()
    h = hists["score_match"][{"tagger": "t"}]

    def grid(cells: list[tuple[str, str]]) -> tuple[Any, Any]:
        v = sum(
            np.asarray(h[{"dataset": d, "label": lab}].values(flow=True))[1:-1] for d, lab in cells
        )
        w2 = sum(
            np.asarray(h[{"dataset": d, "label": lab}].variances(flow=True))[1:-1]
            for d, lab in cells
        )
        return v, w2

    s, s_var = grid(SIGNAL)
    b, _ = grid(BACKGROUND)
    matched, _, uncovered = match_signal_pt(s, s_var, b)
    b_pt = b.sum(axis=0) / b.sum()
    covered = s.sum(axis=0) > 0
    # where there is signal, its pT shape is the background's, to rounding
    np.testing.assert_allclose(matched.sum(axis=0)[covered] / s.sum(), b_pt[covered], rtol=1e-9)
    assert not matched.sum(axis=0)[~covered].any()
    # the hard background reaches past the signal's 300 GeV: that share is reported
    assert uncovered == pytest.approx(b_pt[~covered].sum())
    assert uncovered > 0
    assert matched.sum() == pytest.approx(s.sum() * (1 - uncovered))
    # before matching they differ: the closure is not trivial
    assert np.abs(s.sum(axis=0) / s.sum() - b_pt).max() > 0.1


def test_unit_weights_are_named() -> None:
    hists = book_score_hists()
    for ds, label, mean in (("tau", 2, 0.6), ("qcd_lo", 0, 0.4)):
        rng = np.random.default_rng(label)
        fill_scores(hists, dataset=ds, tagger="t", labels=np.full(50, label),
                    scores=np.clip(rng.normal(mean, 0.1, 50), 0, 0.99),
                    pt=rng.uniform(20, 90, 50), eta=np.zeros(50))  # fmt: skip
    entry = physical_entry(hists, "t", SIGNAL, [("qcd_lo", "quark")])
    assert "unit weights" in entry["note"]
    weighted, _ = _sample()
    assert "note" not in physical_entry(weighted, "t", SIGNAL, BACKGROUND)


@pytest.mark.parametrize("task", ["tau", "qg", "top", "btag", "electron"])
def test_match_bins_resolve_every_task_range(task: str) -> None:
    """pT matching needs several bins inside a task's range: with one bin over the top
    task's 400-1000 GeV FatJets, its headline silently equalled the unweighted AUC."""
    from e2e_coffea.train.tasks.definitions import TASKS

    rng = TASKS[task].range
    inside = [e for e in MATCH_PT_EDGES if rng.pt_min <= e <= rng.pt_max]
    assert len(inside) >= 5, (task, inside)


def test_unweighted_auc_is_exact_when_a_dataset_spans_pthat_bins() -> None:
    """One background dataset generated across two pT-hat bins carries two weights per
    cell (as ``generate --process gluon`` writes it): no per-cell factor divides them out,
    so the unweighted AUC comes from the unit-weight ``score_counts`` histogram."""
    rng = np.random.default_rng(7)
    hists = book_score_hists()
    n = 600
    s_pt, b_pt = rng.uniform(70, 340, n), rng.uniform(70, 340, n)
    s_score = np.clip(rng.normal(0.55, 0.15, n), 0, 0.999)
    hard = rng.random(n) < 0.5  # the rare hard bin: its jets score like the signal
    b_score = np.clip(np.where(hard, rng.normal(0.6, 0.15, n), rng.normal(0.4, 0.15, n)), 0, 0.999)
    b_w = np.where(hard, 1.0, 200.0)
    for ds, pt, score, w, label in (("quark", s_pt, s_score, np.ones(n), 2),
                                    ("gluon", b_pt, b_score, b_w, 0)):  # fmt: skip
        fill_scores(hists, dataset=ds, tagger="t", labels=np.full(n, label), scores=score,
                    pt=pt, eta=np.zeros(n), weight=w)  # fmt: skip
        hists["objects"].fill(dataset=ds, label=np.array([("tau" if label == 2 else "quark")] * n),
                              tagger="t")  # fmt: skip
    cells = ([("quark", "tau")], [("gluon", "quark")])
    entry = physical_entry(hists, "t", *cells)
    y = np.r_[np.ones(n), np.zeros(n)]
    ref_unw = roc_auc_score(y, np.r_[s_score, b_score])
    ref_w = roc_auc_score(y, np.r_[s_score, b_score], sample_weight=np.r_[np.ones(n), b_w])
    assert abs(ref_unw - ref_w) > 0.05  # the weights matter in this sample
    assert entry["auc_unweighted"] == pytest.approx(ref_unw, abs=2e-3)
    assert entry["unweighted_exact"] is True
    # an output booked before score_counts existed: the old estimate, and it says so
    del hists["score_counts"]
    old = physical_entry(hists, "t", *cells)
    assert old["unweighted_exact"] is False
    assert abs(old["auc_unweighted"] - ref_unw) > 0.02
