"""The physics tasks a tagger is trained for: which samples, which objects, which channels.

A task fixes what "signal" and "background" mean, so that the training CLI, the shipped
taggers and the ROC in a run's summary all agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import awkward as ak
import numpy as np
import numpy.typing as npt

from .exceptions import BadInputError
from .layouts import LABEL_IDS
from .objects import EVENT_ID_BRANCHES, OBJECT_BRANCHES, object_branches
from .processor import JetCuts, layout_of_tree

__all__ = ["TASKS", "Task", "TaskSample", "get_task", "load_task_frames"]


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


def _object_mask(task: Task, chunk: Any, layout: str, is_signal: bool, cuts: JetCuts) -> Any:
    k = OBJECT_BRANCHES[layout]  # type: ignore[index]
    pre = "eg_" if task.kind == "eg" else ""
    label = chunk[k[pre + "label"]]
    mask = (chunk[k[pre + "pt"]] > cuts.pt_min) & (abs(chunk[k[pre + "eta"]]) < cuts.abs_eta_max)
    if task.kind == "jet" and cuts.require_in_frame:
        mask = mask & (chunk[k["in_frame"]] != 0)
    if is_signal:
        return mask & (label == LABEL_IDS[task.signal_label])
    if task.background_label is not None:
        return mask & (label == LABEL_IDS[task.background_label])
    return mask & (label != LABEL_IDS[task.signal_label])


def load_task_frames(
    task: Task,
    files: Iterable[tuple[str | os.PathLike[str], str, str]],
    *,
    channels: list[str] | str | None = None,
    norm: Any = "preset",
    cuts: JetCuts | None = None,
    max_objects: int | None = None,
    step: int = 500,
) -> TaskSample:
    """Frames of the task's objects from ``(path, tree, process)`` files, built on the fly.

    Frames stream from ROOT through :mod:`e2e_coffea.frames`; nothing is written to disk.
    Objects are split by a hash of (run, lumi, event), so the split never depends on file
    order or chunking. ``max_objects`` caps each class, keeping both balanced.
    """
    from .frames import build_eg_frames, build_jet_frames, load_norm
    from .io import open_tree
    from .train import split_of

    cuts = cuts or JetCuts()
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
        layout = layout_of_tree(tree_name)
        tree = open_tree(path, layout)
        for chunk in tree.iterate(step_size=step, filter_name=_branch_filter(task, chans, layout)):
            mask = _object_mask(task, chunk, layout, bool(target), cuts)
            from .frames import JetSelection

            sel = JetSelection.from_mask(mask)
            if len(sel) == 0:
                continue
            kw = {"objects": sel} if task.kind == "eg" else {"jets": sel}
            frames, rec = build(chunk, layout=layout, channels=chans, norm=nrm, **kw)  # type: ignore[arg-type]
            ids = _event_ids(chunk, layout)
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


def _event_ids(chunk: Any, layout: str) -> tuple[npt.NDArray[np.int64], ...]:
    return tuple(
        np.asarray(ak.to_numpy(chunk[n]), dtype=np.int64) for n in EVENT_ID_BRANCHES[layout]
    )  # type: ignore[index]


def _branch_filter(task: Task, channels: list[str] | str, layout: str) -> Any:
    keep = set(object_branches(channels, layout, task.kind))  # type: ignore[arg-type]
    keep |= set(EVENT_ID_BRANCHES[layout])  # type: ignore[index]
    return lambda name: name in keep
