"""The baselines of issue 23: track counting for b tagging (with the light mistag at 70 %
b efficiency) and the calibrated calo mass of the per-m_gen-bin jet-mass report."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames.objects import object_records
from e2e_coffea.frames.track_counting import NO_DISCRIMINATOR, track_counting
from e2e_coffea.hists.btag import btag_report, mistag_at_efficiency, roc_from_values
from e2e_coffea.hists.response import binned_response, fit_calibration, mass_response_report


def _jets_and_tracks() -> ak.Array:
    # event 0: one jet at (eta 0, phi 0) with four tracks inside dR < 0.4 (one outside);
    # d0 > 0 at phi_track < phi_jet is downstream: sign(d0 sin(phi_jet - phi_track)) > 0
    # event 1: a jet with a single track (no second track: the default value)
    return ak.Array({
        "Jet_seedIeta": [[28], [28]], "Jet_seedIphi": [[36], [10]],
        "Jet_eta": [[0.0], [0.5]], "Jet_phi": [[0.0], [1.0]],
        "Track_eta": [[0.1, -0.1, 0.0, 0.2, 1.5], [0.5]],
        "Track_phi": [[-0.1, -0.2, 0.1, -0.05, 0.0], [1.1]],
        "Track_d0": [[0.01, 0.02, 0.03, 0.001, 0.05], [0.02]],
        "Track_d0sig": [[5.0, 8.0, 12.0, 1.0, 50.0], [9.0]],
    })  # fmt: skip


def test_track_counting_takes_the_second_highest_signed_significance() -> None:
    chunk = _jets_and_tracks()
    rec = object_records(chunk, "sparse", "jet")
    tc = track_counting(chunk, "sparse", rec)
    # event 0: signed significances 5, 8, -12 (upstream), 1; the 50 is outside dR < 0.4
    assert tc[0] == pytest.approx(5.0)
    assert tc[1] == NO_DISCRIMINATOR
    assert track_counting(chunk, "sparse", rec, n=1)[0] == pytest.approx(8.0)
    with pytest.raises(BadInputError, match="sparse"):
        track_counting(chunk, "e2e", rec)


def test_mistag_at_70_percent_b_efficiency() -> None:
    b = np.arange(100.0)  # cut at >= 30 keeps 70 % of b
    light = np.r_[np.zeros(90), np.full(10, 50.0)]  # 10 % of light above 30
    roc = roc_from_values(b, light)
    assert mistag_at_efficiency(roc, 0.7) == pytest.approx(0.1, abs=0.011)
    rng = np.random.default_rng(0)
    fl = np.r_[np.full(500, 5), np.full(500, 4), np.zeros(1000, int)]
    score = np.r_[rng.normal(2, 1, 500), rng.normal(1, 1, 500), rng.normal(0, 1, 1000)]
    rep = btag_report(score, fl, baseline=rng.normal(0, 1, 2000))
    assert rep["tagger"]["b_vs_light"]["auc"] > rep["tagger"]["c_vs_light"]["auc"] > 0.6
    assert abs(rep["baseline"]["b_vs_light"]["auc"] - 0.5) < 0.06
    assert 0 < rep["tagger"]["b_vs_light"]["mistag_at_70"] < 0.3


def test_binned_response_recovers_a_known_bias_and_width() -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(5, 300, 200_000)
    bias = np.where(true < 60, 1.2, 0.9)
    pred = true * bias * (1 + 0.1 * rng.standard_normal(len(true)))
    rows = binned_response(pred, true)
    assert [r["m_gen"][0] for r in rows] == [0, 30, 60, 120, 220]
    for r, want in zip(rows, (1.2, 1.2, 0.9, 0.9, 0.9), strict=True):
        assert r["median"] == pytest.approx(want, rel=0.01)
        assert r["resolution"] == pytest.approx(0.1, rel=0.05)


def test_the_calibrated_baseline_closes_on_its_training_data() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    pt, eta = rng.uniform(400, 1000, n), rng.uniform(-2.4, 2.4, n)
    true = rng.uniform(10, 250, n)
    scale = 0.7 + 0.0002 * (pt - 400) + 0.05 * np.abs(eta)  # response depends on pT, |eta|
    reco = true * scale * (1 + 0.08 * rng.standard_normal(n))
    cal = fit_calibration(reco, true, pt, eta)
    fixed = cal.apply(reco, pt, eta)
    for lo, hi in zip(cal.pt_edges[:-1], cal.pt_edges[1:], strict=True):
        for elo, ehi in zip(cal.eta_edges[:-1], cal.eta_edges[1:], strict=True):
            cell = (pt >= lo) & (pt < hi) & (np.abs(eta) >= elo) & (np.abs(eta) < ehi)
            if cell.sum() >= 20:
                assert np.median(fixed[cell] / true[cell]) == pytest.approx(1.0, abs=1e-6)
    assert np.median(reco / true) < 0.85  # raw, it was biased
    sample = np.where(np.arange(n) % 2, "top", "qcd")
    rep = mass_response_report(true, sample, {"calo (calibrated)": fixed, "raw": reco})
    assert set(rep["estimators"]["raw"]) == {"all", "qcd", "top"}
    med = [r["median"] for r in rep["estimators"]["calo (calibrated)"]["all"]]
    assert all(m == pytest.approx(1.0, abs=0.02) for m in med)


def test_the_figures_draw_the_report_and_the_baseline() -> None:
    from e2e_coffea.dashboards.object_plots import btag_roc_figure, mass_response_figure

    rng = np.random.default_rng(4)
    true = rng.uniform(5, 300, 5000)
    rep = mass_response_report(true, np.full(len(true), "top"),
                               {"model": true * 1.1, "calo": true * 0.9})  # fmt: skip
    fig = mass_response_figure(rep)
    med_ax = fig.axes[0]
    assert [line.get_label() for line in med_ax.get_lines()][:2] == ["model", "calo"]
    np.testing.assert_allclose(med_ax.get_lines()[0].get_ydata(), 1.1, rtol=1e-6)
    fl = np.r_[np.full(300, 5), np.full(300, 4), np.zeros(600, int)]
    score = np.r_[rng.normal(2, 1, 300), rng.normal(1, 1, 300), rng.normal(0, 1, 600)]
    fig = btag_roc_figure(score, fl, rng.normal(0, 1, 1200))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert sum(lab.startswith("track counting") for lab in labels) == 2
    assert sum(lab.startswith("tagger, light") for lab in labels) == 1
