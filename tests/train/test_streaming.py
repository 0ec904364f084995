"""The training stream: every object of its split exactly once per epoch, mixed classes,
bounded shuffling, deterministic per (seed, epoch, workers), weights per object."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.train import (
    ObjectChunk,
    ObjectStream,
    ShuffleBuffer,
    build_index,
    fit_reweighting,
)
from e2e_coffea.train.data.index import keep_rows
from e2e_coffea.train.data.sources import units_of
from e2e_coffea.train.data.split import split_of
from e2e_coffea.train.data.streaming import interleave


class ArraySource:
    """A class-pure 'file' of ``n`` objects whose input is its global id (for checks)."""

    sequential = False

    def __init__(self, first: int, n: int, target: int) -> None:
        self.name = f"array{first}"
        self.ids = np.arange(first, first + n)
        self.target = target
        rng = np.random.default_rng(first)
        self.pt = (20 + rng.exponential(50.0 if target else 30.0, n)).astype(np.float32)
        self.split = split_of(np.ones(n, np.int64), np.zeros(n, np.int64), self.ids)

    def units(self, step: int) -> list[tuple[int, int]]:
        return units_of(len(self.ids), step)

    def scan(self, a: int, b: int) -> ObjectChunk:
        n = b - a
        return ObjectChunk(np.full(n, self.target, np.int64), self.split[a:b], self.pt[a:b],
                           np.zeros(n, np.float32))  # fmt: skip

    def read(self, a: int, b: int, select: Any = None) -> ObjectChunk:
        c = self.scan(a, b)
        rows = np.flatnonzero(select(c)) if select is not None else np.arange(b - a)
        x = np.broadcast_to(self.ids[a:b][rows, None, None, None], (len(rows), 1, 2, 2))
        return ObjectChunk(
            c.target[rows], c.split[rows], c.pt[rows], c.abs_eta[rows], x.astype(np.float32)
        )


def sources() -> list[ArraySource]:
    """Three background files, then two signal files: class-pure and in class order."""
    return [ArraySource(0, 300, 0), ArraySource(300, 250, 0), ArraySource(550, 280, 0),
            ArraySource(1000, 200, 1), ArraySource(1200, 220, 1)]  # fmt: skip


def ids_of(batches: list) -> np.ndarray:
    return np.concatenate([b.frames[:, 0, 0, 0].numpy() for b in batches]).astype(np.int64)


def test_each_object_of_the_split_once_in_mixed_fixed_size_batches() -> None:
    srcs = sources()
    index = build_index(srcs, step=50)
    want = {int(i) for s in srcs for i in s.ids[s.split == 0]}
    stream = ObjectStream(index, 0, 16, shuffle_buffer=64, seed=3)
    batches = list(stream)
    got = ids_of(batches)
    assert len(got) == len(want) == len(set(got.tolist()))
    assert set(got.tolist()) == want
    assert all(len(b) == 16 for b in batches[:-1])
    fractions = [float(b.labels.mean()) for b in batches[:-1]]
    assert min(fractions) > 0.0  # class-pure files, yet every batch is mixed
    assert max(fractions) < 1.0
    labels = {int(i): s.target for s in srcs for i in s.ids}
    assert all(
        labels[int(i)] == y
        for b in batches
        for i, y in zip(ids_of([b]), b.labels.numpy(), strict=True)
    )
    val = ids_of(list(ObjectStream(index, 1, 16)))
    assert set(val.tolist()) == {int(i) for s in srcs for i in s.ids[s.split == 1]}


def test_same_seed_same_batches_other_epoch_other_order_and_workers() -> None:
    index = build_index(sources(), step=40)
    rw = fit_reweighting("pt", index.pt, min_count=5)
    stream = ObjectStream(index, 0, 32, shuffle_buffer=100, seed=5, reweighting=rw)
    first = ids_of(list(stream))
    again = ObjectStream(index, 0, 32, shuffle_buffer=100, seed=5, reweighting=rw)
    np.testing.assert_array_equal(first, ids_of(list(again)))
    stream.set_epoch(1)
    second = ids_of(list(stream))
    assert not np.array_equal(first, second)
    assert sorted(first) == sorted(second)
    # two worker processes: the same objects with the same weights, in another order
    loader = ObjectStream(index, 0, 32, shuffle_buffer=100, seed=5, reweighting=rw, workers=2)
    by_worker = list(loader)
    single = {int(i): float(w) for b in list(ObjectStream(index, 0, 7, reweighting=rw))
              for i, w in zip(ids_of([b]), b.weights.numpy(), strict=True)}  # fmt: skip
    multi = {
        int(i): float(w)
        for b in by_worker
        for i, w in zip(ids_of([b]), b.weights.numpy(), strict=True)
    }
    assert multi == single  # weights survive chunking, batching and workers
    assert ids_of(list(loader)).tolist() == ids_of(by_worker).tolist()  # same order again


def test_data_parallel_shards_partition_the_epoch() -> None:
    index = build_index(sources(), step=30)
    parts = [ids_of(list(ObjectStream(index, 0, 8, shuffle_buffer=20, seed=1, rank=r, world=3)))
             for r in range(3)]  # fmt: skip
    merged = np.concatenate(parts)
    assert len(merged) == len(set(merged.tolist())) == index.count(0, 0) + index.count(0, 1)
    assert all(len(p) > 0 for p in parts)


def test_max_objects_takes_objects_from_every_file_in_turn() -> None:
    """A cap takes one unit of every file in turn, so every file (dataset) contributes:
    in file order the first background file alone would fill the 400."""
    srcs = sources()
    index = build_index(srcs, step=64, max_objects=400)
    counts = index.counts()
    assert sum(counts[s]["background"] for s in counts) == 400
    assert sum(counts[s]["signal"] for s in counts) == 400
    every = np.concatenate([ids_of(list(ObjectStream(index, s, 50))) for s in (0, 1, 2)])
    per_file = [int(((every >= s.ids[0]) & (every <= s.ids[-1])).sum()) for s in srcs]
    # background: two rounds of 64 from each file (384), then 16 from the first file;
    # signal: three rounds (384), then the 8-object tail of the first file and 8 more
    assert per_file == [144, 128, 128, 200, 200]
    # the first units of each file, in turn: each file's objects are its first ones
    for src, n in zip(srcs, per_file, strict=True):
        got = np.sort(every[(every >= src.ids[0]) & (every <= src.ids[-1])])
        np.testing.assert_array_equal(got, src.ids[:n])
    with pytest.raises(BadInputError, match="max_objects"):
        build_index(srcs, step=64, max_objects=0)


def test_shuffle_buffer_is_a_bounded_permutation() -> None:
    rng = np.random.default_rng(0)
    buf = ShuffleBuffer(50, rng)
    out = []
    for lo in range(0, 1000, 70):
        x = np.arange(lo, min(lo + 70, 1000))
        out += [p["x"] for p in buf.push({"x": x, "y": -x})]
        assert len(buf.store["x"]) <= 50
    out += [p["x"] for p in buf.flush()]
    got = np.concatenate(out)
    np.testing.assert_array_equal(np.sort(got), np.arange(1000))
    assert np.mean(np.abs(got - np.arange(1000))) > 5  # moved, within the buffer's reach
    with pytest.raises(BadInputError):
        ShuffleBuffer(0, rng)


def test_interleave_and_keep_rows() -> None:
    index = build_index(sources(), step=50)
    order = interleave(index.units, 0)
    per_class = np.array([u.counts[0] for u in order], float)
    shares = np.cumsum(per_class, 0) / per_class.sum(0)  # share of each class read so far
    one_unit = (per_class / per_class.sum(0)).max()
    assert np.abs(shares[:, 0] - shares[:, 1]).max() <= one_unit  # in step, within one unit
    assert Counter(id(u) for u in order) == Counter(id(u) for u in index.units if u.n(0))
    c = sources()[0].scan(0, 10)
    assert keep_rows(c, (3, None)).tolist() == [True] * 3 + [False] * 7


def test_three_classes_stream_mixed_and_complete() -> None:
    """A multi-class task: class-pure files of three classes, each object once, batches
    holding every class, the cap and the counts per class."""
    srcs = [ArraySource(0, 300, 0), ArraySource(300, 250, 0), ArraySource(1000, 200, 1),
            ArraySource(2000, 220, 2), ArraySource(2300, 90, 2)]  # fmt: skip
    index = build_index(srcs, step=40, class_names=("qcd", "electron", "tau"))
    assert set(index.counts()["train"]) == {"qcd", "electron", "tau"}
    batches = list(ObjectStream(index, 0, 24, shuffle_buffer=64, seed=1))
    got = ids_of(batches)
    want = {int(i) for s in srcs for i in s.ids[s.split == 0]}
    assert len(got) == len(want) == len(set(got.tolist()))
    assert set(got.tolist()) == want
    classes = [set(b.labels.numpy().astype(int).tolist()) for b in batches[:-1]]
    assert sum(c == {0, 1, 2} for c in classes) > 0.8 * len(classes)
    capped = build_index(srcs, step=40, max_objects=100, class_names=("a", "b", "c"))
    assert [sum(capped.count(s, c) for s in range(3)) for c in range(3)] == [100, 100, 100]
    with pytest.raises(BadInputError, match=r"class ids \[2\] outside 0..1"):
        build_index(srcs[3:], step=40)
