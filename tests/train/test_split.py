"""split_of: a stable per-event hash, the same in every job, with the requested fractions."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.train import split_of, splitmix64

MASK = (1 << 64) - 1


def _mix_ref(x: int) -> int:
    """splitmix64 as in Vigna's splitmix64.c, with Python ints."""
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _split_ref(run: int, lumi: int, event: int, fractions: tuple[float, float, float]) -> int:
    h = _mix_ref(_mix_ref(_mix_ref(run & MASK) ^ (lumi & MASK)) ^ (event & MASK))
    u = (h >> 11) * 2.0**-53
    return 0 if u < fractions[0] else 1 if u < fractions[0] + fractions[1] else 2


def test_splitmix64_reference_vector() -> None:
    # first two outputs of splitmix64 seeded with 0 (splitmix64.c reference values)
    assert int(splitmix64(0)[0]) == 0xE220A8397B1DCDAF
    assert int(splitmix64(0x9E3779B97F4A7C15)[0]) == 0x6E789E6AA1B965F4


def test_matches_slow_reference() -> None:
    rng = np.random.default_rng(0)
    run = rng.integers(1, 400_000, 500)
    lumi = rng.integers(0, 5000, 500)
    event = rng.integers(-(2**62), 2**62, 500)  # negative numbers are valid keys too
    fr = (0.6, 0.25, 0.15)
    got = split_of(run, lumi, event, fr)
    want = [
        _split_ref(int(a), int(b), int(c), fr) for a, b, c in zip(run, lumi, event, strict=True)
    ]
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int8


def test_independent_of_chunking_and_order() -> None:
    n = 10_000
    run, lumi, event = np.full(n, 1), np.arange(n) // 100, np.arange(n, dtype=np.uint64)
    whole = split_of(run, lumi, event)
    pieces = np.concatenate(
        [
            split_of(run[i : i + 777], lumi[i : i + 777], event[i : i + 777])
            for i in range(0, n, 777)
        ]
    )
    np.testing.assert_array_equal(whole, pieces)
    perm = np.random.default_rng(1).permutation(n)
    np.testing.assert_array_equal(split_of(run[perm], lumi[perm], event[perm]), whole[perm])
    assert split_of(1, 0, 5) == whole[5]  # scalars too


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.5, 0.5, 0.0), (1 / 3, 1 / 3, 1 / 3)])
def test_fractions_are_respected(fractions: tuple[float, float, float]) -> None:
    n = 200_000
    s = split_of(np.full(n, 7), np.zeros(n, int), np.arange(n), fractions)
    counts = np.bincount(s, minlength=3)
    for k in range(3):
        sigma = np.sqrt(n * fractions[k] * (1 - fractions[k])) + 1e-9
        assert abs(counts[k] - n * fractions[k]) < 5 * sigma + 1


def test_degenerate_fractions_and_salt() -> None:
    ev = np.arange(1000)
    assert (split_of(1, 1, ev, (1.0, 0.0, 0.0)) == 0).all()
    assert (split_of(1, 1, ev, (0.0, 0.0, 1.0)) == 2).all()
    a, b = split_of(1, 1, ev), split_of(1, 1, ev, salt=1)
    assert (a != b).mean() > 0.2  # a different, still deterministic, split
    np.testing.assert_array_equal(b, split_of(1, 1, ev, salt=1))


@pytest.mark.parametrize(
    "fractions", [(0.8, 0.1), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1), (np.nan, 0.5, 0.5)]
)
def test_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(BadInputError, match="fractions"):
        split_of(1, 1, [1, 2], fractions)


def test_bad_inputs() -> None:
    with pytest.raises(BadInputError, match="event must be integers"):
        split_of(1, 1, [1.5, 2.0])
    with pytest.raises(BadInputError, match="same length"):
        split_of([1, 2], [1, 2, 3], [1, 2])
    np.testing.assert_array_equal(split_of(1, 1, [1.0, 2.0]), split_of(1, 1, [1, 2]))
