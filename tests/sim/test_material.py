"""Tracker material: conversions and bremsstrahlung against their closed-form laws."""

from __future__ import annotations

from dataclasses import replace

import awkward as ak
import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.sim import simulate_particles
from e2e_coffea.sim.material import (
    apply_material,
    material_budget,
    pair_sharing,
    take_impact,
)
from e2e_coffea.sim.params import DEFAULT_PARAMS as P
from e2e_coffea.sim.particles import ParticleTable
from e2e_coffea.sim.propagation import Helix, calorimeter_impact
from e2e_coffea.sim.tracking import tracker_hits


def _gun_table(pdg: int, energy: float, eta: float, n: int, seed: int = 0) -> ParticleTable:
    """n particles (one per event) from the origin at fixed eta, random phi."""
    phi = np.random.default_rng(seed).uniform(-np.pi, np.pi, n)
    pt = energy / np.cosh(eta)
    zeros = np.zeros(n)
    return ParticleTable(
        event=np.arange(n, dtype=np.int64),
        pdg=np.full(n, pdg, dtype=np.int32),
        charge=np.full(n, {11: -1.0, -11: 1.0, 22: 0.0}[pdg]),
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=np.full(n, pt * np.sinh(eta)),
        e=np.full(n, energy),
        x=zeros,
        y=zeros.copy(),
        z=zeros.copy(),
        t=zeros.copy(),
        pileup=np.zeros(n, dtype=bool),
    )


def test_material_budget_follows_the_cms_numbers():
    """0.4 X0 at eta 0, ~1.8 X0 at |eta| 1.4, ~1 X0 at 2.5 (JINST 3 S08004 ch. 3)."""
    t = material_budget(np.array([0.0, -1.4, 1.4, 2.5]), P)
    np.testing.assert_allclose(t, [0.4, 1.8, 1.8, 1.0])


def test_switched_off_draws_nothing_and_changes_nothing(no_material):
    """Both effects off: the table passes through, the RNG is untouched, the impact and
    the tracker hits are those of the material-free detector."""
    parts = ParticleTable.concatenate(
        [_gun_table(11, 50.0, 0.3, 20), _gun_table(22, 50.0, 1.2, 20)]
    )
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    mat = apply_material(parts, no_material, rng)
    assert rng.bit_generator.state == before
    assert mat.calo is parts
    assert mat.segments is parts
    np.testing.assert_array_equal(mat.continues, np.arange(len(parts)))
    imp = calorimeter_impact(
        Helix(parts.x, parts.y, parts.z, parts.px, parts.py, parts.pz, parts.charge)
    )
    again = take_impact(imp, mat.continues)
    for k in ("x", "y", "z", "s", "length"):
        np.testing.assert_array_equal(getattr(again, k), getattr(imp, k))
    pv = np.zeros((len(parts), 3))
    a = tracker_hits(parts, pv, P, np.random.default_rng(1))
    b = tracker_hits(mat.segments, pv, P, np.random.default_rng(1), r_max=mat.segment_r_max)
    for k in ("event", "layer", "row", "col"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


@pytest.mark.parametrize("eta", [0.0, 1.3])
def test_conversion_fraction_and_depth(eta):
    """P(convert) = 1 - exp(-7/9 t); given a conversion, the depth in the (uniform)
    material is a truncated exponential: P(inner half) = (1 - e^-l/2) / (1 - e^-l)."""
    n = 4000
    parts = _gun_table(22, 50.0, eta, n)
    params = replace(P, brem=False)
    mat = apply_material(parts, params, np.random.default_rng(7))
    converted = mat.continues < 0
    lam = 7 / 9 * material_budget(np.array([eta]), params)[0]  # PDG: 7/9 X0 per X0
    p = 1.0 - np.exp(-lam)
    assert abs(converted.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    legs = mat.calo.select(np.abs(mat.calo.pdg) == 11)
    assert len(legs) == 2 * converted.sum()
    r = np.hypot(legs.x, legs.y)[legs.pdg == 11]
    assert np.all((r >= params.material_r_min) & (r <= params.material_r_max))
    inner = np.mean(r < 0.5 * (params.material_r_min + params.material_r_max))
    q = (1 - np.exp(-lam / 2)) / (1 - np.exp(-lam))
    assert abs(inner - q) < 4 * np.sqrt(q * (1 - q) / len(r))


def test_conversion_conserves_energy_and_charge():
    """Each converted photon becomes one e- and one e+ at one point, along the photon,
    whose energies sum to the photon's."""
    parts = _gun_table(22, 30.0, 0.8, 2000, seed=3)
    mat = apply_material(parts, replace(P, brem=False), np.random.default_rng(2))
    conv = np.flatnonzero(mat.continues < 0)
    legs = mat.calo.select(np.isin(mat.calo.event, conv))
    assert len(legs) == 2 * len(conv)
    np.testing.assert_allclose(np.bincount(legs.event, weights=legs.e)[conv], 30.0, rtol=1e-12)
    np.testing.assert_array_equal(np.bincount(legs.event, weights=legs.charge)[conv], 0.0)
    np.testing.assert_array_equal(np.bincount(legs.event, weights=legs.pdg)[conv], 0.0)
    for a in ("x", "y", "z"):  # both legs start at the conversion point
        v = getattr(legs, a).reshape(-1, 2)
        np.testing.assert_allclose(v[:, 0], v[:, 1])
    cos = (
        legs.px * parts.px[legs.event]
        + legs.py * parts.py[legs.event]
        + legs.pz * parts.pz[legs.event]
    ) / (legs.p * 30.0)
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    # everything else keeps its energy: the chunk's total is unchanged
    assert mat.calo.e.sum() == pytest.approx(parts.e.sum(), rel=1e-12)


def test_pair_sharing_matches_bethe_heitler_spectrum():
    """Inverse CDF of 1 - 4/3 x (1 - x): histogram of samples vs the normalised PDF."""
    x = pair_sharing(np.random.default_rng(0).random(200_000))
    hist, edges = np.histogram(x, bins=10, range=(0, 1), density=True)
    c = 0.5 * (edges[1:] + edges[:-1])
    pdf = (1 - 4 / 3 * (c * (1 - c) - 0.1**2 / 12)) * 9 / 7  # averaged over each bin
    np.testing.assert_allclose(hist, pdf, rtol=0.02)


@pytest.mark.parametrize("eta", [0.0, 1.4])
def test_brem_energy_loss_follows_bethe_heitler(eta):
    """The electron keeps a fraction z with E[z] = 2^-c = e^-t and E[z^2] = 3^-c,
    c = t / ln 2 (Bethe-Heitler); the slabs compose to the full thickness. Photons
    below 10 MeV are not emitted, which shifts the moments by < 1e-3."""
    n = 4000
    parts = _gun_table(11, 50.0, eta, n)
    params = replace(P, conversions=False)
    mat = apply_material(parts, params, np.random.default_rng(11))
    z = mat.calo.e[mat.continues] / 50.0
    t = material_budget(np.array([eta]), params)[0]
    c = t / np.log(2)
    for power, expected in ((1, 2.0**-c), (2, 3.0**-c)):
        sample = z**power
        assert abs(sample.mean() - expected) < 4 * sample.std() / np.sqrt(n) + 1e-3
    # energy conservation: electron + its photons = 50 GeV in every event
    np.testing.assert_allclose(np.bincount(mat.calo.event, weights=mat.calo.e), 50.0, rtol=1e-12)
    photons = mat.calo.pdg == 22
    assert np.all(mat.calo.e[photons] > params.brem_min_photon)


def test_brem_photon_is_tangent_to_the_helix():
    """With one slab, each photon starts on the original helix, along its tangent."""
    parts = _gun_table(11, 20.0, 0.5, 500, seed=4)
    mat = apply_material(
        parts, replace(P, conversions=False, brem_slabs=1), np.random.default_rng(3)
    )
    ph = mat.calo.select(mat.calo.pdg == 22)
    ev = ph.event
    hx = Helix(parts.x, parts.y, parts.z, parts.px, parts.py, parts.pz, parts.charge)
    xc, yc = (c[ev] for c in hx.centre())
    dx, dy = ph.x - xc, ph.y - yc
    np.testing.assert_allclose(np.hypot(dx, dy), hx.radius[ev], rtol=1e-9)
    # tangent: perpendicular to the radius vector, turning with the charge
    np.testing.assert_allclose((dx * ph.px + dy * ph.py) / (hx.radius[ev] * ph.pt), 0.0, atol=1e-9)
    r = np.hypot(ph.x, ph.y)
    assert np.all((r >= P.material_r_min) & (r <= P.material_r_max))
    # the electron continues from the same point with the rest of the energy
    ele = mat.calo.select(mat.continues[ev])
    np.testing.assert_allclose(ele.x, ph.x)
    np.testing.assert_allclose(ele.e + ph.e, 20.0, rtol=1e-12)


def test_electron_tracker_hits_once_per_layer_across_emissions():
    """Before/after each emission the electron is a separate segment: together they
    cross every barrel layer exactly once (no double hits at the emission radii)."""
    parts = _gun_table(11, 50.0, 0.2, 200, seed=5)
    params = replace(P, conversions=False, hit_efficiency=1.0)
    mat = apply_material(parts, params, np.random.default_rng(4))
    hits = tracker_hits(
        mat.segments,
        np.zeros((len(parts), 3)),
        params,
        np.random.default_rng(0),
        r_max=mat.segment_r_max,
    )
    counts = np.bincount(hits.event * 8 + hits.layer, minlength=8 * len(parts))
    np.testing.assert_array_equal(counts, 1)


def test_conversion_legs_hit_only_outer_layers():
    parts = _gun_table(22, 50.0, 0.2, 400, seed=6)
    params = replace(P, brem=False, hit_efficiency=1.0)
    mat = apply_material(parts, params, np.random.default_rng(8))
    hits = tracker_hits(
        mat.segments,
        np.zeros((len(parts), 3)),
        params,
        np.random.default_rng(0),
        r_max=mat.segment_r_max,
    )
    legs = mat.calo.select(mat.calo.pdg == 11)
    r_conv = np.full(len(parts), np.inf)
    r_conv[legs.event] = np.hypot(legs.x, legs.y)
    layer_r = np.array(geo.TRACKER_RADII_CM)[hits.layer]
    assert len(hits.event) > 0
    assert np.all(layer_r > r_conv[hits.event])
    # unconverted photons leave no hits
    assert set(hits.event.tolist()) <= set(legs.event.tolist())


def test_material_is_reproducible():
    parts = ParticleTable.concatenate(
        [_gun_table(11, 50.0, 0.3, 50), _gun_table(22, 50.0, 1.2, 50)]
    )
    a, b = (apply_material(parts, P, np.random.default_rng(9)) for _ in range(2))
    for k in ("event", "pdg", "px", "e", "x", "t"):
        np.testing.assert_array_equal(getattr(a.calo, k), getattr(b.calo, k))


def _phi_widths(chunk: dict[str, ak.Array], half_row: int = 2, half_col: int = 15) -> np.ndarray:
    """Energy-weighted RMS of the column offsets from the leading EGamma seed, in
    rows seed +- half_row and columns seed +- half_col (events with a candidate)."""
    eg, hits = chunk["EGamma"], chunk["EcalHit"]
    has = ak.to_numpy(ak.num(eg) > 0)
    seed_r = np.where(has, ak.to_numpy(ak.fill_none(ak.firsts(eg.seedRow), 0)), 0)
    seed_c = np.where(has, ak.to_numpy(ak.fill_none(ak.firsts(eg.seedCol), 0)), 0)
    ev = np.repeat(np.arange(len(hits)), ak.to_numpy(ak.num(hits)))
    row, col = ak.to_numpy(ak.flatten(hits.row)), ak.to_numpy(ak.flatten(hits.col))
    e = ak.to_numpy(ak.flatten(hits.energy)).astype(np.float64)
    d_col = (col - seed_c[ev] + 180) % 360 - 180
    inside = has[ev] & (np.abs(row - geo.EB_FIRST_ROW - seed_r[ev]) <= half_row)
    inside &= np.abs(d_col) <= half_col
    n = len(hits)
    num = np.bincount(ev[inside], weights=(e * d_col**2)[inside], minlength=n)
    den = np.bincount(ev[inside], weights=e[inside], minlength=n)
    return np.sqrt(num[has] / den[has])


def test_phi_width_electrons_vs_photons(make_gun, no_material):
    """50 GeV guns: brem widens electrons in phi beyond unconverted photons, more so
    where there is more material (|eta| 1.0-1.4, ~1.5 X0, vs |eta| < 0.4, ~0.45 X0)."""
    no_conv = replace(P, conversions=False)
    widths = {}
    for name, pdg, params, eta in (
        ("e_central", 11, P, (0.0, 0.4)),
        ("e_forward", 11, P, (1.0, 1.4)),
        ("g_central", 22, no_conv, (0.0, 0.4)),
        ("e_off", 11, no_material, (1.0, 1.4)),
    ):
        chunk = simulate_particles(
            make_gun(pdg, 50.0, 200, seed=21, eta_range=eta), rng=22, params=params
        )
        widths[name] = _phi_widths(chunk)

    def sig(a: str, b: str) -> float:
        wa, wb = widths[a], widths[b]
        err = np.hypot(wa.std() / np.sqrt(len(wa)), wb.std() / np.sqrt(len(wb)))
        return (wa.mean() - wb.mean()) / err

    assert sig("e_central", "g_central") > 4
    assert sig("e_forward", "e_central") > 4
    # without material an electron is as narrow as a photon
    assert abs(widths["e_off"].mean() - widths["g_central"].mean()) < 0.05
