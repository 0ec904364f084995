"""Physics validation: responses and resolutions the detector must reproduce."""

from __future__ import annotations

import awkward as ak
import numpy as np

from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.sim.jets import best_match, delta_r
from e2e_coffea.sim.particles import pairs_by_event


def _e5x5_over_e(gun) -> np.ndarray:
    eg = gun["EGamma"]
    one = ak.num(eg) == 1
    return ak.to_numpy(eg.energy[one][:, 0]) / 50.0


def test_electron_energy_response_and_resolution(electron_gun_no_material):
    """Intrinsic ECAL response, so without tracker material (bremsstrahlung would add a
    low tail, next test): E5x5 / E ~ 0.94 from lateral leakage and zero suppression;
    sigma/E at 50 GeV is 2.8%/sqrt(50) + 0.3% + noise + impact-point containment, ~1%."""
    ratio = _e5x5_over_e(electron_gun_no_material)
    assert 0.90 < np.median(ratio) < 0.99
    assert 0.003 < np.std(ratio) < 0.02


def test_brem_gives_electron_response_a_low_tail(electron_gun, electron_gun_no_material):
    """With tracker material, brem photons and the post-brem electron (bending more)
    land partly outside the 5x5 window: the peak stays, a low tail appears (physical;
    CMS recovers it with superclusters, which we do not build)."""
    with_brem, without = _e5x5_over_e(electron_gun), _e5x5_over_e(electron_gun_no_material)
    assert 0.88 < np.median(with_brem) < 0.99
    assert abs(np.median(with_brem) - np.median(without)) < 0.02
    tail, tail_ref = np.mean(with_brem < 0.85), np.mean(without < 0.85)
    assert tail > tail_ref + 0.02
    assert tail < 0.3


def test_charged_pion_response_and_resolution(pion_gun):
    """Non-compensating: pi/e ~ 0.85 at 50 GeV; sigma/E ~ 100%/sqrt(E) + 5% ~ 15%."""
    total = (
        ak.to_numpy(
            ak.sum(pion_gun["EcalHit"].energy, axis=1) + ak.sum(pion_gun["HcalHit"].energy, axis=1)
        )
        / 50.0
    )
    assert 0.75 < np.mean(total) < 0.95
    assert 0.08 < np.std(total) / np.mean(total) < 0.25
    hcal = ak.to_numpy(ak.sum(pion_gun["HcalHit"].energy, axis=1)) / 50.0
    assert 0.3 < np.mean(hcal) < 0.8  # most hadronic energy ends in HCAL


def _flat(coll: ak.Array) -> dict[str, np.ndarray]:
    out = {f: ak.to_numpy(ak.flatten(coll[f])) for f in coll.fields}
    out["event"] = np.repeat(np.arange(len(coll)), ak.to_numpy(ak.num(coll)))
    return out


def test_electron_e_over_p(electron_chunk):
    """Z -> ee: ECAL energy of the electron cluster over its track momentum ~ 1."""
    eg = _flat(electron_chunk["EGamma"])
    trk = _flat(electron_chunk["Track"])
    ele = eg["label"] == LABEL_IDS["electron"]
    n = len(electron_chunk["event"])
    match = best_match(
        eg["event"][ele],
        eg["eta"][ele],
        eg["phi"][ele],
        trk["event"],
        trk["eta"],
        trk["phi"],
        n,
        0.05,
    )
    ok = match >= 0
    p = trk["pt"][match[ok]] * np.cosh(trk["eta"][match[ok]])
    e_over_p = eg["energy"][ele][ok] / p
    assert len(e_over_p) > 40
    assert 0.85 < np.median(e_over_p) < 1.05


def test_jet_response(qcd_chunk):
    """Calo jets: reco / gen pT below one (non-compensation, thresholds), ~0.7."""
    j = qcd_chunk["Jet"]
    matched = j.genPt > 0
    resp = ak.to_numpy(ak.flatten(j.pt[matched] / j.genPt[matched]))
    assert len(resp) > 50
    assert 0.6 < np.median(resp) < 1.0
    assert np.std(resp) < 0.35
    assert np.mean(ak.to_numpy(ak.flatten(matched))) > 0.8


def _displaced_fraction(chunk, labels):
    """Fraction of tracks (pT > 1 GeV, dR < 0.4 of a jet with one of ``labels``) with
    |d0 / sigma(d0)| > 3."""
    jet, trk = _flat(chunk["Jet"]), _flat(chunk["Track"])
    sel = np.isin(jet["label"], labels)
    hard = trk["pt"] > 1.0
    ij, it = pairs_by_event(jet["event"][sel], trk["event"][hard], len(chunk["event"]))
    dr = delta_r(
        jet["eta"][sel][ij], jet["phi"][sel][ij], trk["eta"][hard][it], trk["phi"][hard][it]
    )
    sig = trk["d0sig"][hard][it[dr < 0.4]]
    return np.mean(np.abs(sig) > 3), len(sig)


def test_tau_tracks_are_displaced(tau_chunk, qcd_chunk):
    """tau (c tau = 87 um) jets have many more |d0|/sigma > 3 tracks than light jets."""
    f_tau, n_tau = _displaced_fraction(tau_chunk, [LABEL_IDS["tau"]])
    f_light, n_light = _displaced_fraction(qcd_chunk, [LABEL_IDS["quark"], LABEL_IDS["gluon"]])
    assert n_tau > 50
    assert n_light > 200
    assert f_tau > 0.15
    assert f_light < 0.10
    assert f_tau > 2.5 * f_light
