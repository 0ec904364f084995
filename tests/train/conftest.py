"""Synthetic frames with an easy, known answer: a bright central blob (1) or a ring (0)."""

from __future__ import annotations

import numpy as np
import pytest


def blob_or_ring(n: int, seed: int, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, size, size) frames: channel 0 holds the signal shape plus noise, channel 1 noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    blob = np.exp(-(r**2) / (2 * 2.0**2))
    ring = np.exp(-((r - 6.0) ** 2) / (2 * 1.0**2))
    shape = np.where(y[:, None, None] == 1, blob, ring) * rng.uniform(0.5, 1.5, (n, 1, 1))
    noise = 0.3 * rng.random((n, 2, size, size))
    x = noise + np.stack([shape, np.zeros_like(shape)], 1)
    return x.astype(np.float32), y.astype(np.float32)


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xt, yt = blob_or_ring(384, seed=1)
    xv, yv = blob_or_ring(192, seed=2)
    return xt, yt, xv, yv
