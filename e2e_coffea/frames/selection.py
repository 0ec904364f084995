"""The one object selection: which jets or e/gamma candidates a tagger sees.

Used by the processor, the :class:`~e2e_coffea.inference.Tagger`, training, the
dashboards and the benchmarks, so that "the tagger's objects" means the same everywhere.
A cut whose quantity the file lacks (no ``jet_Pt`` in the ntuple) is not applied, and
the result says so; it is never applied to NaN stand-ins (which would drop every object).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ..geometry import jet_frame_abs_eta_max
from ..layouts import Layout, ObjectKind, frame_of
from .objects import object_records
from .records import ObjectRecords, ObjectSelection

__all__ = [
    "OUTSIDE_ACCEPTANCE",
    "JetCuts",
    "KinematicRange",
    "ObjectCuts",
    "Selected",
    "ValidityRangeWarning",
    "cut_steps",
    "select_objects",
]


OUTSIDE_ACCEPTANCE = "outside the frame's acceptance"
"""Why a jet is dropped whose 125x125 window leaves the ECAL grid in eta (its seed beyond
|eta| 1.392, :func:`~e2e_coffea.geometry.jet_frame_abs_eta_max`)."""


class ValidityRangeWarning(UserWarning):
    """Cuts let a tagger score objects outside the kinematic range it was trained in."""


@dataclass(frozen=True)
class KinematicRange:
    """``pt_min < pT < pt_max`` [GeV] and ``|eta| < abs_eta_max``: the range a model is
    trained for (a task's range) and valid in. Its JSON form (:meth:`to_dict`) is the
    contract's ``validity``; a bound left None is not part of the range."""

    pt_min: float | None = None
    pt_max: float | None = None
    abs_eta_max: float | None = None

    @classmethod
    def of(cls, validity: KinematicRange | Mapping[str, Any] | None) -> KinematicRange:
        """The range of a contract's ``validity`` (a mapping, each key optional), or
        ``validity`` itself; None is the unbounded range."""
        if isinstance(validity, KinematicRange):
            return validity
        v = dict(validity or {})
        unknown = sorted(set(v) - {"pt_min", "pt_max", "abs_eta_max"})
        if unknown:
            from ..exceptions import BadInputError

            msg = f"kinematic range keys {unknown} are not pt_min, pt_max, abs_eta_max"
            raise BadInputError(msg)
        return cls(*(None if v.get(k) is None else float(v[k]) for k in _RANGE_KEYS))

    def cuts(self) -> ObjectCuts:
        """The one object selection, narrowed to this range."""
        return ObjectCuts().within(self)

    def to_dict(self) -> dict[str, float]:
        """The contract's ``validity``: the bounds that are set."""
        return {k: float(x) for k in _RANGE_KEYS if (x := getattr(self, k)) is not None}


_RANGE_KEYS = ("pt_min", "pt_max", "abs_eta_max")


@dataclass(frozen=True)
class ObjectCuts:
    """Object selection before any frame is built: ``pt_min < pT < pt_max`` (no upper
    cut by default), ``|eta| < abs_eta_max``. ``require_in_frame`` applies to jets (the
    125x125 window inside the ECAL grid in eta); e/gamma crops are zero-padded."""

    pt_min: float = 20.0
    abs_eta_max: float = 2.4
    require_in_frame: bool = True
    pt_max: float = math.inf

    def __post_init__(self) -> None:
        from ..exceptions import BadInputError

        if (
            not (np.isfinite(self.pt_min) and np.isfinite(self.abs_eta_max))
            or self.abs_eta_max <= 0
            or np.isnan(self.pt_max)
            or self.pt_max <= self.pt_min
        ):
            msg = (
                f"cuts must be finite with abs_eta_max > 0 and pt_max > pt_min, got "
                f"pt_min={self.pt_min}, pt_max={self.pt_max}, abs_eta_max={self.abs_eta_max}"
            )
            raise BadInputError(msg)

    def within(self, validity: KinematicRange | Mapping[str, float] | None) -> ObjectCuts:
        """These cuts narrowed to a kinematic range (a model's ``validity``: ``pt_min``,
        ``pt_max``, ``abs_eta_max``, each optional): the tighter bound of each wins."""
        v = KinematicRange.of(validity).to_dict()
        return replace(
            self,
            pt_min=max(self.pt_min, float(v.get("pt_min", -math.inf))),
            pt_max=min(self.pt_max, float(v.get("pt_max", math.inf))),
            abs_eta_max=min(self.abs_eta_max, float(v.get("abs_eta_max", math.inf))),
        )

    def beyond(self, validity: KinematicRange | Mapping[str, float | None] | None) -> list[str]:
        """Where these cuts reach beyond a kinematic range (a model's ``validity``), as
        ``"pt_min 20 < 150"``; empty when they stay inside it."""
        v = KinematicRange.of(validity).to_dict()
        out = []
        if self.pt_min < v.get("pt_min", -math.inf):
            out.append(f"pt_min {self.pt_min:g} < {v['pt_min']:g}")
        if self.pt_max > v.get("pt_max", math.inf):
            out.append(f"pt_max {self.pt_max:g} > {v['pt_max']:g}")
        if self.abs_eta_max > v.get("abs_eta_max", math.inf):
            out.append(f"abs_eta_max {self.abs_eta_max:g} > {v['abs_eta_max']:g}")
        return out

    def pt_ok(self, pt: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """``pt_min < pT < pt_max``, per object."""
        pt = np.asarray(pt)
        return np.asarray((pt > self.pt_min) & (pt < self.pt_max))

    def eta_ok(self, eta: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """``|eta| < abs_eta_max``, per object."""
        return np.asarray(np.abs(np.asarray(eta)) < self.abs_eta_max)

    def needs_in_frame(self, kind: ObjectKind) -> bool:
        """Whether ``kind`` objects must have their window inside the ECAL grid (jets)."""
        return frame_of(kind) == "jet" and self.require_in_frame

    def passes(
        self,
        kind: ObjectKind,
        n: int,
        *,
        pt: npt.ArrayLike | None = None,
        eta: npt.ArrayLike | None = None,
        in_frame: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Which of ``n`` objects pass, from columns of their quantities (a frames file's):
        a cut whose quantity is None is not applied, as :func:`select_objects` does for a
        quantity the file lacks."""
        keep = np.ones(n, bool)
        if pt is not None:
            keep &= self.pt_ok(pt)
        if eta is not None:
            keep &= self.eta_ok(eta)
        if in_frame is not None and self.needs_in_frame(kind):
            keep &= np.asarray(in_frame).astype(bool)
        return keep

    def effective_range(self, kind: ObjectKind) -> dict[str, float | None]:
        """:meth:`as_range` with ``abs_eta_max`` the |eta| objects can really have: for
        jets that must fit their window (``require_in_frame``), at most
        :func:`~e2e_coffea.geometry.jet_frame_abs_eta_max` (1.392), whatever the cuts say."""
        out = self.as_range()
        if self.needs_in_frame(kind):
            out["abs_eta_max"] = min(self.abs_eta_max, jet_frame_abs_eta_max())
        return out

    def as_range(self) -> dict[str, float | None]:
        """``{pt_min, pt_max, abs_eta_max}`` (``pt_max`` None when unbounded), as JSON."""
        return {
            "pt_min": self.pt_min,
            "pt_max": self.pt_max if math.isfinite(self.pt_max) else None,
            "abs_eta_max": self.abs_eta_max,
        }


JetCuts = ObjectCuts
"""The cuts under their historical name (they apply to e/gamma candidates too)."""


def cut_steps(cuts: ObjectCuts, kind: ObjectKind) -> list[str]:
    """Cutflow step names of a selection, in order (the same keys for every chunk)."""
    pt = f"pt>{cuts.pt_min:g}" if math.isinf(cuts.pt_max) else f"{cuts.pt_min:g}<pt<{cuts.pt_max:g}"
    steps = [f"{kind}s", f"{kind}s {pt}", f"{kind}s |eta|<{cuts.abs_eta_max:g}"]
    if cuts.needs_in_frame(kind):
        steps.append(f"{kind}s window inside eta acceptance")
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

    def pt_ok() -> npt.NDArray[np.bool_]:
        return cuts.pt_ok(rec.pt)

    pt_reason = (
        f"pt<={cuts.pt_min:g}"
        if math.isinf(cuts.pt_max)
        else f"pt outside {cuts.pt_min:g}-{cuts.pt_max:g}"
    )
    kinematic: tuple[tuple[str, Callable[[], npt.NDArray[np.bool_]], str], ...] = (
        ("pt", pt_ok, pt_reason),
        ("eta", lambda: cuts.eta_ok(rec.eta), f"|eta|>={cuts.abs_eta_max:g}"),
    )
    for quantity, ok, reason in kinematic:
        if quantity in rec.missing:
            notes.append(f"{kind} {quantity} not in the file: the {quantity} cut was not applied")
            flow.append(flow[-1])
            continue
        apply(ok(), reason)
    if cuts.needs_in_frame(kind):
        apply(rec.in_frame, OUTSIDE_ACCEPTANCE)
    return Selected(rec, passed, dict(zip(steps, flow, strict=True)), reasons, tuple(notes))
