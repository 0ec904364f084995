"""Arrays in memory as a training source: the stream gives back every object of a split
once, with its label and scalars, and bad arrays are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.train import ArraySource, ObjectStream, build_index


def test_each_object_of_its_split_once_with_its_label_and_scalars() -> None:
    n = 50
    ids = np.arange(n, dtype=np.float32)
    x = np.broadcast_to(ids[:, None, None, None], (n, 1, 2, 2))
    y = np.arange(n) % 2
    split = np.arange(n) % 3
    src = ArraySource(x, y, split=split, scalars=np.stack([ids, -ids], 1))
    index = build_index([src], step=7)
    assert index.count(1, 0) + index.count(1, 1) == int((split == 1).sum())
    for s in (0, 1, 2):
        got = list(ObjectStream(index, s, 4, shuffle_buffer=10, seed=1,
                                scalar_norm=(np.zeros(2), np.ones(2))))  # fmt: skip
        seen = np.concatenate([b.frames[:, 0, 0, 0].numpy() for b in got]).astype(int)
        assert sorted(seen.tolist()) == np.flatnonzero(split == s).tolist()
        labels = np.concatenate([b.labels.numpy() for b in got])
        np.testing.assert_array_equal(labels, y[seen])
        scalars = np.concatenate([b.scalars.numpy() for b in got])
        np.testing.assert_array_equal(scalars[:, 1], -seen)


def test_bad_arrays_are_refused_in_one_line() -> None:
    x = np.zeros((4, 1, 2, 2), np.float32)
    with pytest.raises(BadInputError, match="target has 3 rows, the inputs have 4"):
        ArraySource(x, [0, 1, 0])
    with pytest.raises(BadInputError, match=r"split must be 0, 1 or 2, got \[0, 3\]"):
        ArraySource(x, [0, 1, 0, 1], split=[0, 0, 3, 0])
    with pytest.raises(BadInputError, match=r"scalars must have shape \(4, n_scalars\)"):
        ArraySource(x, [0, 1, 0, 1], scalars=np.zeros(4))
    index = build_index([ArraySource(x, [0, 1, 0, 1])], step=2)
    with pytest.raises(BadInputError, match="workers must be >= 0, got -1"):
        ObjectStream(index, 0, 2, workers=-1)
