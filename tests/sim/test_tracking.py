"""Track reconstruction and tracker hits."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.sim.params import DEFAULT_PARAMS
from e2e_coffea.sim.particles import ParticleTable
from e2e_coffea.sim.tracking import LAYER_HALF_LENGTH_CM, impact_resolution, tracker_hits


def _expected_rel_pt(pt, eta):
    p = DEFAULT_PARAMS
    rel = np.hypot(p.track_pt_a * pt, p.track_pt_b)
    return rel * (1 + np.maximum(np.abs(eta) - 0.9, 0))


def test_pt_resolution_is_cms_like():
    # ~1.5-2% at 100 GeV and < 1% at 1-10 GeV in the barrel [JINST 9 P10009 fig. 14]
    assert 0.015 <= _expected_rel_pt(100.0, 0.0) <= 0.02
    assert _expected_rel_pt(5.0, 0.0) < 0.01


def test_track_pt_resolution_and_pulls(pion_gun):
    trk = pion_gun["Track"]
    gen = pion_gun["GenPart"]
    has = ak.num(trk) == 1
    pt_true = ak.to_numpy(gen.pt[has][:, 0])
    eta_true = ak.to_numpy(gen.eta[has][:, 0])
    pt_reco = ak.to_numpy(trk.pt[has][:, 0])
    assert 0.88 < np.mean(has) < 0.99  # 95% efficiency above 1 GeV
    # curvature is smeared: (pT_true / pT_reco - 1) / sigma_rel is a unit Gaussian
    pull = (pt_true / pt_reco - 1) / _expected_rel_pt(pt_true, eta_true)
    assert abs(np.mean(pull)) < 0.2
    assert 0.85 < np.std(pull) < 1.15
    rel = np.std(pt_reco / pt_true)
    assert 0.005 < rel < 0.02


def test_prompt_impact_parameter_significance_is_unit_gaussian(pion_gun):
    trk = pion_gun["Track"]
    for field in ("d0sig", "dzsig"):
        x = ak.to_numpy(ak.flatten(trk[field]))
        assert abs(np.mean(x)) < 0.2
        assert 0.85 < np.std(x) < 1.15
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(trk.d0 / trk.d0sig)),
        impact_resolution(
            ak.to_numpy(ak.flatten(trk.pt)), ak.to_numpy(ak.flatten(trk.eta)), DEFAULT_PARAMS
        )[0],
        rtol=1e-4,
    )


def test_track_ecal_cell_matches_eta_phi(pion_gun):
    trk = ak.flatten(pion_gun["Track"])
    ok = trk.row >= 0
    assert ak.all(trk.row[ok] == geo.row_of_eta(ak.to_numpy(trk.etaAtEcal[ok])))
    assert ak.all(trk.col[ok] == geo.col_of_phi(ak.to_numpy(trk.phiAtEcal[ok])))
    # 50 GeV tracks barely bend: the ECAL cell is close to the track direction
    assert np.median(np.abs(ak.to_numpy(trk.etaAtEcal - trk.eta))) < 0.01


def _one_particle(x, y, z, pt, eta, q=1.0, n=1):
    return ParticleTable(
        event=np.arange(n, dtype=np.int64),
        pdg=np.full(n, 211, dtype=np.int32),
        charge=np.full(n, q),
        px=np.full(n, pt),
        py=np.zeros(n),
        pz=np.full(n, pt * np.sinh(eta)),
        e=np.full(n, pt * np.cosh(eta)),
        x=np.full(n, x),
        y=np.full(n, y),
        z=np.full(n, z),
        t=np.zeros(n),
        pileup=np.zeros(n, dtype=bool),
    )


def test_tracker_hits_respect_production_radius_and_length():
    rng = np.random.default_rng(0)
    pv = np.zeros((1, 3))
    central = tracker_hits(_one_particle(0, 0, 0, 10.0, 0.1), pv, DEFAULT_PARAMS, rng)
    layers = central.layer.tolist()
    assert len(set(layers)) == len(layers) >= 6  # one hit per layer, 99% efficient
    displaced = tracker_hits(_one_particle(20.0, 0, 0, 10.0, 0.1), pv, DEFAULT_PARAMS, rng)
    assert set(displaced.layer.tolist()) <= {4, 5, 6, 7}  # only layers beyond r = 20 cm
    forward = tracker_hits(_one_particle(0, 0, 0, 10.0, 2.0), pv, DEFAULT_PARAMS, rng)
    # at eta = 2 the track leaves |z| < 26.5 cm before BPIX3 (r = 10.9: z = 39.5)
    radii = np.array(geo.TRACKER_RADII_CM)
    allowed = np.flatnonzero(radii * np.sinh(2.0) <= np.array(LAYER_HALF_LENGTH_CM))
    assert set(forward.layer.tolist()) <= set(allowed.tolist())


def test_tracker_hits_seen_from_pv():
    rng = np.random.default_rng(1)
    pv = np.array([[0.0, 0.0, 10.0]])
    hits = tracker_hits(_one_particle(0, 0, 10.0, 200.0, 0.5), pv, DEFAULT_PARAMS, rng)
    # a stiff track from the PV: every layer sees it at the same eta row (0.5 from PV)
    assert set(hits.row.tolist()) == {int(geo.row_of_eta(0.5))}


@pytest.mark.parametrize("q", [1.0, -1.0])
def test_low_pt_loopers_stay_inside(q):
    rng = np.random.default_rng(2)
    hits = tracker_hits(
        _one_particle(0, 0, 0, 0.1, 0.0, q=q), np.zeros((1, 3)), DEFAULT_PARAMS, rng
    )
    # 2R = 2 * 100 * 0.1 / (0.2998 * 3.8) = 17.6 cm: BPIX1-4 only
    assert set(hits.layer.tolist()) <= {0, 1, 2, 3}
