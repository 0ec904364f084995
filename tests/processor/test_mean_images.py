"""Per-label mean images: sums match a plain float64 reference, and chunks merge by ``+``."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea.processor.booking import MeanImages, label_names


@pytest.fixture
def frames_and_labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    frames = rng.exponential(1.0, size=(23, 2, 9, 9)).astype(np.float32)
    frames[frames < 1.5] = 0.0
    labels = rng.choice([0, 1, 2], size=23)  # quark, gluon, tau
    return frames, labels


def test_sums_and_counts_match_a_float64_reference(frames_and_labels):
    frames, labels = frames_and_labels
    mi = MeanImages(("a", "b"))
    mi.add(frames, labels)
    names = label_names(labels)
    assert set(mi.sums) == set(names)
    for name in set(names):
        sel = names == name
        ref = frames[sel].astype(np.float64)
        np.testing.assert_allclose(mi.sums[name], ref.sum(axis=0), rtol=1e-12)
        assert mi.counts[name] == int(sel.sum())
        np.testing.assert_allclose(mi.mean(name), ref.mean(axis=0), rtol=1e-12)


def test_chunks_merge_to_the_whole(frames_and_labels):
    frames, labels = frames_and_labels
    whole = MeanImages(("a", "b"))
    whole.add(frames, labels)
    first, second = MeanImages(("a", "b")), MeanImages(("a", "b"))
    first.add(frames[:10], labels[:10])
    second.add(frames[10:], labels[10:])
    merged = first + second
    assert merged.counts == whole.counts
    for name, s in whole.sums.items():
        np.testing.assert_allclose(merged.sums[name], s, rtol=1e-12)
    with pytest.raises(ValueError, match="cannot merge mean images"):
        _ = whole + MeanImages(("a",))
