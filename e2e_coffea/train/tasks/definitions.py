"""The physics tasks a tagger is trained for: which samples, which objects, which channels,
in which kinematic range, predicting what.

A task fixes what each class (or, for a regression, the regressed quantity) means, so
that the training CLI, the shipped taggers and the figures in a run's summary all agree.
Three kinds: binary classification (two samples: background, then signal; one logit),
multi-class classification (one sample per class; one logit per class) and regression
(one or more samples whose objects carry the target's generator truth).

Each task has a kinematic range (:class:`~e2e_coffea.frames.selection.KinematicRange`,
the one range type): training takes only objects inside it, the contract records it as
``validity`` (:meth:`KinematicRange.to_dict`), and the main job measures the tagger
there. Ranges are chosen where every class has objects in our samples (the per-task
comments say which sample limits them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError
from ...export.targets import from_network, to_network
from ...frames import KinematicRange
from ...frames.records import ObjectSelection
from ...frames.selection import ObjectCuts, select_objects
from ...geometry import jet_frame_abs_eta_max
from ...layouts import LABEL_IDS, Layout, ObjectKind

__all__ = [
    "TASKS",
    "KinematicRange",
    "Sample",
    "Target",
    "Task",
    "class_mask",
    "get_task",
    "task_selection",
]


@dataclass(frozen=True)
class Sample:
    """The objects of one class (or one regression sample): from files of ``process``
    (one name, or several joined by ``+``: ``top+qcd``) with truth label ``label``;
    ``label=None`` means any label but the other samples'."""

    name: str
    process: str
    label: str | None

    @property
    def process_names(self) -> tuple[str, ...]:
        return tuple(self.process.split("+"))


@dataclass(frozen=True)
class Target:
    """A regression target: the contract's ``target`` (``truth`` is the object quantity of
    :data:`~e2e_coffea.layouts.OBJECT_BRANCHES` that holds the true value; the network
    learns ``transform(truth)`` and inference undoes it)."""

    name: str
    unit: str
    transform: str
    truth: str
    range: tuple[float, float] | None = None

    def forward(self, values: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The transformed truth the network is trained on."""
        return to_network(values, self.transform, f"target {self.name!r}").astype(np.float32)

    def inverse(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Network outputs in physical units."""
        return from_network(values, self.transform, f"target {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "unit": self.unit, "transform": self.transform, "truth": self.truth,
        }  # fmt: skip
        if self.range is not None:
            out["range"] = list(self.range)
        return out


@dataclass(frozen=True)
class Task:
    """One task: ``samples`` in class order (binary: background, then signal), the object
    ``kind`` (``jet``, ``fatjet`` or ``eg``), the channel ``preset``, the kinematic
    ``range`` and, for a regression, its ``target``. ``labels``: where the truth label
    comes from: ``label`` (the objects' label branch) or ``hadron_flavour`` (b / c /
    light from ``Jet_hadronFlavour``, :func:`e2e_coffea.frames.objects.flavour_records`)."""

    name: str
    samples: tuple[Sample, ...]
    kind: ObjectKind
    preset: str
    range: KinematicRange
    description: str
    target: Target | None = None
    labels: str = "label"

    @property
    def task_type(self) -> str:
        """``classification`` or ``regression`` (the contract's ``task``)."""
        return "regression" if self.target is not None else "classification"

    @property
    def n_classes(self) -> int:
        """Classes the objects fall in (regression: its samples)."""
        return len(self.samples)

    @property
    def classes(self) -> tuple[str, ...]:
        """The contract's ``class_names``: one per class, or the regressed quantity."""
        if self.target is not None:
            return (self.target.name,)
        return tuple(s.name for s in self.samples)

    @property
    def n_outputs(self) -> int:
        """Width of the network's output: 1 for a binary task or a regression."""
        return 1 if self.target is not None or self.n_classes == 2 else self.n_classes

    @property
    def processes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for s in self.samples for p in s.process_names))

    def class_of_process(self, process: str) -> int | None:
        """The first class whose objects come from ``process`` (None: the task does not
        use it); :meth:`classes_of_process` for tasks whose processes feed several."""
        found = self.classes_of_process(process)
        return found[0] if found else None

    def classes_of_process(self, process: str) -> tuple[int, ...]:
        """Every class with objects from ``process`` (b tagging: ttbar gives b and light)."""
        return tuple(i for i, s in enumerate(self.samples) if process in s.process_names)

    def cuts(self) -> ObjectCuts:
        return self.range.cuts()

    def describe(self) -> str:
        """One line naming each sample's process and truth requirement."""
        parts = [
            f"{s.name}: {s.process!r} with truth {s.label or 'any other'}" for s in self.samples
        ]
        return "; ".join(parts)


# pT ranges [GeV]. Jets must have their 125x125 window inside the ECAL grid, so their
# |eta| range is the frame's acceptance (|eta| < 1.392, ObjectCuts.require_in_frame), and
# the contract says so; e/gamma crops are EB crystals, whose fiducial edge is
# |eta| < 1.4442 [CMS, JINST 10 (2015) P06005, sec. 2].
_JET_ETA: Final = jet_frame_abs_eta_max()
_LOW = KinematicRange(20.0, 100.0, _JET_ETA)
"""Taus and electrons from Z decays (visible pT ~20-60 GeV in our samples): above 100 GeV
our Drell-Yan samples hold too few to train on or to measure."""
_EB = KinematicRange(20.0, 100.0, 1.4442)
_QG = KinematicRange(70.0, 340.0, _JET_ETA)
"""The jet pT range of the public E2E quark/gluon dataset [Andrews et al., NIM A 977
(2020) 164304, arXiv:1902.08276], which sim.processes.QG_PTHAT_BINS fills."""
_FATJET = KinematicRange(400.0, 1000.0, _JET_ETA)
"""Boosted top on R = 0.8 jets: FatJet pT > 400 GeV, where a top's b, q and q' fall
inside dR < 0.8 (dR ~ 2 m_t / pT); as the E2E boosted-top study [Andrews et al., EPJ Web
Conf. 251 (2021) 04030, arXiv:2104.14659] and CMS's top taggers [CMS, JINST 15 (2020)
P06005]. The ttbar sample (pT-hat > 400 GeV) and qcd_boosted (pT-hat 300-800 GeV) fill it
up to ~1 TeV."""
_BTAG = KinematicRange(30.0, 1000.0, _JET_ETA)
"""b tagging: R = 0.4 jets above 30 GeV, as CMS's b-tagging performance is quoted
[CMS, JINST 13 (2018) P05011]; ttbar gives b jets, ttbar and QCD light ones."""

_TAU_FAKES = Sample("qcd", "qcd+wjets", None)
"""The jets a hadronic tau is mistaken for: QCD multijets and W+jets (quark-enriched,
isolated: the fake source of a W/Z -> tau analysis [CMS, JINST 13 (2018) P10005]); the
class keeps the name ``qcd`` that contracts and summaries use. Either process suffices."""
_QCD_BOOSTED = Sample("qcd", "qcd_boosted", None)
_TOP = Sample("top", "top", "top")
_TAU = Sample("tau", "tau", "tau")

TASKS: Final[dict[str, Task]] = {
    t.name: t
    for t in (
        Task("tau", (_TAU_FAKES, _TAU), "jet", "tau13", _LOW,
             "hadronic tau vs QCD or W+jets jet (E2E tau tagging, 13 channels)"),
        Task("electron", (Sample("jet", "qcd_em", None), Sample("electron", "electron", "electron")),
             "jet", "top8", _LOW, "electron vs EM-enriched QCD jet"),
        Task("eg", (Sample("electron", "electron", "electron"), Sample("photon", "photon", "photon")),
             "eg", "eg", _EB, "photon vs electron, 32x32 EB crops (E2E e/gamma)"),
        Task("qg", (Sample("gluon", "gluon", "gluon"), Sample("quark", "quark", "quark")),
             "jet", "qg", _QG, "quark vs gluon jet (E2E quark/gluon, track pT + ECAL + HCAL)"),
        Task("top", (_QCD_BOOSTED, _TOP), "fatjet", "top8", _FATJET,
             "fully merged boosted top vs QCD on R = 0.8 FatJets with pT > 400 GeV (E2E top "
             "tagging, 8 channels): top = the hadronic top's b, q, q' all within dR < 0.8"),
        Task("tau3", (_TAU_FAKES, Sample("electron", "electron", "electron"), _TAU), "jet",
             "tau13", _LOW, "QCD or W+jets jet vs electron vs hadronic tau (3 classes, 13 channels)"),
        Task("jet_mass", (_QCD_BOOSTED, _TOP), "fatjet", "top8", _FATJET,
             "FatJet mass regression on top and QCD R = 0.8 jets: the matched GenJetAK8's "
             "mass (FatJets without one within dR < 0.4 have no truth and are not used); "
             "train with --reweight flat-target (flat in m_gen)",
             Target("jet_mass", "GeV", "log1p", "gen_mass", (0.0, 400.0))),
        Task("jet_msoftdrop", (_QCD_BOOSTED, _TOP), "fatjet", "top8", _FATJET,
             "FatJet soft-drop mass regression: the matched GenJetAK8's soft-drop mass",
             Target("jet_msoftdrop", "GeV", "log1p", "gen_msoftdrop", (0.0, 400.0))),
        Task("btag", (Sample("light", "top+qcd", "light"), Sample("b", "top+qcd", "b")),
             "jet", "btag", _BTAG,
             "b vs light (udsg) R = 0.4 jets by hadron flavour (Jet_hadronFlavour 5 vs 0), "
             "from ttbar and QCD; c vs light is reported beside it", labels="hadron_flavour"),
        Task("tau_pt", (_TAU,), "jet", "tau13", _LOW,
             "visible pT of hadronic taus: the matched generator tau's visible pT",
             Target("tau_pt", "GeV", "log", "gen_vis_tau_pt", (0.0, 200.0))),
    )
}  # fmt: skip


def get_task(name: str) -> Task:
    """The task called ``name``; BadInputError lists the known ones."""
    if name not in TASKS:
        msg = f"unknown task {name!r}; choose from {', '.join(TASKS)}"
        raise BadInputError(msg)
    return TASKS[name]


def task_selection(
    task: Task, chunk: Any, layout: Layout, cls: int, cuts: ObjectCuts | None = None
) -> ObjectSelection:
    """The objects of class ``cls`` of a chunk: the one object selection (default: the
    task's range), then the truth label the class needs."""
    sel = select_objects(chunk, layout, task.kind, cuts or task.cuts())
    rows = np.flatnonzero(sel.passed & class_mask(task, sel.records.label, cls))
    return ObjectSelection(sel.records.event[rows], sel.records.index[rows])


def class_mask(task: Task, labels: npt.NDArray[np.int64], cls: int) -> npt.NDArray[np.bool_]:
    """Objects whose truth label fits class ``cls``: its own label, or (``label=None``)
    any label that no other class claims."""
    if not 0 <= cls < task.n_classes:
        msg = f"task {task.name!r} has classes 0..{task.n_classes - 1}, got {cls}"
        raise BadInputError(msg)
    own = task.samples[cls].label
    if own is not None:
        return np.asarray(labels == LABEL_IDS[own])
    taken = [LABEL_IDS[s.label] for s in task.samples if s.label is not None]
    return np.asarray(~np.isin(labels, taken))
