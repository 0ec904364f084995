"""The physics tasks a tagger is trained for: which samples, which objects, which channels.

A task fixes what "signal" and "background" mean, so that the training CLI, the shipped
taggers and the ROC in a run's summary all agree.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..frames.channels import required_branches
from ..frames.objects import object_table
from ..frames.records import ObjectSelection
from ..frames.selection import ObjectCuts, select_objects
from ..io.columns import plan_columns, read_columns
from ..io.profiles import BranchProfile, load_profile
from ..layouts import EVENT_ID_BRANCHES, LABEL_IDS, Layout, layout_of_tree

__all__ = ["TASKS", "Task", "TaskSample", "get_task", "load_task_frames", "task_selection"]


@dataclass(frozen=True)
class Task:
    """Signal objects come from ``signal_process`` with truth ``signal_label``; background
    objects from ``background_process`` with ``background_label`` (None: any label but
    the signal's)."""

    name: str
    signal_process: str
    background_process: str
    classes: tuple[str, str]
    kind: str  # "jet" or "eg"
    preset: str
    signal_label: str
    background_label: str | None
    description: str


TASKS: Final[dict[str, Task]] = {
    t.name: t
    for t in (
        Task(
            "tau",
            "tau",
            "qcd",
            ("qcd", "tau"),
            "jet",
            "tau13",
            "tau",
            None,
            "hadronic tau vs QCD jet (E2E tau tagging, 13 channels)",
        ),
        Task(
            "electron",
            "electron",
            "qcd_em",
            ("jet", "electron"),
            "jet",
            "top8",
            "electron",
            None,
            "electron vs EM-enriched QCD jet",
        ),
        Task(
            "eg",
            "photon",
            "electron",
            ("electron", "photon"),
            "eg",
            "eg",
            "photon",
            "electron",
            "photon vs electron, 32x32 EB crops (E2E e/gamma)",
        ),
        Task(
            "qg",
            "quark",
            "gluon",
            ("gluon", "quark"),
            "jet",
            "qg",
            "quark",
            "gluon",
            "quark vs gluon jet (E2E quark/gluon, track pT + ECAL + HCAL)",
        ),
        Task(
            "top",
            "top",
            "qcd",
            ("qcd", "top"),
            "jet",
            "top8",
            "top",
            None,
            "boosted top vs QCD jet (E2E top tagging, 8 channels)",
        ),
    )
}


def get_task(name: str) -> Task:
    """The task called ``name``; BadInputError lists the known ones."""
    if name not in TASKS:
        msg = f"unknown task {name!r}; choose from {', '.join(TASKS)}"
        raise BadInputError(msg)
    return TASKS[name]


@dataclass
class TaskSample:
    """Frames and targets of one task, with the per-event split (0 train, 1 val, 2 test)."""

    frames: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    split: npt.NDArray[np.int8]
    pt: npt.NDArray[np.float32]
    counts: dict[str, int]

    def part(self, which: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        sel = self.split == which
        return self.frames[sel], self.labels[sel]


def task_selection(
    task: Task, chunk: Any, layout: Layout, is_signal: bool, cuts: ObjectCuts
) -> ObjectSelection:
    """The task's signal or background objects of a chunk: the one object selection,
    then the truth label the class needs."""
    sel = select_objects(chunk, layout, task.kind, cuts)  # type: ignore[arg-type]
    label = sel.records.label
    if is_signal:
        want = label == LABEL_IDS[task.signal_label]
    elif task.background_label is not None:
        want = label == LABEL_IDS[task.background_label]
    else:
        want = label != LABEL_IDS[task.signal_label]
    rows = np.flatnonzero(sel.passed & want)
    return ObjectSelection(sel.records.event[rows], sel.records.index[rows])


def load_task_frames(
    task: Task,
    files: Iterable[tuple[str | os.PathLike[str], str, str]],
    *,
    channels: list[str] | str | None = None,
    norm: Any = "preset",
    cuts: ObjectCuts | None = None,
    max_objects: int | None = None,
    step: int = 500,
    branches: str | os.PathLike[str] | BranchProfile | None = None,
) -> TaskSample:
    """Frames of the task's objects from ``(path, tree, process)`` files, built on the fly.

    Frames stream from ROOT through :mod:`e2e_coffea.frames`; nothing is written to disk.
    Objects are split by a hash of (run, lumi, event), so the split never depends on file
    order or chunking. ``max_objects`` caps each class, keeping both balanced.
    """
    from ..frames import build_eg_frames, build_jet_frames, load_norm
    from ..io import open_tree
    from .split import split_of

    cuts = cuts or ObjectCuts()
    profile = load_profile(branches) if branches is not None else None
    chans = channels or task.preset
    nrm = load_norm(task.preset) if norm == "preset" else norm
    build = build_eg_frames if task.kind == "eg" else build_jet_frames
    parts: dict[int, list[tuple[Any, ...]]] = {0: [], 1: []}
    n_have = {0: 0, 1: 0}
    for path, tree_name, process in files:
        if process not in (task.signal_process, task.background_process):
            continue
        target = int(process == task.signal_process)
        if max_objects is not None and n_have[target] >= max_objects:
            continue
        layout = profile.layout if profile is not None else layout_of_tree(tree_name)
        tree = open_tree(path, layout)
        required = required_branches(chans, layout, frame=task.kind)  # type: ignore[arg-type]
        table = object_table(layout, task.kind)
        required += [table["seed_row"], table["seed_col"]]
        optional = [*table.values(), *EVENT_ID_BRANCHES[layout]]  # type: ignore[index]
        plan = plan_columns(tree.keys(), required, optional, profile, where=str(path))
        start = 0
        for raw in tree.iterate(step_size=step, filter_name=list(plan.file_names)):
            chunk = read_columns(raw, plan)
            first, start = start, start + len(raw)
            sel = task_selection(task, chunk, layout, bool(target), cuts)
            if len(sel) == 0:
                continue
            kw = {"objects": sel} if task.kind == "eg" else {"jets": sel}
            frames, rec = build(chunk, layout=layout, channels=chans, norm=nrm, **kw)  # type: ignore[arg-type]
            ids = _event_ids(chunk, layout, str(path), first)
            split = split_of(*(v[rec.event] for v in ids))
            parts[target].append((frames, split, rec.pt))
            n_have[target] += len(frames)
            if max_objects is not None and n_have[target] >= max_objects:
                break
    if not parts[0] or not parts[1]:
        msg = (
            f"task {task.name!r} needs objects from both {task.signal_process!r} (signal, truth "
            f"{task.signal_label}) and {task.background_process!r}; found "
            f"{n_have[1]} signal and {n_have[0]} background objects in the fileset"
        )
        raise BadInputError(msg)
    frames, labels, split, pt = [], [], [], []
    for target in (0, 1):
        f = np.concatenate([p[0] for p in parts[target]])[:max_objects]
        frames.append(f)
        labels.append(np.full(len(f), target, np.int64))
        split.append(np.concatenate([p[1] for p in parts[target]])[:max_objects].astype(np.int8))
        pt.append(np.concatenate([p[2] for p in parts[target]])[:max_objects])
    return TaskSample(
        np.concatenate(frames),
        np.concatenate(labels),
        np.concatenate(split),
        np.concatenate(pt),
        {"signal": len(frames[1]), "background": len(frames[0])},
    )


def _event_ids(chunk: Any, layout: str, path: str, first: int) -> tuple[npt.NDArray[np.int64], ...]:
    """(run, lumi, event) per event; a file without them splits by (file, entry) instead,
    which is as deterministic, though not shared between two copies of the same events."""
    names = EVENT_ID_BRANCHES[layout]  # type: ignore[index]
    if all(n in chunk.fields for n in names):
        return tuple(np.asarray(ak.to_numpy(chunk[n]), dtype=np.int64) for n in names)
    n = len(chunk)
    tag = int.from_bytes(hashlib.sha256(path.encode()).digest()[:4], "little")
    return (
        np.full(n, tag, np.int64),
        np.zeros(n, np.int64),
        np.arange(first, first + n, dtype=np.int64),
    )
