"""Closed-form helix/straight-line propagation against a slow step-by-step reference."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.sim.propagation import (
    C_GEV_PER_T_M,
    Helix,
    calorimeter_impact,
    path_to_radius,
    point_of_closest_approach,
    position_at,
)


def step_trajectory(x0, y0, z0, px, py, pz, q, s_max, ds=0.01):
    """Integrate dx/ds = cos(phi), dy/ds = sin(phi), dphi/ds = -q c B / pT (Lorentz
    force for B along +z), with midpoint steps. Returns (n_steps, n) arrays."""
    pt = np.hypot(px, py)
    curv = -q * C_GEV_PER_T_M * geo.B_FIELD_T / (100.0 * pt)  # 1/cm
    steps = int(s_max / ds) + 1
    s = np.arange(steps) * ds
    phi0 = np.arctan2(py, px)
    phi_mid = phi0[None, :] + curv[None, :] * (s[:, None] + 0.5 * ds)
    x = x0 + np.concatenate([np.zeros((1, len(px))), np.cumsum(np.cos(phi_mid) * ds, 0)[:-1]])
    y = y0 + np.concatenate([np.zeros((1, len(px))), np.cumsum(np.sin(phi_mid) * ds, 0)[:-1]])
    z = z0 + s[:, None] * (pz / pt)[None, :]
    return s, x, y, z


@pytest.fixture
def tracks():
    rng = np.random.default_rng(7)
    n = 40
    pt = rng.uniform(0.8, 20.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    eta = rng.uniform(-1.0, 1.0, n)
    q = rng.choice([-1.0, 1.0], n)
    x0, y0, z0 = rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.normal(0, 3, n)
    return Helix(x0, y0, z0, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), q)


def test_radius_crossing_matches_stepper(tracks):
    rho = 60.8
    s = path_to_radius(tracks, rho)
    x, y, z = position_at(tracks, s)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(np.hypot(x, y), rho, atol=1e-6)
    s_ref, xr, yr, zr = step_trajectory(
        tracks.x0, tracks.y0, tracks.z0, tracks.px, tracks.py, tracks.pz, tracks.charge, s_max=300
    )
    r = np.hypot(xr, yr)
    first = np.argmax(r >= rho, axis=0)
    cols = np.arange(len(first))
    np.testing.assert_allclose(s, s_ref[first], atol=0.02)
    np.testing.assert_allclose(x, xr[first, cols], atol=0.05)
    np.testing.assert_allclose(y, yr[first, cols], atol=0.05)
    np.testing.assert_allclose(z, zr[first, cols], atol=0.2)


def test_loopers_never_reach_ecal():
    # 2R < 129 cm <=> pT < 0.2998 * 3.8 * 0.645 ~ 0.735 GeV, from the origin
    pt = np.array([0.3, 0.7, 0.76, 5.0])
    hx = Helix(np.zeros(4), np.zeros(4), np.zeros(4), pt, np.zeros(4), np.zeros(4), np.ones(4))
    s = path_to_radius(hx, geo.ECAL_RADIUS_CM)
    assert list(np.isfinite(s)) == [False, False, True, True]


def test_neutral_is_straight_and_impact_is_fixip():
    hx = Helix(
        np.array([1.0]),
        np.array([-2.0]),
        np.array([3.0]),
        np.array([3.0]),
        np.array([4.0]),
        np.array([5.0]),
        np.array([0.0]),
    )
    imp = calorimeter_impact(hx)
    assert np.hypot(imp.x, imp.y)[0] == pytest.approx(geo.ECAL_RADIUS_CM)
    # the point lies on the line p0 + t * (3, 4, 5)
    t = (imp.x[0] - 1.0) / 3.0
    assert imp.y[0] == pytest.approx(-2.0 + 4 * t)
    assert imp.z[0] == pytest.approx(3.0 + 5 * t)
    eta, phi = imp.eta_phi()  # seen from the origin, not from the production point
    assert phi[0] == pytest.approx(np.arctan2(imp.y[0], imp.x[0]))
    assert eta[0] == pytest.approx(np.arcsinh(imp.z[0] / geo.ECAL_RADIUS_CM))


def test_forward_particles_hit_the_endcap():
    eta = np.array([2.0, -2.3])
    pt = np.array([10.0, 10.0])
    hx = Helix(
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        pt,
        np.zeros(2),
        pt * np.sinh(eta),
        np.array([1.0, 0.0]),
    )
    imp = calorimeter_impact(hx)
    np.testing.assert_allclose(np.abs(imp.z), geo.ECAL_ENDCAP_Z_CM)
    assert np.all(np.hypot(imp.x, imp.y) < geo.ECAL_RADIUS_CM)


def test_pca_matches_brute_force(tracks):
    rng = np.random.default_rng(3)
    n = len(tracks.x0)
    xv, yv, zv = rng.normal(0, 0.3, n), rng.normal(0, 0.3, n), rng.normal(0, 2, n)
    d0, dz, phi = point_of_closest_approach(tracks, xv, yv, zv)
    # brute force: closest transverse approach over the trajectory, backwards too
    back = Helix(
        tracks.x0, tracks.y0, tracks.z0, -tracks.px, -tracks.py, -tracks.pz, -tracks.charge
    )
    _s_f, xf, yf, zf = step_trajectory(
        tracks.x0,
        tracks.y0,
        tracks.z0,
        tracks.px,
        tracks.py,
        tracks.pz,
        tracks.charge,
        5.0,
        ds=1e-3,
    )
    _, xb, yb, zb = step_trajectory(
        back.x0, back.y0, back.z0, back.px, back.py, back.pz, back.charge, 5.0, ds=1e-3
    )
    xs, ys, zs = (np.concatenate([a, b]) for a, b in ((xf, xb), (yf, yb), (zf, zb)))
    dist = np.hypot(xs - xv, ys - yv)
    k = np.argmin(dist, axis=0)
    cols = np.arange(n)
    np.testing.assert_allclose(np.abs(d0), dist[k, cols], atol=2e-4)
    np.testing.assert_allclose(dz, zs[k, cols] - zv, atol=5e-3)
    # CMS sign: d0 = -(x - xv) sin(phi) + (y - yv) cos(phi) at the PCA
    sign_ref = -(xs[k, cols] - xv) * np.sin(phi) + (ys[k, cols] - yv) * np.cos(phi)
    big = np.abs(d0) > 1e-3
    assert np.all(np.sign(sign_ref[big]) == np.sign(d0[big]))


def test_prompt_track_has_zero_impact_parameter():
    hx = Helix(
        np.array([0.001]),
        np.array([0.002]),
        np.array([1.5]),
        np.array([2.0]),
        np.array([1.0]),
        np.array([3.0]),
        np.array([-1.0]),
    )
    d0, dz, _ = point_of_closest_approach(hx, np.array([0.001]), np.array([0.002]), np.array([1.5]))
    assert abs(d0[0]) < 1e-9
    assert abs(dz[0]) < 1e-9
