"""The physics tasks a tagger is trained for: which samples, which objects, which channels.

A task fixes what "signal" and "background" mean, so that the training CLI, the shipped
taggers and the ROC in a run's summary all agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..frames.records import ObjectSelection
from ..frames.selection import ObjectCuts, select_objects
from ..layouts import LABEL_IDS, Layout

__all__ = ["TASKS", "Task", "class_mask", "get_task", "task_selection"]


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


def task_selection(
    task: Task, chunk: Any, layout: Layout, is_signal: bool, cuts: ObjectCuts
) -> ObjectSelection:
    """The task's signal or background objects of a chunk: the one object selection,
    then the truth label the class needs."""
    sel = select_objects(chunk, layout, task.kind, cuts)  # type: ignore[arg-type]
    rows = np.flatnonzero(sel.passed & class_mask(task, sel.records.label, is_signal))
    return ObjectSelection(sel.records.event[rows], sel.records.index[rows])


def class_mask(task: Task, labels: npt.NDArray[np.int64], is_signal: bool) -> npt.NDArray[np.bool_]:
    """Objects whose truth label fits the class: signal objects carry the signal label;
    background objects the background label (or any label but the signal's)."""
    if is_signal:
        return np.asarray(labels == LABEL_IDS[task.signal_label])
    if task.background_label is not None:
        return np.asarray(labels == LABEL_IDS[task.background_label])
    return np.asarray(labels != LABEL_IDS[task.signal_label])
