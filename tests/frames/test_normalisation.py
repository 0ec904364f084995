"""Normalisation: JSON round trip, presets, and application inside the builders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError, ChannelError
from e2e_coffea.frames import (
    PRESETS,
    ChannelNorm,
    Normalisation,
    build_eg_frames,
    build_jet_frames,
    list_norm_presets,
    load_norm,
)

NORM = Normalisation(
    channels={
        "track_pt": ChannelNorm(scale=10.0, clip_max=0.5, threshold=0.2),
        "ecal": ChannelNorm(scale=4.0, threshold=0.3),
        "hcal": ChannelNorm(clip_max=0.01),
    },
    name="test",
    source="unit test",
)


def test_json_and_dict_round_trip():
    assert Normalisation.from_json(NORM.to_json()) == NORM
    assert Normalisation.from_dict(json.loads(json.dumps(NORM.to_dict()))) == NORM
    ident = load_norm("none")
    assert Normalisation.from_json(ident.to_json()) == ident


def test_presets_load_and_cover_their_channels():
    names = list_norm_presets()
    assert {"none", "qg", "top8", "tau13", "eg"} <= set(names)
    for name in ("qg", "top8", "tau13", "eg"):
        norm = load_norm(name)
        assert norm.name == name
        assert norm.source
        norm.vectors(PRESETS[name].channels)  # no ChannelError: every preset channel covered
    with pytest.raises(BadInputError, match=r"unknown normalisation preset 'zz'.*qg"):
        load_norm("zz")


@pytest.mark.parametrize(
    "bad",
    [
        {"scale": 0.0},
        {"scale": float("nan")},
        {"threshold": -1.0},
        {"clip_max": float("inf")},
        {"clip_max": 0.0},
        {"clip_max": -1.0},
    ],
)
def test_invalid_parameters_rejected(bad):
    with pytest.raises(BadInputError):
        ChannelNorm(**bad)


def test_foreign_json_rejected():
    with pytest.raises(BadInputError, match="not an e2e-coffea normalisation"):
        Normalisation.from_json('{"channels": {}}')
    with pytest.raises(BadInputError, match="not valid JSON"):
        Normalisation.from_json("{")
    with pytest.raises(BadInputError, match="unknown channel-normalisation keys"):
        ChannelNorm.from_dict({"scale": 1.0, "offset": 2.0})


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_application_matches_formula(make, backend):
    chunk = make.chunk(np.random.default_rng(31), [[(20, 3), (44, 70)]])
    raw, _ = build_jet_frames(chunk, layout="sparse", channels="qg")
    got, _ = build_jet_frames(chunk, layout="sparse", channels="qg", norm=NORM, backend=backend)
    got = got.numpy() if hasattr(got, "numpy") else got
    for c, name in enumerate(PRESETS["qg"].channels):
        p = NORM.channels[name]
        x = raw[:, c].copy()
        x[np.abs(x) < np.float32(p.threshold)] = 0  # zero suppression first, on raw values
        x = x / np.float32(p.scale)
        if p.clip_max is not None:
            x = np.clip(x, -np.float32(p.clip_max), np.float32(p.clip_max))
        np.testing.assert_array_equal(got[:, c], x, err_msg=name)
    assert got[:, 0].max() <= 0.5


def test_signed_channels_suppressed_by_magnitude(make):
    chunk = make.chunk(np.random.default_rng(32), [[(20, 3)]])
    norm = Normalisation(channels={"track_d0": ChannelNorm(threshold=0.05)})
    raw, _ = build_jet_frames(chunk, layout="sparse", channels=["track_d0"])
    got, _ = build_jet_frames(chunk, layout="sparse", channels=["track_d0"], norm=norm)
    np.testing.assert_array_equal(got, np.where(np.abs(raw) < 0.05, 0, raw))
    assert (got < 0).any()  # negative d0 beyond the threshold survives


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_signed_channels_clipped_on_both_sides(make, backend):
    """A pile-up track's dz significance is O(100-1000) of either sign: the clip must bound
    both, or one sign of pile-up still swamps the frame."""
    chunk = make.chunk(np.random.default_rng(33), [[(20, 3), (44, 70)]])
    norm = Normalisation(channels={"track_dz": ChannelNorm(scale=0.01, clip_max=1.0)})
    raw, _ = build_jet_frames(chunk, layout="sparse", channels=["track_dz"])
    got, _ = build_jet_frames(chunk, layout="sparse", channels=["track_dz"], norm=norm,
                              backend=backend)  # fmt: skip
    got = got.numpy() if hasattr(got, "numpy") else got
    assert (raw / 0.01 < -1).any()  # the test needs both signs
    assert (raw / 0.01 > 1).any()
    np.testing.assert_array_equal(got, np.clip(raw / np.float32(0.01), -1, 1))


def test_preset_by_name_and_missing_channel(make):
    chunk = make.chunk(np.random.default_rng(33), [[(20, 3)]], egamma=[[(80, 5)]])
    a, _ = build_jet_frames(chunk, layout="sparse", channels="qg", norm="qg")
    b, _ = build_jet_frames(chunk, layout="sparse", channels="qg", norm=load_norm("qg"))
    np.testing.assert_array_equal(a, b)
    none, _ = build_jet_frames(chunk, layout="sparse", channels="qg", norm="none")
    raw, _ = build_jet_frames(chunk, layout="sparse", channels="qg")
    np.testing.assert_array_equal(none, raw)
    with pytest.raises(ChannelError, match=r"normalisation 'qg' has no entry for channel 'bpix4'"):
        build_jet_frames(chunk, layout="sparse", channels=["ecal", "bpix4"], norm="qg")
    g, _ = build_eg_frames(chunk, layout="sparse", norm="eg")
    assert g.shape == (1, 2, 32, 32)


def test_the_numba_pass_equals_the_numpy_passes_bitwise():
    """The one-pass kernel gives the numpy backend's thresholded, divided, clipped frames
    bit for bit: -0.0, values exactly at a threshold or a clip bound, and a channel with
    nothing to do included."""
    from e2e_coffea.frames.numpy_backend import NumpyBackend

    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (5, 4, 9, 7)).astype(np.float32)
    x[rng.random(x.shape) < 0.5] = 0.0
    x[0, :, 0, :4] = [-0.0, 0.5, -1.5, 1.5]
    thr = np.array([0.5, 0.0, 1e-3, 0.0], np.float32)
    scale = np.array([2.0, 1.0, 3.0, 1.0], np.float32)
    clip = np.array([0.75, np.inf, 2.0, np.inf], np.float32)
    slow, fast = x.copy(), x.copy()
    NumpyBackend(use_numba=False).normalise(slow, thr, scale, clip)
    NumpyBackend(use_numba=True).normalise(fast, thr, scale, clip)
    np.testing.assert_array_equal(fast.view(np.uint32), slow.view(np.uint32))
    assert not np.array_equal(slow, x)  # something was normalised
