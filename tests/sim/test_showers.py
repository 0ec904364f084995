"""Shower shapes, response functions and the calorimeter deposit bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.sim.params import DEFAULT_PARAMS
from e2e_coffea.sim.particles import ParticleTable
from e2e_coffea.sim.showers import (
    calorimeter_deposits,
    hadron_response,
    lateral_fractions,
)

P = DEFAULT_PARAMS
EM = ((P.em_core_weight, P.em_core_sigma), (1 - P.em_core_weight, P.em_halo_sigma))


@pytest.mark.parametrize(("half", "expected"), [(0, 0.80), (1, 0.94), (2, 0.97)])
def test_em_containment_for_central_impact(half, expected):
    """CMS ECAL TDR: ~80% / 94% / 97% of the energy in 1x1 / 3x3 / 5x5 crystals."""
    frac = lateral_fractions(np.array([0.5]), np.array([0.5]), np.ones(1), EM, 3)[0]
    inner = frac[3 - half : 4 + half, 3 - half : 4 + half].sum()
    assert inner == pytest.approx(expected, abs=0.005)
    assert frac.sum() < 1.0  # the rest leaks out of the 7x7 window


def test_lateral_fractions_match_monte_carlo():
    """Slow reference: sample the two-Gaussian profile and histogram it in cells."""
    rng = np.random.default_rng(0)
    u, v, scale = 0.2, 0.7, 1.6
    n = 400_000
    core = rng.random(n) < EM[0][0]
    sig = np.where(core, EM[0][1], EM[1][1]) * scale
    du = np.floor(u + sig * rng.standard_normal(n)).astype(int)
    dv = np.floor(v + sig * rng.standard_normal(n)).astype(int)
    ok = (np.abs(du) <= 3) & (np.abs(dv) <= 3)
    ref = np.zeros((7, 7))
    np.add.at(ref, (du[ok] + 3, dv[ok] + 3), 1.0 / n)
    frac = lateral_fractions(np.array([u]), np.array([v]), np.array([scale]), EM, 3)[0]
    np.testing.assert_allclose(frac, ref, atol=3e-3)


def test_hadron_response_is_non_compensating():
    e = np.array([1.0, 5.0, 20.0, 100.0, 1000.0])
    r = hadron_response(e, P)
    assert r[0] == pytest.approx(1 / P.e_over_h)
    assert np.all(np.diff(r) > 0)
    assert np.all((r > 0.7) & (r < 1.0))


def _table(pdg, e, eta, n=None):
    k = len(pdg)
    pt = e / np.cosh(eta)
    return ParticleTable(
        event=np.arange(k, dtype=np.int64),
        pdg=np.asarray(pdg, dtype=np.int32),
        charge=np.array([{11: -1.0, 22: 0.0, 211: 1.0, 12: 0.0, 13: -1.0}[p] for p in pdg]),
        px=pt,
        py=np.zeros(k),
        pz=pt * np.sinh(eta),
        e=np.asarray(e, dtype=float),
        x=np.zeros(k),
        y=np.zeros(k),
        z=np.zeros(k),
        t=np.zeros(k),
        pileup=np.zeros(k, dtype=bool),
    )


def test_deposits_by_particle_type():
    rng = np.random.default_rng(1)
    parts = _table([22, 12, 13, 22], [40.0, 40.0, 40.0, 40.0], np.array([0.3, 0.3, 0.3, 2.6]))
    ecal, hcal, imp = calorimeter_deposits(parts, P, rng)
    e_by_event = np.bincount(ecal.event, weights=ecal.energy, minlength=4)
    assert e_by_event[0] == pytest.approx(40 * 0.99, rel=0.03)  # photon: all in ECAL
    assert e_by_event[1] == 0  # neutrino: nothing
    assert 0.1 < e_by_event[2] < 0.6  # muon: a MIP
    assert e_by_event[3] == 0  # beyond |eta| = 2.436: outside the grid
    assert np.all(hcal.event == 2)  # only the muon reaches HCAL
    assert np.all((ecal.row >= 0) & (ecal.row < geo.ECAL_SHAPE[0]))
    assert np.all((ecal.col >= 0) & (ecal.col < geo.ECAL_SHAPE[1]))
    assert imp.reached.all()
