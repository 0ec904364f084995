"""Jet frames equal the slow reference, in both layouts and on every backend path."""

from __future__ import annotations

import pickle

import awkward as ak
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import CHANNELS, JetSelection, build_jet_frames
from e2e_coffea.frames.numpy_backend import NumpyBackend
from e2e_coffea.frames.testing import sparse_to_e2e_chunk
from e2e_coffea.frames.torch_backend import HostKernelTorchBackend, TorchBackend

ALL_JET_CHANNELS = list(CHANNELS)  # every channel fits a jet window (EB ones are zero-padded)
EDGE_IETA = st.one_of(st.sampled_from([0, 1, 11, 12, 13, 43, 44, 54, 55]), st.integers(0, 55))
EDGE_IPHI = st.one_of(st.sampled_from([0, 1, 12, 13, 59, 60, 70, 71]), st.integers(0, 71))
SEEDS = st.lists(
    st.lists(st.tuples(EDGE_IETA, EDGE_IPHI), min_size=0, max_size=3), min_size=1, max_size=3
)
FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

BACKENDS = {
    "numba": lambda: NumpyBackend(),
    "pure-numpy": lambda: NumpyBackend(use_numba=False),
    "torch-native": lambda: TorchBackend("cpu", native=True),
    "torch": lambda: TorchBackend("cpu"),
}


def test_torch_cpu_backend_is_a_subclass_and_pickles_as_itself():
    """The numba-kernel path is a class of its own: no methods patched onto an instance."""
    wrapped, native = TorchBackend("cpu"), TorchBackend("cpu", native=True)
    assert type(wrapped) is HostKernelTorchBackend
    assert isinstance(wrapped, TorchBackend)
    assert type(native) is TorchBackend
    assert not [k for k, v in vars(wrapped).items() if callable(v)]
    for be in (wrapped, native):
        back = pickle.loads(pickle.dumps(be))
        assert (type(back), back.native, back.device) == (type(be), be.native, be.device)


def as_numpy(x):
    return x.numpy() if hasattr(x, "numpy") else x


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@FAST
def test_sparse_and_e2e_equal_reference_bitwise(ref, make, seeds, rng_seed):
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds)
    e2e = sparse_to_e2e_chunk(chunk)
    expected = ref.jet_frames(chunk, ALL_JET_CHANNELS)
    for layout, c in (("sparse", chunk), ("e2e", e2e)):
        for name in ("numba", "pure-numpy"):
            got, rec = build_jet_frames(
                c, layout=layout, channels=ALL_JET_CHANNELS, backend=BACKENDS[name]()
            )
            np.testing.assert_array_equal(got, expected, err_msg=f"{layout} {name}")
            assert len(rec) == len(expected)


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@FAST
def test_building_into_out_equals_the_reference_bitwise(ref, make, seeds, rng_seed):
    """``out=``: the frames are built into the caller's array, whatever it held before
    (NaN here: every pixel must be written or zeroed), bit for bit the slow reference's;
    also with only channels that need no scatter (HCAL) and with endcap smoothing."""
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds)
    e2e = sparse_to_e2e_chunk(chunk)
    for channels, smooth in (
        (ALL_JET_CHANNELS, False),
        (["hcal"], False),
        (["ecal", "hcal"], True),
    ):
        expected = ref.jet_frames(chunk, channels, smooth=smooth)
        for layout, c in (("sparse", chunk), ("e2e", e2e)):
            for name in ("numba", "pure-numpy"):
                out = np.full(expected.shape, np.nan, np.float32)
                got, _ = build_jet_frames(
                    c, layout=layout, channels=channels, backend=BACKENDS[name](), out=out,
                    smooth_endcap=smooth,
                )  # fmt: skip
                assert got is out
                np.testing.assert_array_equal(
                    got.view(np.uint32),
                    expected.view(np.uint32),
                    err_msg=f"{layout} {name} {channels}",
                )


def test_a_wrong_out_array_is_refused_in_one_line(make):
    chunk = make.chunk(np.random.default_rng(0), [[(20, 30)], [(30, 40)]])
    for out, what in (
        (np.zeros((1, 3, 125, 125), np.float32), "shape"),
        (np.zeros((2, 3, 125, 125), np.float64), "float32"),
        (np.zeros((2, 3, 125, 250), np.float32)[..., ::2], "C-contiguous"),
    ):
        with pytest.raises(BadInputError, match=what):
            build_jet_frames(chunk, layout="sparse", channels="qg", out=out)
    with pytest.raises(BadInputError, match="backend 'numpy'"):
        build_jet_frames(
            chunk, layout="sparse", channels="qg", backend="torch",
            out=np.zeros((2, 3, 125, 125), np.float32),
        )  # fmt: skip


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@FAST
def test_torch_backends_agree_with_numpy(make, seeds, rng_seed):
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds)
    e2e = sparse_to_e2e_chunk(chunk)
    expected, _ = build_jet_frames(chunk, layout="sparse", channels="tau13")
    for layout, c in (("sparse", chunk), ("e2e", e2e)):
        for name in ("torch-native", "torch"):
            got, _ = build_jet_frames(c, layout=layout, channels="tau13", backend=BACKENDS[name]())
            np.testing.assert_allclose(as_numpy(got), expected, rtol=1e-6, atol=1e-6)


def test_phi_wrap_and_eta_padding_explicit(make):
    """Hand-placed hits around a jet at ieta=0, iphi=0 (window rows -60..64, cols 300..64)."""
    chunk = make.chunk(
        np.random.default_rng(0), [[(0, 0), (55, 71)]], n_ecal=0, n_hcal=0, n_tracks=0, n_tracker=0
    )
    hits = {
        "EcalHit_row": [[0, 0, 64, 65, 279, 215]],
        "EcalHit_col": [[359, 0, 64, 0, 300, 357]],
        "EcalHit_energy": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]],
        "EcalHit_time": [[0.0] * 6],
    }
    for k, v in hits.items():
        dtype = np.int16 if k.endswith(("row", "col")) else np.float32
        chunk[k] = ak.values_astype(ak.Array(v), dtype)
    frames, rec = build_jet_frames(chunk, layout="sparse", channels=["ecal"])
    f = frames[:, 0]
    # jet 0: top = -60, left = 300
    assert f[0, 60, 59] == 1.0  # row 0, col 359
    assert f[0, 60, 60] == 2.0  # row 0, col 0 (wrapped)
    assert f[0, 124, 124] == 3.0  # row 64, col 64: bottom-right corner
    assert f[0, :60].sum() == 0  # rows -60..-1 zero-padded, not shifted
    assert f[0].sum() == 6.0  # row 65 is outside
    # jet 1: ieta 55, iphi 71 -> top 215, left (357 - 62) = 295
    assert f[1, 64, 5] == 5.0  # row 279, col 300
    assert f[1, 0, 62] == 6.0  # row 215, col 357: the window centre column
    assert f[1, 65:].sum() == 0  # rows 280..339 padded
    assert not rec.in_frame.any()


def test_in_frame_flag_matches_window(make):
    seeds = [[(11, 5), (12, 5), (43, 5), (44, 5)]]
    chunk = make.chunk(np.random.default_rng(1), seeds)
    _, rec = build_jet_frames(chunk, layout="sparse", channels="qg")
    assert rec.in_frame.tolist() == [False, True, True, False]


@given(seeds=SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@FAST
def test_energy_in_window_is_conserved(make, seeds, rng_seed):
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds)
    frames, rec = build_jet_frames(chunk, layout="sparse", channels=["ecal", "hcal"])
    for j in range(len(rec)):
        e, ieta, iphi = rec.event[j], rec.seed_row[j], rec.seed_col[j]
        rows = ak.to_numpy(chunk["EcalHit_row"][e]).astype(int)
        cols = ak.to_numpy(chunk["EcalHit_col"][e]).astype(int)
        en = ak.to_numpy(chunk["EcalHit_energy"][e]).astype(np.float64)
        dr = rows - (5 * ieta - 60)
        dc = (cols - (5 * iphi - 60)) % 360
        inside = (dr >= 0) & (dr < 125) & (dc < 125)
        assert frames[j, 0].sum(dtype=np.float64) == pytest.approx(
            en[inside].sum(), rel=1e-5, abs=1e-5
        )
        ti = ak.to_numpy(chunk["HcalHit_ieta"][e]).astype(int)
        tp = ak.to_numpy(chunk["HcalHit_iphi"][e]).astype(int)
        te = ak.to_numpy(chunk["HcalHit_energy"][e]).astype(np.float64)
        tin = (np.abs(ti - ieta) <= 12) & (((tp - iphi + 12) % 72) < 25)
        assert frames[j, 1].sum(dtype=np.float64) == pytest.approx(
            te[tin].sum(), rel=1e-5, abs=1e-5
        )


def test_hcal_upsampling_gives_each_crystal_one_25th(make):
    chunk = make.chunk(np.random.default_rng(2), [[(20, 30)]], n_hcal=0)
    chunk["HcalHit_ieta"] = ak.values_astype(ak.Array([[20]]), np.int16)
    chunk["HcalHit_iphi"] = ak.values_astype(ak.Array([[31]]), np.int16)
    chunk["HcalHit_energy"] = ak.values_astype(ak.Array([[50.0]]), np.float32)
    frames, _ = build_jet_frames(chunk, layout="sparse", channels=["hcal"])
    block = frames[0, 0, 60:65, 65:70]  # tower (20, 31) -> rows 100..104, cols 155..159
    np.testing.assert_array_equal(block, np.full((5, 5), np.float32(50.0) / np.float32(25)))
    assert frames[0, 0].sum() == pytest.approx(50.0, rel=1e-6)


def test_selection_and_channel_order(make):
    chunk = make.chunk(np.random.default_rng(3), [[(20, 3), (30, 70)], [], [(40, 40)]])
    full, rec = build_jet_frames(chunk, layout="sparse", channels=["track_pt", "ecal"])
    mask = ak.Array([[False, True], [], [True]])
    sub, srec = build_jet_frames(chunk, layout="sparse", channels=["ecal", "track_pt"], jets=mask)
    np.testing.assert_array_equal(sub, full[[1, 2]][:, ::-1])
    assert srec.event.tolist() == [0, 2]
    assert srec.index.tolist() == [1, 0]
    sel = JetSelection(event=np.array([2, 0]), index=np.array([0, 0]))
    picked, prec = build_jet_frames(chunk, layout="sparse", channels=["track_pt", "ecal"], jets=sel)
    np.testing.assert_array_equal(picked, full[[2, 0]])
    assert prec.seed_row.tolist() == [40, 20]
    np.testing.assert_array_equal(prec.pt, rec.pt[[2, 0]])


def test_records_content(make):
    chunk = make.chunk(np.random.default_rng(4), [[(20, 3)], [(30, 70), (31, 0)]])
    _, rec = build_jet_frames(chunk, layout="sparse", channels="qg")
    assert len(rec) == 3
    assert rec.event.tolist() == [0, 1, 1]
    assert rec.index.tolist() == [0, 0, 1]
    assert rec.seed_col.tolist() == [3, 70, 0]
    np.testing.assert_array_equal(rec.label, ak.to_numpy(ak.flatten(chunk["Jet_label"])))
    assert set(rec.to_dict()) >= {
        "event",
        "index",
        "seed_row",
        "seed_col",
        "pt",
        "eta",
        "label",
        "in_frame",
    }


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float16_and_empty(make, backend):
    chunk = make.chunk(np.random.default_rng(5), [[(20, 3)], []])
    f16, _ = build_jet_frames(
        chunk, layout="sparse", channels="qg", backend=backend, dtype="float16"
    )
    f32, _ = build_jet_frames(chunk, layout="sparse", channels="qg", backend=backend)
    assert str(f16.dtype).endswith("float16")
    np.testing.assert_array_equal(as_numpy(f16), as_numpy(f32).astype(np.float16))
    empty, rec = build_jet_frames(make.empty(), layout="sparse", channels="tau13", backend=backend)
    assert tuple(empty.shape) == (0, 13, 125, 125)
    assert len(rec) == 0
    none, _ = build_jet_frames(
        chunk, layout="sparse", channels="qg", backend=backend, jets=ak.Array([[False], []])
    )
    assert tuple(none.shape) == (0, 3, 125, 125)


def test_e2e_chunk_of_empty_events(make):
    chunk = make.chunk(np.random.default_rng(6), [[], [(0, 0)]])
    e2e = sparse_to_e2e_chunk(chunk)
    a, _ = build_jet_frames(chunk, layout="sparse", channels="tau13")
    b, _ = build_jet_frames(e2e, layout="e2e", channels="tau13")
    np.testing.assert_array_equal(a, b)


def test_mapping_chunk_and_regular_images(make):
    """A dict of branches works like a record array, and so do fixed-size image arrays."""
    from e2e_coffea.frames import build_point_clouds
    from e2e_coffea.io.densify import densify

    chunk = make.chunk(np.random.default_rng(8), [[(20, 3)], [(44, 70), (2, 0)]])
    as_dict = {k: chunk[k] for k in chunk.fields}
    a, _ = build_jet_frames(chunk, layout="sparse", channels="tau13")
    b, _ = build_jet_frames(as_dict, layout="sparse", channels="tau13")
    np.testing.assert_array_equal(a, b)
    assert densify(as_dict)["ECAL_energy"].shape == (2, 100800)
    e2e = sparse_to_e2e_chunk(chunk)
    regular = {
        k: (
            ak.to_regular(e2e[k], axis=1)
            if k.startswith(("ECAL", "EB", "HBHE", "BPIX", "TIB", "TOB"))
            else e2e[k]
        )
        for k in e2e.fields
    }
    c, _ = build_jet_frames(regular, layout="e2e", channels="tau13")
    np.testing.assert_array_equal(a, c)
    numpy_images = {
        k: (ak.to_numpy(ak.to_regular(v, axis=1)) if k.startswith("ECAL") else v)
        for k, v in regular.items()
    }
    d, _ = build_jet_frames(numpy_images, layout="e2e", channels="qg")
    np.testing.assert_array_equal(a[:, [0, 3, 4]], d)
    assert build_point_clouds(as_dict, layout="sparse").features.shape[0] == 3
