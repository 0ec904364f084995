"""Where training objects come from: ROOT files of a task, built into frames or point
clouds on the fly, read in units of consecutive entries.

A source answers two questions per unit ``[start, stop)``: :meth:`~ObjectSource.scan` (cheap: which
objects, of which class, in which split, at which pT and |eta|; only the object
branches are read) and :meth:`~ObjectSource.read` (the same objects with their model inputs). Both
apply the one object selection (:func:`e2e_coffea.frames.select_objects`) and the task's
truth requirement, so they always agree. Frames files (npz, ML4SCI) are sources too
(:mod:`e2e_coffea.train.data.frame_files`). Sources hold no open file when pickled, so each
DataLoader worker opens its own.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, Protocol

import awkward as ak
import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError
from ...frames.model_inputs import ModelInputs
from ...frames.objects import flavour_records, object_table, object_values
from ...frames.records import ObjectRecords, ObjectSelection
from ...frames.selection import ObjectCuts, select_objects
from ...io.columns import ColumnPlan, plan_columns, read_columns
from ...io.profiles import BranchProfile
from ...layouts import EVENT_ID_BRANCHES, Layout, layout_of_tree
from ..tasks.definitions import Task, class_mask
from .split import split_of

__all__ = [
    "ObjectChunk",
    "ObjectSource",
    "RootTaskSource",
    "Select",
    "event_ids",
    "units_of",
]


@dataclass(frozen=True)
class ObjectChunk:
    """Objects of one unit: class ``target`` (0..k-1), ``split`` (0 train, 1 val, 2
    test), ``pt``, ``abs_eta`` (NaN where unknown), the regression truth ``value``
    (physical units; None for classification), the raw ``scalars`` (n, s) and, from
    :meth:`ObjectSource.read`, the model ``inputs`` (n, C, H, W) or (n, N, F)."""

    target: npt.NDArray[np.int64]
    split: npt.NDArray[np.int8]
    pt: npt.NDArray[np.float32]
    abs_eta: npt.NDArray[np.float32]
    inputs: npt.NDArray[np.float32] | None = None
    value: npt.NDArray[np.float32] | None = None
    scalars: npt.NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: npt.NDArray[Any]) -> ObjectChunk:
        def sub(a: npt.NDArray[Any] | None) -> Any:
            return None if a is None else a[rows]

        return ObjectChunk(
            self.target[rows], self.split[rows], self.pt[rows], self.abs_eta[rows],
            sub(self.inputs), sub(self.value), sub(self.scalars),
        )  # fmt: skip

    def with_inputs(self, x: npt.NDArray[np.float32]) -> ObjectChunk:
        return replace(self, inputs=x)


Select = Callable[[ObjectChunk], npt.NDArray[np.bool_]]
"""Which objects of a unit to read (from their class, split, pT, |eta|): the others'
inputs are never built."""


class ObjectSource(Protocol):
    """A file of training objects, read by units of consecutive entries (or rows)."""

    name: str
    sequential: bool
    """True when reading backwards is expensive (a compressed stream): read units in order."""

    def units(self, step: int) -> list[tuple[int, int]]: ...

    def scan(self, start: int, stop: int) -> ObjectChunk: ...

    def read(self, start: int, stop: int, select: Select | None = None) -> ObjectChunk: ...


def units_of(n: int, step: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``step`` entries covering ``0..n``."""
    return [(a, min(a + step, n)) for a in range(0, n, max(step, 1))]


def event_ids(
    chunk: Any, layout: Layout, path: str, first: int
) -> tuple[npt.NDArray[np.int64], ...]:
    """(run, lumi, event) per event; a file without them splits by (file, entry) instead,
    which is as deterministic, though not shared between two copies of the same events."""
    names = EVENT_ID_BRANCHES[layout]
    if all(n in chunk.fields for n in names):
        return tuple(np.asarray(ak.to_numpy(chunk[n]), dtype=np.int64) for n in names)
    return fallback_ids(path, np.arange(first, first + len(chunk), dtype=np.int64))


def fallback_ids(path: str, entry: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """(hash of the file name, 0, entry): the split key of a file without event numbers."""
    tag = int.from_bytes(hashlib.sha256(os.path.basename(path).encode()).digest()[:4], "little")
    return np.full(len(entry), tag, np.int64), np.zeros(len(entry), np.int64), entry


class RootTaskSource:
    """The task's objects of one ROOT file whose process makes them class ``target``:
    inside the task's range (``cuts``, default the task's), with the class's truth label
    and, for a regression, a truth value (objects without one, e.g. a jet with no matched
    generator jet, have nothing to learn and are not the task's)."""

    sequential = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        tree_name: str | None,
        target: int,
        task: Task,
        spec: ModelInputs,
        *,
        profile: BranchProfile | None = None,
        cuts: ObjectCuts | None = None,
    ) -> None:
        self.name, self.target, self.task, self.spec = str(path), int(target), task, spec
        self.profile, self.cuts = profile, cuts or task.cuts()
        self.layout: Layout = (
            profile.layout if profile is not None else layout_of_tree(tree_name or "Events")
        )
        self._tree: Any = None
        self._file: ExitStack | None = None
        self._pid = -1
        self._plans: dict[bool, ColumnPlan] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tree": None, "_file": None, "_pid": -1}

    def _open(self) -> Any:
        """The file's tree, opened once per process; the file stays open as long as this
        source (it closes when the source is dropped)."""
        if self._tree is None or self._pid != os.getpid():
            from ...io import open_tree

            self._file = ExitStack()
            self._tree = self._file.enter_context(open_tree(self.name, self.layout))
            self._pid = os.getpid()
        return self._tree

    def _plan(self, inputs: bool) -> ColumnPlan:
        if inputs not in self._plans:
            table = object_table(self.layout, self.spec.kind)
            # scan: the objects' seeds and the scalars; read: everything the inputs need
            spec = self.spec
            required = spec.branches(self.layout) if inputs else spec.object_branches(self.layout)
            target = self.task.target
            if target is not None:
                if target.truth not in table:
                    msg = f"{self.name}: the {self.layout} layout has no branch for {target.truth!r}, the truth of task {self.task.name!r}"
                    raise BadInputError(msg)
                required.append(table[target.truth])
            if self.task.labels != "label":
                if self.task.labels not in table:
                    msg = f"{self.name}: the {self.layout} layout has no {self.task.labels!r} branch, the labels of task {self.task.name!r}"
                    raise BadInputError(msg)
                required.append(table[self.task.labels])
            optional = [*table.values(), *EVENT_ID_BRANCHES[self.layout]]
            self._plans[inputs] = plan_columns(
                self._open().keys(), required, optional, self.profile, where=self.name
            )
        return self._plans[inputs]

    def units(self, step: int) -> list[tuple[int, int]]:
        return units_of(int(self._open().num_entries), step)

    def _chunk(self, start: int, stop: int, inputs: bool) -> Any:
        plan = self._plan(inputs)
        raw = self._open().arrays(
            filter_name=list(plan.file_names), entry_start=start, entry_stop=stop
        )
        return read_columns(raw, plan)

    def _truth(self, chunk: Any, rec: ObjectRecords, start: int) -> npt.NDArray[np.float32] | None:
        target = self.task.target
        if target is None:
            return None
        v = object_values(chunk, self.layout, self.spec.kind, target.truth,  # type: ignore[arg-type]
                          rec.event, rec.index, entry_offset=start)  # fmt: skip
        if v is None:  # the plan requires the branch: only a profile can leave it out
            msg = f"{self.name}: no {target.truth!r} truth for task {self.task.name!r}"
            raise BadInputError(msg)
        return np.asarray(v, np.float32)

    def _objects(
        self, chunk: Any, start: int
    ) -> tuple[ObjectRecords, npt.NDArray[np.float32] | None]:
        sel = select_objects(chunk, self.layout, self.spec.kind, self.cuts, entry_offset=start)  # type: ignore[arg-type]
        records = sel.records
        if self.task.labels == "hadron_flavour":
            records = flavour_records(chunk, self.layout, self.spec.kind, records,  # type: ignore[arg-type]
                                      entry_offset=start)  # fmt: skip
        keep = sel.passed & class_mask(self.task, records.label, self.target)
        rec = records.take(np.flatnonzero(keep))
        value = self._truth(chunk, rec, start)
        if value is not None:  # a regression learns only from objects with a true value
            has = np.isfinite(value) & (value > 0)
            rec, value = rec.take(np.flatnonzero(has)), value[has]
        return rec, value

    def _chunk_of(
        self, chunk: Any, start: int, rec: ObjectRecords, value: npt.NDArray[np.float32] | None
    ) -> ObjectChunk:
        ids = event_ids(chunk, self.layout, self.name, start)
        run, lumi, event = (v[rec.event] for v in ids)
        split = split_of(run, lumi, event) if len(rec) else np.zeros(0, np.int8)
        scalars = self.spec.scalar_values(chunk, rec, self.layout)
        return ObjectChunk(
            np.full(len(rec), self.target, np.int64), split.astype(np.int8),
            np.asarray(rec.pt, np.float32), np.abs(np.asarray(rec.eta, np.float32)), None,
            value, scalars,
        )  # fmt: skip

    def scan(self, start: int, stop: int) -> ObjectChunk:
        chunk = self._chunk(start, stop, inputs=False)
        rec, value = self._objects(chunk, start)
        return self._chunk_of(chunk, start, rec, value)

    def read(self, start: int, stop: int, select: Select | None = None) -> ObjectChunk:
        chunk = self._chunk(start, stop, inputs=True)
        rec, value = self._objects(chunk, start)
        objects = self._chunk_of(chunk, start, rec, value)
        if select is not None:  # frames only for the objects wanted (a split, a cap)
            rows = np.flatnonzero(select(objects))
            rec, objects = rec.take(rows), objects.take(rows)
        frames, _ = self.spec.frames(chunk, self.layout, ObjectSelection(rec.event, rec.index))
        return objects.with_inputs(np.asarray(frames, np.float32))
