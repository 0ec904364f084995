"""The training stream: units of the index -> objects of one split -> shuffled, weighted,
fixed-size batches, read by DataLoader worker processes.

:class:`ObjectStream` is the one way batches reach :func:`e2e_coffea.train.fit` and
:func:`e2e_coffea.train.predict`: files (:mod:`~e2e_coffea.train.data.sources`,
:mod:`~e2e_coffea.train.data.frame_files`) and arrays in memory
(:class:`~e2e_coffea.train.data.arrays.ArraySource`) alike are indexed and streamed here.

Every worker (of every data-parallel process) takes its own units: unit ``i`` of the
epoch's order goes to shard ``i % n_shards``, shard = ``rank * workers + worker``. The
order interleaves units rich in signal with units rich in background in proportion to
their counts; within a shard the objects of the two classes are then merged in
proportion (:class:`ClassMerger`), so that class-pure files (one process per file) still
give mixed batches, and a bounded shuffle buffer mixes objects across units. Memory is the buffer (plus one
unit and the prefetched batches) whatever the sample size. Everything random is seeded
by (seed, epoch, shard): the same seed and worker count give the same batches, and a
resumed epoch is the epoch it replaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ...exceptions import BadInputError
from ..tasks.definitions import Target
from .batch import Batch
from .index import SampleIndex, UnitPlan, as_is, keep_rows
from .sources import ObjectChunk
from .weights import Reweighting

__all__ = ["ClassMerger", "ObjectStream", "ShuffleBuffer", "interleave"]

Cols = dict[str, npt.NDArray[Any]]
_PIECE = 256
"""Objects per piece handed on by the shuffle buffer: bounds the copies in flight."""


class ShuffleBuffer:
    """A reservoir of at most ``capacity`` objects: each new object takes the place of a
    random old one, which leaves; :meth:`flush` empties the rest in random order. The
    store is allocated once, for ``min(capacity, expected)`` objects."""

    def __init__(
        self, capacity: int, rng: np.random.Generator, expected: int | None = None
    ) -> None:
        if capacity < 1:
            msg = f"shuffle buffer capacity must be >= 1, got {capacity}"
            raise BadInputError(msg)
        self.capacity = max(1, min(capacity, expected)) if expected is not None else capacity
        self.rng, self.size = rng, 0
        self.store: Cols = {}

    def _allocate(self, cols: Cols) -> None:
        if not self.store:
            self.store = {
                k: np.empty((self.capacity, *v.shape[1:]), v.dtype) for k, v in cols.items()
            }

    def push(self, cols: Cols) -> Iterator[Cols]:
        n = len(next(iter(cols.values())))
        m = min(self.capacity - self.size, n)
        if m:
            self._allocate(cols)
            for k, v in cols.items():
                self.store[k][self.size : self.size + m] = v[:m]
            self.size += m
        pos = m
        while pos < n:
            r = min(n - pos, self.capacity, _PIECE)
            slots = self.rng.choice(self.capacity, r, replace=False)
            yield {k: s[slots] for k, s in self.store.items()}  # fancy indexing copies
            for k, v in cols.items():
                self.store[k][slots] = v[pos : pos + r]
            pos += r

    def flush(self) -> Iterator[Cols]:
        """The objects left, in random order, in pieces (no second copy of the store)."""
        order = self.rng.permutation(self.size)
        store, self.store, self.size = self.store, {}, 0
        for lo in range(0, len(order), _PIECE):
            yield {k: s[order[lo : lo + _PIECE]] for k, s in store.items()}


class ClassMerger:
    """Objects of every class merged in proportion to their totals (``totals[c]``
    objects of class c will come): the class whose share so far lags most goes next, so
    a run of one class in the input (a class-pure file) does not reach the batches.
    The class of an object is its ``c`` column."""

    def __init__(self, totals: tuple[int, ...]) -> None:
        self.totals = totals
        k = len(totals)
        self.done = [0] * k
        self.queues: list[list[Cols]] = [[] for _ in range(k)]
        self.have = [0] * k

    def add(self, cols: Cols) -> None:
        for c in range(len(self.totals)):
            rows = cols["c"] == c
            n = int(rows.sum())
            if n:  # a class-pure unit (one process per file) is queued without a copy
                self.queues[c].append(
                    cols if n == len(rows) else {k: v[rows] for k, v in cols.items()}
                )
                self.have[c] += n

    def _pop(self, c: int, k: int) -> Cols:
        q = self.queues[c]
        cols = {key: np.concatenate([p[key] for p in q]) for key in q[0]} if len(q) > 1 else q[0]
        out = {key: v[:k] for key, v in cols.items()}
        rest = {key: v[k:] for key, v in cols.items()}
        self.queues[c] = [rest] if len(rest["c"]) else []
        self.have[c] -= k
        self.done[c] += k
        return out

    def _frac(self, c: int) -> float:
        return self.done[c] / self.totals[c] if self.totals[c] else np.inf

    def drain(self, final: bool = False) -> Iterator[Cols]:
        """Emit what the proportions allow; ``final``: the input is over, emit the rest."""
        classes = range(len(self.totals))
        while any(self.have):
            # the most lagging class goes next (ties: the lower class id)
            c = min(classes, key=lambda i: (self._frac(i), i))
            if not self.have[c]:
                if not final:
                    return
                c = min((i for i in classes if self.have[i]), key=lambda i: (self._frac(i), i))
            # as many as bring it level with the next most lagging class (at least one)
            others = [min(self._frac(i), 1.0) for i in classes if i != c and self.totals[i]]
            ahead = min(others) if others else 1.0
            k = (
                int(np.ceil(ahead * self.totals[c] - self.done[c]))
                if self.totals[c]
                else self.have[c]
            )
            yield self._pop(c, min(max(k, 1), self.have[c]))


def interleave(units: list[UnitPlan], split: int) -> list[UnitPlan]:
    """Units grouped by the class most of their objects belong to, merged so that the
    share of each group read so far follows its share of the split (deterministic)."""
    k = len(units[0].counts[split]) if units else 2
    lists: list[list[UnitPlan]] = [[] for _ in range(k)]
    for u in units:
        if u.n(split):
            counts = u.counts[split]  # ties go to the lower class id
            lists[max(range(k), key=lambda i: (counts[i], -i))].append(u)
    totals = [max(sum(u.n(split) for u in lst), 1) for lst in lists]
    done, pos, out = [0] * k, [0] * k, []
    while any(pos[c] < len(lists[c]) for c in range(k)):
        frac = [done[c] / totals[c] if pos[c] < len(lists[c]) else np.inf for c in range(k)]
        c = min(range(k), key=lambda i: (frac[i], i))
        u = lists[c][pos[c]]
        out.append(u)
        done[c] += u.n(split)
        pos[c] += 1
    return out


class ObjectStream:
    """Batches of one split (0 train, 1 val, 2 test) of an index; see the module doc.

    Iterating it runs one epoch through a DataLoader of ``workers`` processes (0: in
    this process), page-locked when ``pin_memory``; ``set_epoch`` picks the epoch's order.
    """

    def __init__(
        self,
        index: SampleIndex,
        split: int,
        batch_size: int,
        *,
        shuffle_buffer: int = 0,
        seed: int = 0,
        reweighting: Reweighting | None = None,
        rank: int = 0,
        world: int = 1,
        target: Target | None = None,
        scalar_norm: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
        workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise BadInputError(msg)
        if workers < 0:
            msg = f"workers must be >= 0, got {workers}"
            raise BadInputError(msg)
        self.workers, self.pin_memory = workers, pin_memory
        self.index, self.split, self.batch_size = index, split, batch_size
        self.shuffle_buffer, self.seed, self.epoch = shuffle_buffer, seed, 0
        self.reweighting = reweighting or Reweighting()
        self.rank, self.world = rank, world
        self.target, self.scalar_norm = target, scalar_norm

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self, epoch: int) -> list[UnitPlan]:
        """All units of the split in this epoch's order (before sharding)."""
        units = list(self.index.units)
        if self.shuffle_buffer:
            rng = np.random.default_rng([self.seed, epoch, 7])
            units = [units[i] for i in rng.permutation(len(units))]
            seq = [i for i, u in enumerate(units) if self.index.sources[u.source].sequential]
            ordered = sorted((units[i] for i in seq), key=lambda u: (u.source, u.start))
            for i, u in zip(seq, ordered, strict=True):  # compressed streams: read forward only
                units[i] = u
        return interleave(units, self.split)

    def shard(self, shard: int, n_shards: int) -> list[UnitPlan]:
        return self.order(self.epoch)[shard::n_shards]

    def _objects(self, u: UnitPlan) -> Cols:
        def wanted(c: ObjectChunk) -> npt.NDArray[np.bool_]:
            return np.asarray(keep_rows(c, u.take) & (c.split == self.split), dtype=bool)

        c = self.index.sources[u.source].read(u.start, u.stop, wanted)
        got = tuple(int((c.target == k).sum()) for k in range(len(u.counts[self.split])))
        name = self.index.sources[u.source].name
        if got != u.counts[self.split]:
            msg = f"{name} entries {u.start}..{u.stop}: read {got} objects per class, the index said {u.counts[self.split]}"
            raise BadInputError(msg)
        cols: Cols = {
            "x": c.inputs,  # type: ignore[dict-item]
            "c": c.target,
            "w": self.reweighting.weights(c.target, c.pt, c.abs_eta, c.value),
        }
        if self.target is None:
            cols["y"] = c.target.astype(np.float32)
        elif c.value is None:
            msg = f"{name}: no {self.target.truth!r} values for the regression target {self.target.name!r}"
            raise BadInputError(msg)
        else:
            cols["y"] = self.target.forward(c.value)
        if self.scalar_norm is not None:
            if c.scalars is None:
                msg = f"{name}: the model takes scalar inputs and the source gave none"
                raise BadInputError(msg)
            mean, std = self.scalar_norm
            cols["s"] = ((c.scalars - mean) / std).astype(np.float32)
        return cols

    def __iter__(self) -> Iterator[Batch]:
        """One epoch: a DataLoader, built anew so that its workers see the epoch number."""
        loader = DataLoader(
            _Shards(self), batch_size=None, num_workers=self.workers,
            pin_memory=self.pin_memory, collate_fn=as_is,
        )  # fmt: skip
        return iter(loader)

    def shard_batches(self, wid: int, nw: int) -> Iterator[Batch]:
        """The batches of DataLoader worker ``wid`` of ``nw`` (in this rank)."""
        shard = self.rank * nw + wid
        rng = np.random.default_rng([self.seed, self.epoch, shard])
        pending: list[Cols] = []
        n_pending = 0
        weighted = self.reweighting.mode != "none"

        def emit(pieces: Iterator[Cols]) -> Iterator[Batch]:
            nonlocal pending, n_pending
            bs = self.batch_size
            for piece in pieces:
                pending.append(piece)
                n_pending += len(piece["y"])
                if n_pending < bs:
                    continue
                cols = {k: np.concatenate([p[k] for p in pending]) for k in piece}
                n_full = n_pending // bs * bs
                for lo in range(0, n_full, bs):
                    yield _batch({k: v[lo : lo + bs] for k, v in cols.items()}, weighted)
                # copy the few left over, so that the big array can go
                pending = [{k: v[n_full:].copy() for k, v in cols.items()}]
                n_pending -= n_full

        units = self.shard(shard, self.world * nw)
        if not self.shuffle_buffer:
            for u in units:
                yield from emit(iter([self._objects(u)]))
        else:
            totals = tuple(
                sum(u.counts[self.split][c] for u in units) for c in range(self.index.n_classes)
            )
            merger = ClassMerger(totals)
            buf = ShuffleBuffer(self.shuffle_buffer, rng, expected=sum(totals))
            for u in units:
                merger.add(self._objects(u))
                for piece in merger.drain():
                    yield from emit(buf.push(piece))
            for piece in merger.drain(final=True):
                yield from emit(buf.push(piece))
            yield from emit(buf.flush())
        if n_pending:
            yield _batch({k: np.concatenate([p[k] for p in pending]) for k in pending[0]}, weighted)


def _batch(cols: Cols, weighted: bool) -> Batch:
    def tensor(key: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(cols[key]))

    return Batch(
        tensor("x"),
        tensor("y"),
        tensor("s") if "s" in cols else None,
        tensor("w") if weighted else None,
    )


class _Shards(IterableDataset[Batch]):
    """What each DataLoader worker iterates: its own shard of the stream."""

    def __init__(self, stream: ObjectStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        return self.stream.shard_batches(wid, nw)
