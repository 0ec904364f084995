"""Mean images summed where the frames are: on a device until the chunk ends, then once
to the host; the same sums as the host path, and nothing but numpy ever pickled."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from e2e_coffea.processor.booking import MeanImages

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def _batch(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = rng.exponential(1.0, (n, 2, 8, 8)).astype(np.float32)
    frames[rng.random(frames.shape) < 0.8] = 0.0
    return frames, rng.integers(0, 3, n)


@pytest.mark.parametrize("device", DEVICES)
def test_device_sums_equal_host_sums(device: str) -> None:
    host, dev = MeanImages(("a", "b")), MeanImages(("a", "b"))
    for seed in range(3):
        frames, labels = _batch(seed)
        host.add(frames, labels)
        dev.add(torch.from_numpy(frames).to(device), labels)
    assert dev.sums == {}  # still on the device: nothing copied per batch
    assert dev.counts == host.counts
    dev.flush()
    assert set(dev.sums) == set(host.sums)
    for k, v in host.sums.items():
        assert isinstance(dev.sums[k], np.ndarray)
        assert dev.sums[k].dtype == np.float64
        np.testing.assert_allclose(dev.sums[k], v, rtol=1e-12, atol=0)
        np.testing.assert_allclose(dev.mean(k), host.mean(k), rtol=1e-12, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_pickling_and_merging_flush_first(device: str) -> None:
    frames, labels = _batch(7)
    a = MeanImages(("a", "b"))
    a.add(torch.from_numpy(frames).to(device), labels)
    blob = pickle.dumps(a)
    assert b"torch" not in blob
    back = pickle.loads(blob)
    ref = MeanImages(("a", "b"))
    ref.add(frames, labels)
    for k in ref.sums:
        np.testing.assert_allclose(back.sums[k], ref.sums[k], rtol=1e-12)
    b = MeanImages(("a", "b"))
    b.add(torch.from_numpy(frames).to(device), labels)
    both = b + back
    for k in ref.sums:
        np.testing.assert_allclose(both.sums[k], 2 * ref.sums[k], rtol=1e-12)
        assert both.counts[k] == 2 * ref.counts[k]
