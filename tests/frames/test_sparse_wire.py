"""The sparse wire format: frames rebuilt from the objects' own hits equal the frames
built from the whole chunk, bit for bit, for jets (every channel kind: ECAL, HCAL towers,
tracks sharing cells, tracker layers) and e/gamma, including seeds at the grid edges and
across the phi wrap; and the hits on the wire are only those inside each window."""

from __future__ import annotations

import numpy as np
import pytest
import uproot

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import build_eg_frames, build_jet_frames, load_norm
from e2e_coffea.frames.selection import select_objects
from e2e_coffea.frames.sparse_wire import (
    SEEDS,
    frames_from_hits,
    object_hits,
    wire_tensors,
)

JET_CHANNELS = ["track_pt", "track_d0", "ecal", "hcal", "bpix1", "tob2"]
# seeds at the eta edges (zero padding) and at iphi 0 / 71 (the phi wrap)
JET_SEEDS = [[(2, 0), (30, 40)], [(53, 71), (12, 35), (13, 36)], [], [(28, 1)]]


def _same(tensors: dict, channels: list[str], kind: str, expected: np.ndarray, norm=None) -> None:
    assert [n for n, _, _ in wire_tensors(channels, kind)] == list(tensors)
    got = frames_from_hits(tensors, kind, channels, norm=norm)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert got.tobytes() == expected.tobytes()  # bit for bit, signed zeros included


def test_jet_frames_from_hits_equal_local_frames(make):
    chunk = make.chunk(np.random.default_rng(7), JET_SEEDS, n_ecal=400, n_tracks=80, n_tracker=200)
    expected, rec = build_jet_frames(chunk, layout="sparse", channels=JET_CHANNELS)
    tensors, wrec = object_hits(chunk, "jet", JET_CHANNELS)
    np.testing.assert_array_equal(wrec.seed_row, rec.seed_row)
    np.testing.assert_array_equal(wrec.event, rec.event)
    assert expected.any()
    _same(tensors, JET_CHANNELS, "jet", expected)
    # hits outside every window stay home: fewer hits on the wire than in the chunk
    sent, held = (
        int(tensors["EcalHit_count"].sum()),
        len(np.concatenate(list(chunk["EcalHit_row"]))),
    )
    assert 0 < sent < held


def test_eg_frames_from_hits_equal_local_frames(make):
    eg = [[(0, 3), (80, 200)], [(169, 359)], []]
    seeds = [[(20, 20)] for _ in eg]
    chunk = make.chunk(np.random.default_rng(3), seeds, egamma=eg, n_ecal=300, spread=15)
    channels = ["eb_energy", "eb_time", "ecal", "track_pt", "bpix1"]
    expected, _ = build_eg_frames(chunk, layout="sparse", channels=channels)
    tensors, _ = object_hits(chunk, "eg", channels)
    _same(tensors, channels, "eg", expected)
    channels = ["eb_energy", "eb_time"]  # the e/gamma tagger's, normalised
    norm = load_norm("eg")
    expected, _ = build_eg_frames(chunk, layout="sparse", channels=channels, norm=norm)
    tensors, _ = object_hits(chunk, "eg", channels)
    _same(tensors, channels, "eg", expected, norm=norm)


def test_sample_jets_from_hits_equal_local_frames(sample):
    """The conftest sample, the tagger's selection, the qg normalisation."""
    with uproot.open(sample.files[("tau", "sparse")]) as f:
        chunk = f["Events"].arrays(library="ak")
    sel = select_objects(chunk, "sparse", "jet")
    norm = load_norm("qg")
    expected, _ = build_jet_frames(
        chunk, layout="sparse", channels="qg", norm=norm, jets=sel.selection
    )
    tensors, rec = object_hits(chunk, "jet", "qg", sel.selection)
    assert len(rec) == len(expected) > 0
    _same(tensors, ["track_pt", "ecal", "hcal"], "jet", expected, norm=norm)
    wire = sum(x.nbytes for x in tensors.values())
    assert wire * 20 < expected.nbytes  # >= 20x fewer bytes than the dense frames


def test_a_short_tensor_is_refused_naming_it(make):
    chunk = make.chunk(np.random.default_rng(1), [[(30, 40)]])
    tensors, _ = object_hits(chunk, "jet", "qg")
    tensors["EcalHit_energy"] = tensors["EcalHit_energy"][:-1]
    with pytest.raises(BadInputError, match="EcalHit_energy holds"):
        frames_from_hits(tensors, "jet", "qg")
    del tensors[SEEDS]
    with pytest.raises(BadInputError, match="seeds"):
        frames_from_hits(tensors, "jet", "qg")
