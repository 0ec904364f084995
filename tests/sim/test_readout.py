"""Cell aggregation, noise and zero suppression of the calorimeter readout."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from scipy.special import ndtr

from e2e_coffea.sim.readout import aggregate, digitise, gaussian_tail
from e2e_coffea.sim.showers import Deposits


def _random_deposits(rng, n, n_events, shape):
    return Deposits(
        event=rng.integers(0, n_events, n),
        row=rng.integers(0, shape[0], n),
        col=rng.integers(0, shape[1], n),
        energy=rng.exponential(1.0, n),
        time=rng.normal(0, 1, n),
    )


@pytest.mark.parametrize("max_cells", [4_000_000, 500])
def test_aggregate_matches_dict_reference(max_cells):
    rng = np.random.default_rng(0)
    shape = (20, 30)
    dep = _random_deposits(rng, 3000, 7, shape)
    hits = aggregate(dep, shape, 7, max_cells=max_cells)
    ref_e: dict[tuple[int, int, int], float] = defaultdict(float)
    ref_et: dict[tuple[int, int, int], float] = defaultdict(float)
    for ev, r, c, e, t in zip(dep.event, dep.row, dep.col, dep.energy, dep.time, strict=True):
        ref_e[(ev, r, c)] += e
        ref_et[(ev, r, c)] += e * t
    keys = sorted(ref_e)
    assert list(zip(hits.event, hits.row, hits.col, strict=True)) == keys
    np.testing.assert_allclose(hits.energy, [ref_e[k] for k in keys])
    np.testing.assert_allclose(hits.time, [ref_et[k] / ref_e[k] for k in keys])


def test_digitise_one_hit_per_cell_and_threshold():
    rng = np.random.default_rng(1)
    shape = (20, 30)
    dep = _random_deposits(rng, 5000, 10, shape)
    noise = np.full(shape[0], 0.3)
    thr = np.full(shape[0], 0.6)  # 2 sigma: plenty of noise-only cells
    hits = digitise(dep, 10, shape, noise, thr, rng, (35.0, 0.1))
    key = (hits.event * shape[0] + hits.row) * shape[1] + hits.col
    assert len(np.unique(key)) == len(key)
    assert np.all(np.diff(key) > 0)  # sorted
    assert np.all(hits.energy > 0.6)
    assert np.all(np.isfinite(hits.time))


def test_noise_only_hit_rate_matches_gaussian_tail():
    rng = np.random.default_rng(2)
    shape = (50, 72)
    n_events = 400
    empty = Deposits(*(np.zeros(0, dtype=t) for t in (np.int64,) * 3 + (float,) * 2))
    sigma, a = 0.2, 2.5
    hits = digitise(empty, n_events, shape, np.full(50, sigma), np.full(50, a * sigma), rng)
    p = ndtr(-a)
    expected = n_events * shape[0] * shape[1] * p
    # a few collisions between noise cells are merged away: allow 5 sigma + 1%
    assert abs(len(hits) - expected) < 5 * np.sqrt(expected) + 0.01 * expected
    assert np.all(hits.energy > a * sigma)


@pytest.mark.parametrize("a", [0.0, 1.0, 3.0, 4.0])
def test_gaussian_tail_mean(a):
    rng = np.random.default_rng(3)
    x = gaussian_tail(np.full(200_000, a), rng)
    phi = np.exp(-a * a / 2) / np.sqrt(2 * np.pi)
    mean = phi / ndtr(-a)  # E[x | x > a]
    assert np.all(x >= a)
    assert x.mean() == pytest.approx(mean, rel=0.01)
