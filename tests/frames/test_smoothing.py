"""Optional endcap 2x2 smoothing: reference-equal, energy-conserving, barrel untouched."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.frames.testing import sparse_to_e2e_chunk
from e2e_coffea.frames.torch_backend import TorchBackend

SEEDS = st.lists(
    st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from([0, 1, 5, 10, 11, 12, 44, 45, 50, 54, 55]), st.integers(0, 55)
            ),
            st.integers(0, 71),
        ),
        min_size=1,
        max_size=2,
    ),
    min_size=1,
    max_size=2,
)


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_smoothed_frames_equal_reference_in_all_paths(ref, make, seeds, rng_seed):
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds, n_ecal=80)
    expected = ref.jet_frames(chunk, ["ecal", "track_pt"], smooth=True)
    e2e = sparse_to_e2e_chunk(chunk)
    for layout, c in (("sparse", chunk), ("e2e", e2e)):
        got, _ = build_jet_frames(
            c, layout=layout, channels=["ecal", "track_pt"], smooth_endcap=True
        )
        np.testing.assert_array_equal(got, expected, err_msg=layout)
        tg, _ = build_jet_frames(
            c,
            layout=layout,
            channels=["ecal", "track_pt"],
            smooth_endcap=True,
            backend=TorchBackend("cpu", native=True),
        )
        np.testing.assert_allclose(tg.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_reference_smoothing_conserves_energy_and_leaves_barrel(ref):
    rng = np.random.default_rng(0)
    img = (rng.random((280, 360)) * (rng.random((280, 360)) < 0.2)).astype(np.float32)
    sm = ref.smooth(img)
    assert sm.sum(dtype=np.float64) == pytest.approx(img.sum(dtype=np.float64), rel=1e-6)
    np.testing.assert_array_equal(sm[55:225], img[55:225])


def _single_hit_chunk(make, row, col, energy=8.0):
    chunk = make.chunk(
        np.random.default_rng(0),
        [[(row // 5, col // 5)]],
        n_ecal=0,
        n_hcal=0,
        n_tracks=0,
        n_tracker=0,
    )
    chunk["EcalHit_row"] = ak.values_astype(ak.Array([[row]]), np.int16)
    chunk["EcalHit_col"] = ak.values_astype(ak.Array([[col]]), np.int16)
    chunk["EcalHit_energy"] = ak.values_astype(ak.Array([[energy]]), np.float32)
    chunk["EcalHit_time"] = ak.values_astype(ak.Array([[0.0]]), np.float32)
    return chunk


@pytest.mark.parametrize(
    ("row", "col", "cells"),
    [
        (10, 20, {(9, 20), (9, 21), (10, 20), (10, 21)}),  # even row pairs with the row above
        (11, 21, {(11, 20), (11, 21), (12, 20), (12, 21)}),  # odd row with the row below
        (0, 5, {(0, 4), (0, 5)}),  # edge row 0: a 1x2 block
        (279, 359, {(279, 358), (279, 359)}),  # edge row 279
        (226, 0, {(225, 0), (225, 1), (226, 0), (226, 1)}),
    ],
)
def test_one_endcap_hit_spreads_without_losing_energy(make, row, col, cells):
    """The public converter's bug divided by 4 twice; here the block keeps its energy."""
    chunk = _single_hit_chunk(make, row, col)
    frames, rec = build_jet_frames(chunk, layout="sparse", channels=["ecal"], smooth_endcap=True)
    top, left = 5 * rec.seed_row[0] - 60, 5 * rec.seed_col[0] - 60
    f = frames[0, 0]
    got = {(int(r + top), int((c + left) % 360)) for r, c in zip(*np.nonzero(f), strict=True)}
    assert got == cells
    assert f.sum() == pytest.approx(8.0)
    assert set(np.unique(f[f > 0]).tolist()) == {8.0 / len(cells)}


def test_barrel_hit_not_smoothed(make):
    chunk = _single_hit_chunk(make, 140, 100)
    a, _ = build_jet_frames(chunk, layout="sparse", channels=["ecal"], smooth_endcap=True)
    b, _ = build_jet_frames(chunk, layout="sparse", channels=["ecal"])
    np.testing.assert_array_equal(a, b)
