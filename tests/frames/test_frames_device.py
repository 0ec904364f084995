"""The torch frame builder on a device against the numpy builder.

On the CPU the torch backend runs its device code path (``native=True``) and must equal
numpy bitwise. On CUDA, cells that several hits share are summed by atomic adds in the
kernel's order, so those cells may differ in the last bits; the bound is the float32
reordering error of the cell, (hits - 1) * eps * sum |hit|. Cells with one hit, hit
counts (sums of ones) and the e2e crop (a gather, no sums) stay bitwise equal.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.frames.channels import PRESETS
from e2e_coffea.frames.testing import sparse_to_e2e_chunk, synthetic_sparse_chunk
from e2e_coffea.frames.torch_backend import TorchBackend

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
CHANNELS = "tau13"
SUMMED = {"track_pt": "pt", "track_dzsig": "dzsig", "track_d0sig": "d0sig"}
"""Channels whose cells can hold several hits of signed values (tracks share cells)."""
EPS32 = float(np.finfo(np.float32).eps)


def _backend(device: str) -> TorchBackend:
    return TorchBackend("cpu", native=True) if device == "cpu" else TorchBackend(device)


def _frames(chunk: ak.Array, layout: str, backend: Any = "numpy") -> np.ndarray:
    x = build_jet_frames(chunk, layout=layout, channels=CHANNELS, backend=backend)[0]
    return x if isinstance(x, np.ndarray) else x.cpu().numpy()


@pytest.fixture(scope="module")
def chunk() -> ak.Array:
    # tracks concentrated around the seeds: many cells hold several tracks
    return synthetic_sparse_chunk(24, seed=5, jets=2, egamma=0, tracks=600, near=0.9, spread=3)


def _with_track_values(chunk: ak.Array, fn: Any) -> ak.Array:
    for field in SUMMED.values():
        chunk = ak.with_field(chunk, fn(chunk[f"Track_{field}"]), f"Track_{field}")
    return chunk


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_matches_numpy_within_reordering_error(chunk: ak.Array, device: str) -> None:
    ref = _frames(chunk, "sparse")
    got = _frames(chunk, "sparse", _backend(device))
    assert got.shape == ref.shape
    assert got.dtype == ref.dtype
    names = list(PRESETS[CHANNELS].channels)
    summed = [names.index(n) for n in SUMMED]
    exact = [i for i in range(len(names)) if i not in summed]
    np.testing.assert_array_equal(got[:, exact], ref[:, exact])
    abs_sum = _frames(_with_track_values(chunk, abs), "sparse")[:, summed]
    hits = _frames(_with_track_values(chunk, lambda v: ak.ones_like(v)), "sparse")[:, summed]
    assert hits.max() >= 3, "the sample must put several tracks in some cells"
    bound = np.maximum(hits - 1, 0) * EPS32 * abs_sum
    diff = np.abs(got[:, summed].astype(np.float64) - ref[:, summed])
    assert np.all(diff <= bound), float((diff - bound).max())
    if device == "cpu":
        np.testing.assert_array_equal(got, ref)  # in-order sums on the CPU


@pytest.mark.parametrize("device", DEVICES)
def test_crop_of_dense_images_is_bitwise_numpy(chunk: ak.Array, device: str) -> None:
    e2e = sparse_to_e2e_chunk(chunk)
    ref = _frames(e2e, "e2e")
    got = _frames(e2e, "e2e", _backend(device))
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(ref, _frames(chunk, "sparse"))  # same frames either layout


@pytest.mark.parametrize("device", DEVICES)
def test_frames_stay_on_the_device(chunk: ak.Array, device: str) -> None:
    x = build_jet_frames(chunk, layout="sparse", channels=CHANNELS, backend=_backend(device))[0]
    assert x.device.type == device
