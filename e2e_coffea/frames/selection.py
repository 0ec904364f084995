"""The one object selection: which jets or e/gamma candidates a tagger sees.

Used by the processor, the :class:`~e2e_coffea.inference.Tagger`, training, the
dashboards and the benchmarks, so that "the tagger's objects" means the same everywhere.
A cut whose quantity the file lacks (no ``jet_Pt`` in the ntuple) is not applied, and
the result says so; it is never applied to NaN stand-ins (which would drop every object).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..layouts import Layout, ObjectKind
from .objects import object_records
from .records import ObjectRecords, ObjectSelection

__all__ = ["JetCuts", "ObjectCuts", "Selected", "cut_steps", "select_objects"]


@dataclass(frozen=True)
class ObjectCuts:
    """Object selection before any frame is built. ``require_in_frame`` applies to jets
    (the 125x125 window inside the ECAL grid in eta); e/gamma crops are zero-padded."""

    pt_min: float = 20.0
    abs_eta_max: float = 2.4
    require_in_frame: bool = True

    def __post_init__(self) -> None:
        from ..exceptions import BadInputError

        if (
            not (np.isfinite(self.pt_min) and np.isfinite(self.abs_eta_max))
            or self.abs_eta_max <= 0
        ):
            msg = f"cuts must be finite with abs_eta_max > 0, got pt_min={self.pt_min}, abs_eta_max={self.abs_eta_max}"
            raise BadInputError(msg)


JetCuts = ObjectCuts
"""The cuts under their historical name (they apply to e/gamma candidates too)."""


def cut_steps(cuts: ObjectCuts, kind: str) -> list[str]:
    """Cutflow step names of a selection, in order (the same keys for every chunk)."""
    steps = [f"{kind}s", f"{kind}s pt>{cuts.pt_min:g}", f"{kind}s |eta|<{cuts.abs_eta_max:g}"]
    if kind == "jet" and cuts.require_in_frame:
        steps.append("jets window inside eta acceptance")
    return steps


@dataclass(frozen=True)
class Selected:
    """Every object's records, which pass, why the others failed, and the cutflow.

    ``records`` covers all objects of the chunk in chunk order; ``passed`` is a boolean
    per object; ``reasons`` counts objects by the first cut they failed; ``notes`` names
    cuts that could not be applied because the file lacks their quantity."""

    records: ObjectRecords
    passed: npt.NDArray[np.bool_]
    cutflow: dict[str, int]
    reasons: dict[str, int]
    notes: tuple[str, ...] = field(default=())

    @property
    def selection(self) -> ObjectSelection:
        rows = np.flatnonzero(self.passed)
        return ObjectSelection(self.records.event[rows], self.records.index[rows])

    @property
    def selected(self) -> ObjectRecords:
        return self.records.take(np.flatnonzero(self.passed))


def select_objects(
    chunk: Any,
    layout: Layout,
    kind: ObjectKind,
    cuts: ObjectCuts | None = None,
    *,
    entry_offset: int = 0,
) -> Selected:
    """Apply ``cuts`` to every ``kind`` object of ``chunk``."""
    cuts = cuts or ObjectCuts()
    rec = object_records(chunk, layout, kind, entry_offset=entry_offset)
    steps = cut_steps(cuts, kind)
    passed = np.ones(len(rec), dtype=bool)
    flow = [len(rec)]
    reasons: dict[str, int] = {}
    notes: list[str] = []

    def apply(ok: npt.NDArray[np.bool_], reason: str) -> None:
        nonlocal passed
        failed = passed & ~ok
        if failed.any():
            reasons[reason] = reasons.get(reason, 0) + int(failed.sum())
        passed = passed & ok
        flow.append(int(passed.sum()))

    kinematic: tuple[tuple[str, Callable[[], npt.NDArray[np.bool_]], str], ...] = (
        ("pt", lambda: rec.pt > cuts.pt_min, f"pt<={cuts.pt_min:g}"),
        ("eta", lambda: np.abs(rec.eta) < cuts.abs_eta_max, f"|eta|>={cuts.abs_eta_max:g}"),
    )
    for quantity, ok, reason in kinematic:
        if quantity in rec.missing:
            notes.append(f"{kind} {quantity} not in the file: the {quantity} cut was not applied")
            flow.append(flow[-1])
            continue
        apply(ok(), reason)
    if kind == "jet" and cuts.require_in_frame:
        apply(rec.in_frame, "window off the grid")
    return Selected(rec, passed, dict(zip(steps, flow, strict=True)), reasons, tuple(notes))
