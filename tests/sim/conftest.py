"""Small simulated samples shared by the sim tests (generated once per session)."""

from __future__ import annotations

from dataclasses import replace

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.sim import simulate_events, simulate_particles
from e2e_coffea.sim.params import DEFAULT_PARAMS

NO_MATERIAL = replace(DEFAULT_PARAMS, brem=False, conversions=False)
"""The detector without tracker material: the calorimeter's intrinsic response."""

MASSES = {11: 0.000511, 13: 0.10566, 22: 0.0, 130: 0.497611, 211: 0.13957}


def gun_particles(
    pdg: int, energy: float, n: int, seed: int, eta_range: tuple[float, float] = (-1.0, 1.0)
) -> ak.Array:
    """One particle per event from the origin, flat in eta (range) and phi."""
    rng = np.random.default_rng(seed)
    eta = rng.uniform(*eta_range, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    p = np.sqrt(energy**2 - MASSES[abs(pdg)] ** 2)
    pt = p / np.cosh(eta)
    one = np.ones((n, 1))
    return ak.zip(
        {
            "pdgId": (pdg * one).astype(np.int32),
            "px": (pt * np.cos(phi))[:, None],
            "py": (pt * np.sin(phi))[:, None],
            "pz": (pt * np.sinh(eta))[:, None],
            "E": energy * one,
            "vx": 0 * one,
            "vy": 0 * one,
            "vz": 0 * one,
        }
    )


@pytest.fixture(scope="session")
def tau_chunk() -> dict[str, ak.Array]:
    return simulate_events("tau", 80, seed=11)


@pytest.fixture(scope="session")
def qcd_chunk() -> dict[str, ak.Array]:
    return simulate_events("qcd", 90, seed=12)


@pytest.fixture(scope="session")
def electron_chunk() -> dict[str, ak.Array]:
    return simulate_events("electron", 60, seed=13)


@pytest.fixture(scope="session")
def electron_gun() -> dict[str, ak.Array]:
    return simulate_particles(gun_particles(11, 50.0, 300, seed=1), rng=2)


@pytest.fixture(scope="session")
def make_gun():
    """``gun_particles`` for test modules (conftest is not importable under importlib)."""
    return gun_particles


@pytest.fixture(scope="session")
def no_material():
    return NO_MATERIAL


@pytest.fixture(scope="session")
def electron_gun_no_material() -> dict[str, ak.Array]:
    return simulate_particles(gun_particles(11, 50.0, 300, seed=1), rng=2, params=NO_MATERIAL)


@pytest.fixture(scope="session")
def pion_gun() -> dict[str, ak.Array]:
    return simulate_particles(gun_particles(211, 50.0, 300, seed=3), rng=4)
