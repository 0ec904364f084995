"""Point clouds against a per-jet loop; e2e pixels give the same points as unique hits."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.frames import FEATURES, build_point_clouds
from e2e_coffea.frames.testing import sparse_to_e2e_chunk

SEEDS = st.lists(
    st.lists(
        st.tuples(st.integers(0, 55), st.sampled_from([0, 1, 35, 70, 71])), min_size=0, max_size=2
    ),
    min_size=1,
    max_size=3,
)


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1), n_max=st.sampled_from([4, 16, 200]))
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_point_clouds_equal_loop_reference(ref, make, seeds, rng_seed, n_max):
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds, spread=12)
    pc = build_point_clouds(chunk, layout="sparse", max_points=n_max, radius=0.4)
    assert pc.features.shape == (len(pc.records), n_max, len(FEATURES))
    for j in range(len(pc.records)):
        feats, n = ref.point_cloud(
            chunk,
            int(pc.records.event[j]),
            float(pc.records.eta[j]),
            float(pc.records.phi[j]),
            0.4,
            n_max,
        )
        assert pc.n_points[j] == n
        np.testing.assert_array_equal(pc.mask[j], np.arange(n_max) < n)
        np.testing.assert_array_equal(pc.features[j], feats)


def test_e2e_points_match_sparse_when_cells_are_unique(make):
    chunk = make.chunk(
        np.random.default_rng(7),
        [[(20, 0), (30, 40)], [(44, 71)]],
        n_tracks=3,
        n_tracker=0,
        spread=10,
    )
    pc_s = build_point_clouds(chunk, layout="sparse", max_points=500)
    pc_e = build_point_clouds(sparse_to_e2e_chunk(chunk), layout="e2e", max_points=500)
    np.testing.assert_array_equal(pc_s.n_points, pc_e.n_points)
    for j in range(len(pc_s)):  # same set of points; ties may be ordered differently
        a = pc_s.features[j][pc_s.mask[j]]
        b = pc_e.features[j][pc_e.mask[j]]
        np.testing.assert_array_equal(a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])])


def test_phi_wraps_and_order(make):
    chunk = make.chunk(
        np.random.default_rng(0), [[(20, 0)]], n_ecal=0, n_hcal=0, n_tracks=0, n_tracker=0
    )
    chunk["Jet_phi"] = ak.values_astype(ak.Array([[-np.pi + 0.01]]), np.float32)
    chunk["Jet_eta"] = ak.values_astype(ak.Array([[-0.6]]), np.float32)
    row = int(np.floor((-0.6 + 2.436) / 0.0174))
    chunk["EcalHit_row"] = ak.values_astype(ak.Array([[row, row, row]]), np.int16)
    chunk["EcalHit_col"] = ak.values_astype(ak.Array([[359, 0, 180]]), np.int16)
    chunk["EcalHit_energy"] = ak.values_astype(ak.Array([[1.0, 2.0, 50.0]]), np.float32)
    chunk["EcalHit_time"] = ak.values_astype(ak.Array([[0.0, 0.0, 0.0]]), np.float32)
    pc = build_point_clouds(chunk, layout="sparse", max_points=4)
    assert pc.n_points.tolist() == [2]  # col 180 is at dphi ~ pi
    f = pc.features[0]
    assert f[0, 2] == pytest.approx(np.log(2.0))
    assert f[1, 2] == pytest.approx(0.0)
    assert abs(f[1, 1]) < 0.02
    assert f[1, 1] < 0
    assert f[0, FEATURES.index("is_ecal")] == 1.0


def test_torch_output_and_empty(make):
    chunk = make.chunk(np.random.default_rng(1), [[(20, 3)]])
    pc = build_point_clouds(chunk, layout="sparse", backend="torch", max_points=8)
    ref = build_point_clouds(chunk, layout="sparse", max_points=8)
    np.testing.assert_array_equal(pc.features.numpy(), ref.features)
    np.testing.assert_array_equal(pc.mask.numpy(), ref.mask)
    empty = build_point_clouds(make.empty(), layout="sparse", max_points=8)
    assert empty.features.shape == (0, 8, len(FEATURES))
    assert len(empty) == 0
