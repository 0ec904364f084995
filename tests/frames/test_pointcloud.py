"""Point clouds against a per-jet loop; e2e pixels give the same points as unique hits;
a PointCloudSpec round-trips through JSON and picks features, order and truncation."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.exceptions import BadInputError, MissingBranchError
from e2e_coffea.frames import FEATURES, PointCloudSpec, build_point_clouds, point_cloud_branches
from e2e_coffea.frames.pointcloud import KIND_FLAGS
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


def test_spec_round_trips_through_json():
    spec = PointCloudSpec(features=("dphi", "deta", *KIND_FLAGS), max_points=40, order="dr")
    d = json.loads(json.dumps(spec.to_dict()))
    assert PointCloudSpec.from_dict(d) == spec
    assert d["features"][:2] == ["dphi", "deta"]
    assert PointCloudSpec.from_dict(PointCloudSpec().to_dict()).features == FEATURES


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"features": ("deta", "pt", *KIND_FLAGS)}, r"unknown or no features \['pt'\].*'deta'"),
        ({"features": ()}, "unknown or no features"),
        ({"features": "deta"}, "must be a list"),
        ({"features": ("deta", "deta", *KIND_FLAGS)}, "duplicates"),
        ({"features": ("deta", "dphi", "is_ecal")}, r"lack the kind flags \['is_hcal'"),
        ({"max_points": 0}, "max_points"),
        ({"max_points": True}, "max_points"),
        ({"order": "pt"}, r"unknown order 'pt'.*\['energy', 'dr'\]"),
        ({"padding": "edge"}, r"unknown padding 'edge'.*\['zeros'\]"),
        ({"radius": float("nan")}, "radius"),
        ({"radius": -1.0}, "radius"),
    ],
)
def test_bad_specs_are_refused(kw, match):
    with pytest.raises(BadInputError, match=match):
        PointCloudSpec(**kw)


def test_bad_spec_dicts_are_refused():
    good = PointCloudSpec().to_dict()
    with pytest.raises(BadInputError, match="format=None"):
        PointCloudSpec.from_dict({k: v for k, v in good.items() if k != "format"})
    with pytest.raises(BadInputError, match=r"missing \['radius'\]"):
        PointCloudSpec.from_dict({k: v for k, v in good.items() if k != "radius"})
    with pytest.raises(BadInputError, match=r"unknown \['k'\]"):
        PointCloudSpec.from_dict({**good, "k": 3})
    with pytest.raises(BadInputError, match="JSON object"):
        PointCloudSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_spec_selects_feature_columns_and_keeps_the_mask_recoverable(make):
    chunk = make.chunk(np.random.default_rng(3), [[(20, 3), (40, 50)], [(30, 10)]], spread=10)
    full = build_point_clouds(chunk, layout="sparse", max_points=64)
    feats = ("log_e", "dz", *reversed(KIND_FLAGS), "deta")
    spec = PointCloudSpec(features=feats, max_points=64)
    pc = build_point_clouds(chunk, layout="sparse", spec=spec)
    assert pc.feature_names == feats
    np.testing.assert_array_equal(
        pc.features, full.features[:, :, [FEATURES.index(f) for f in feats]]
    )
    np.testing.assert_array_equal(pc.mask, full.mask)
    # the padding convention models rely on: a point is real iff some feature is non-zero
    np.testing.assert_array_equal(pc.mask, (pc.features != 0).any(-1))
    np.testing.assert_array_equal(full.mask, (full.features != 0).any(-1))
    again = build_point_clouds(
        chunk, layout="sparse", spec=PointCloudSpec.from_dict(spec.to_dict())
    )
    np.testing.assert_array_equal(again.features, pc.features)  # deterministic
    torch_pc = build_point_clouds(chunk, layout="sparse", spec=spec, backend="torch")
    np.testing.assert_array_equal(torch_pc.features.numpy(), pc.features)
    np.testing.assert_array_equal(torch_pc.mask.numpy(), pc.mask)


@given(rng_seed=st.integers(0, 2**32 - 1), n_max=st.sampled_from([3, 10, 40, 200]))
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_dr_order_keeps_the_points_nearest_the_axis(make, rng_seed, n_max):
    chunk = make.chunk(np.random.default_rng(rng_seed), [[(20, 3)], [(30, 40)]], spread=12)
    everything = build_point_clouds(chunk, layout="sparse", max_points=1000)
    pc = build_point_clouds(
        chunk, layout="sparse", spec=PointCloudSpec(max_points=n_max, order="dr")
    )
    np.testing.assert_array_equal(pc.n_points, everything.n_points)
    for j in range(len(pc)):
        n = int(pc.n_points[j])
        kept = pc.features[j][pc.mask[j]]
        assert len(kept) == min(n, n_max)
        dr2 = kept[:, 0].astype(np.float64) ** 2 + kept[:, 1].astype(np.float64) ** 2
        assert np.all(np.diff(dr2) >= -1e-9)  # increasing distance to the jet axis
        rest = everything.features[j][:n]
        all_dr2 = np.sort(rest[:, 0].astype(np.float64) ** 2 + rest[:, 1].astype(np.float64) ** 2)
        if n > n_max:  # nothing dropped is nearer than what was kept
            assert all_dr2[n_max] >= dr2.max() - 1e-9
        # points of the energy-ordered cloud, only chosen and ordered differently
        if n <= n_max:
            a, b = kept[np.lexsort(kept.T[::-1])], rest[np.lexsort(rest.T[::-1])]
            np.testing.assert_array_equal(a, b)
        else:
            assert all((rest == row).all(1).any() for row in kept)


def test_spec_and_loose_arguments_do_not_mix(make):
    chunk = make.chunk(np.random.default_rng(1), [[(20, 3)]])
    with pytest.raises(BadInputError, match="not both"):
        build_point_clouds(chunk, layout="sparse", max_points=8, spec=PointCloudSpec())
    with pytest.raises(BadInputError, match=r"PointCloudSpec\.from_dict"):
        build_point_clouds(chunk, layout="sparse", spec=PointCloudSpec().to_dict())  # type: ignore[arg-type]


def test_point_cloud_branches_are_exactly_the_hits_read(make):
    chunk = make.chunk(np.random.default_rng(2), [[(20, 3)]])
    hits = point_cloud_branches("sparse")
    hit_like = [
        f for f in chunk.fields if f.split("_")[0] in ("EcalHit", "HcalHit", "Track", "TrackerHit")
    ]
    keep = [f for f in chunk.fields if f not in hit_like or f in hits]
    ref = build_point_clouds(chunk, layout="sparse", max_points=16)
    np.testing.assert_array_equal(
        build_point_clouds(chunk[keep], layout="sparse", max_points=16).features, ref.features
    )
    for name in hits:
        with pytest.raises(MissingBranchError, match=name):
            build_point_clouds(chunk[[f for f in chunk.fields if f != name]], layout="sparse")
    assert "ECAL_tracksDz_atECALfixIP" in point_cloud_branches("e2e")
