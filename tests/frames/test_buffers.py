"""Frame arrays are reused batch after batch, never while a caller holds them."""

from __future__ import annotations

import numpy as np

from e2e_coffea.frames.buffers import FrameBuffers


def _address(x: np.ndarray) -> int:
    return int(x.__array_interface__["data"][0])


def test_an_array_is_reused_only_once_nothing_holds_it():
    bufs = FrameBuffers(keep=2)
    a = bufs.get((10, 3, 4, 4))
    first = _address(a)
    held = a[2:5]  # a view of it is still held: not reusable
    del a
    b = bufs.get((8, 3, 4, 4))
    assert not np.shares_memory(b, held)
    del held
    c = bufs.get((6, 3, 4, 4))  # the first array, free again: its leading rows
    assert _address(c) == first
    assert c.shape == (6, 3, 4, 4)
    assert c.flags.c_contiguous
    assert c.dtype == np.float32


def test_a_list_of_every_batch_keeps_them_all_intact():
    bufs = FrameBuffers(keep=3)
    batches = []
    for k in range(6):
        x = bufs.get((5, 2, 3, 3))
        x[...] = k
        batches.append(x)
    assert [float(b.mean()) for b in batches] == [0, 1, 2, 3, 4, 5]


def test_a_different_shape_or_a_larger_batch_gets_a_new_array():
    bufs = FrameBuffers()
    a = bufs.get((4, 3, 4, 4))
    first = _address(a)
    del a
    assert _address(bufs.get((4, 2, 4, 4))) != first
    assert _address(bufs.get((9, 3, 4, 4))) != first
    assert _address(bufs.get((3, 3, 4, 4))) == first
