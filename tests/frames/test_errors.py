"""Bad inputs fail loudly, with messages that name the bad value and the valid ones."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.exceptions import (
    BadInputError,
    ChannelError,
    FileLayoutError,
    MissingBranchError,
    NonFiniteInputError,
    SeedRangeError,
)
from e2e_coffea.frames import build_eg_frames, build_jet_frames, build_point_clouds
from e2e_coffea.frames.testing import sparse_to_e2e_chunk


@pytest.fixture
def chunk(make):
    return make.chunk(np.random.default_rng(21), [[(20, 3), (30, 40)], [(40, 70)]])


def test_unknown_channel_lists_valid_names(chunk):
    with pytest.raises(ChannelError, match=r"unknown channel 'ecla'.*'ecal'"):
        build_jet_frames(chunk, layout="sparse", channels=["ecla"])
    with pytest.raises(ChannelError, match="presets"):
        build_jet_frames(chunk, layout="sparse", channels="qg2")
    with pytest.raises(ChannelError, match="more than once"):
        build_jet_frames(chunk, layout="sparse", channels=["ecal", "ecal"])
    with pytest.raises(ChannelError, match="32x32"):
        build_eg_frames(chunk, layout="sparse", channels=["hcal"])


def test_missing_branch_names_branch_and_channel(chunk):
    no_tib = ak.zip({k: chunk[k] for k in chunk.fields if k != "TrackerHit_layer"}, depth_limit=1)
    with pytest.raises(MissingBranchError, match=r"'TrackerHit_layer'.*channel 'bpix1'"):
        build_jet_frames(no_tib, layout="sparse", channels="tau13")
    e2e = sparse_to_e2e_chunk(chunk)
    e2e = ak.zip({k: e2e[k] for k in e2e.fields if k != "TIB_layer1_ECAL_atPV"}, depth_limit=1)
    with pytest.raises(MissingBranchError, match="'TIB_layer1_ECAL_atPV'"):
        build_jet_frames(e2e, layout="e2e", channels="tau13")
    build_jet_frames(e2e, layout="e2e", channels="qg")  # channels it does hold still work


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("Jet_seedIeta", 56, r"jet 1 of entry 0 has seed \(Jet_seedIeta=56"),
        ("Jet_seedIeta", -1, r"jet 1 of entry 0 .*Jet_seedIeta=-1"),
        ("Jet_seedIphi", 72, r"Jet_seedIphi=72\).*0\.\.71"),
    ],
)
def test_seed_out_of_range(chunk, field, value, match):
    arr = chunk[field].to_list()
    arr[0][1] = value
    chunk[field] = ak.values_astype(ak.Array(arr), np.int16)
    with pytest.raises(SeedRangeError, match=match):
        build_jet_frames(chunk, layout="sparse", channels="qg")
    # a selection that skips the bad jet is fine
    build_jet_frames(chunk, layout="sparse", channels="qg", jets=ak.Array([[True, False], [True]]))


def test_eg_seed_out_of_range(make):
    chunk = make.chunk(np.random.default_rng(0), [[(20, 3)]], egamma=[[(170, 5)]])
    with pytest.raises(SeedRangeError, match=r"e/gamma object 0 of entry 0 .*EGamma_seedRow=170"):
        build_eg_frames(chunk, layout="sparse")


def _poison(chunk, field, value):
    arr = chunk[field].to_list()
    e = 1
    # the hit of event 1 nearest to its jet centre, so it lands inside the window
    arr[e][0] = value
    chunk[field] = ak.values_astype(ak.Array(arr), np.float32)
    return chunk


def _place_first_hit_at_jet(chunk, coll, rname, cname, r, c):
    for name, v in ((rname, r), (cname, c)):
        arr = chunk[f"{coll}_{name}"].to_list()
        arr[1][0] = v
        chunk[f"{coll}_{name}"] = ak.values_astype(ak.Array(arr), np.int16)


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_raise_and_mask(chunk, layout, bad):
    _place_first_hit_at_jet(chunk, "EcalHit", "row", "col", 5 * 40 + 2, 5 * 70 + 2)
    chunk = _poison(chunk, "EcalHit_energy", bad)
    c = chunk if layout == "sparse" else sparse_to_e2e_chunk(chunk)
    with pytest.raises(NonFiniteInputError, match=r"channel 'ecal' of entry 1 \(jet 0\)"):
        build_jet_frames(c, layout=layout, channels="qg")
    frames, rec = build_jet_frames(c, layout=layout, channels="qg", nonfinite="mask")
    assert np.isfinite(frames).all()
    assert rec.nonfinite.tolist() == [0, 0, 1]
    assert frames[2, 1, 62, 62] == 0.0
    # channels without the bad value are not affected
    clean, _ = build_jet_frames(c, layout=layout, channels=["track_pt"])
    np.testing.assert_array_equal(frames[:, 0], clean[:, 0])


def test_nonfinite_hcal_masks_the_whole_tower(chunk):
    _place_first_hit_at_jet(chunk, "HcalHit", "ieta", "iphi", 40, 70)
    chunk = _poison(chunk, "HcalHit_energy", np.nan)
    for backend in ("numpy", "torch"):
        with pytest.raises(NonFiniteInputError, match="channel 'hcal' of entry 1"):
            build_jet_frames(chunk, layout="sparse", channels="qg", backend=backend)
        _, rec = build_jet_frames(
            chunk, layout="sparse", channels="qg", nonfinite="mask", backend=backend
        )
        assert rec.nonfinite.tolist() == [0, 0, 25]


def test_nonfinite_point_cloud(chunk):
    _place_first_hit_at_jet(chunk, "EcalHit", "row", "col", 5 * 40 + 2, 5 * 70 + 2)
    chunk["Jet_eta"] = ak.values_astype(
        ak.Array([[0.0, 0.0], [-2.436 + 202.5 * 0.0174]]), np.float32
    )
    chunk["Jet_phi"] = ak.values_astype(
        ak.Array([[0.0, 0.0], [-np.pi + 352.5 * 2 * np.pi / 360]]), np.float32
    )
    chunk = _poison(chunk, "EcalHit_energy", np.nan)
    with pytest.raises(NonFiniteInputError, match="'ecal' value in entry 1"):
        build_point_clouds(chunk, layout="sparse")
    pc = build_point_clouds(chunk, layout="sparse", nonfinite="mask")
    assert np.isfinite(pc.features).all()
    assert pc.records.nonfinite[2] == 1


def test_bad_arguments(chunk):
    with pytest.raises(BadInputError, match="unknown layout 'nano'"):
        build_jet_frames(chunk, layout="nano", channels="qg")
    with pytest.raises(BadInputError, match=r"unknown frame backend 'jax'.*numpy.*torch"):
        build_jet_frames(chunk, layout="sparse", channels="qg", backend="jax")
    with pytest.raises(BadInputError, match="device 'cpu' only"):
        build_jet_frames(chunk, layout="sparse", channels="qg", device="cuda")
    with pytest.raises(BadInputError, match="dtype 'float64'"):
        build_jet_frames(chunk, layout="sparse", channels="qg", dtype="float64")
    with pytest.raises(BadInputError, match="nonfinite"):
        build_jet_frames(chunk, layout="sparse", channels="qg", nonfinite="ignore")
    from e2e_coffea.frames import JetSelection

    with pytest.raises(BadInputError, match=r"jet 5 of event 0 does not exist"):
        build_jet_frames(
            chunk, layout="sparse", channels="qg", jets=JetSelection(np.array([0]), np.array([5]))
        )
    with pytest.raises(BadInputError, match=r"not shaped like the objects.*event 0: 1 vs 2"):
        build_jet_frames(chunk, layout="sparse", channels="qg", jets=ak.Array([[True], [True]]))
    with pytest.raises(BadInputError, match="3 events vs 2"):
        build_jet_frames(chunk, layout="sparse", channels="qg", jets=ak.Array([[True], [True], []]))
    with pytest.raises(BadInputError, match="must hold booleans"):
        build_jet_frames(chunk, layout="sparse", channels="qg", jets=ak.Array([[1, 0], [1]]))
    with pytest.raises(BadInputError, match="radius"):
        build_point_clouds(chunk, layout="sparse", radius=-1)


@pytest.mark.usefixtures("cpu_machine")
def test_torch_cuda_request_without_gpu(chunk):
    with pytest.raises(BadInputError, match="no CUDA device"):
        build_jet_frames(chunk, layout="sparse", channels="qg", backend="torch", device="cuda")


def test_bad_hits_and_images(chunk):
    arr = chunk["TrackerHit_layer"].to_list()
    arr[0][0] = 9
    bad = ak.zip(
        {
            **{k: chunk[k] for k in chunk.fields},
            "TrackerHit_layer": ak.values_astype(ak.Array(arr), np.int8),
        },
        depth_limit=1,
    )
    with pytest.raises(BadInputError, match="not a tracker layer"):
        build_jet_frames(bad, layout="sparse", channels="tau13")
    e2e = sparse_to_e2e_chunk(chunk)
    short = ak.zip(
        {**{k: e2e[k] for k in e2e.fields}, "ECAL_energy": e2e["ECAL_energy"][:, :100]},
        depth_limit=1,
    )
    with pytest.raises(FileLayoutError, match=r"'ECAL_energy' of entry 0 has 100 values"):
        build_jet_frames(short, layout="e2e", channels="qg")
