"""Single-feature baselines: what a tagger would score with one plain feature of its object.

An AUC means little until it is compared with what the object's pT, its |eta|, the
event's MET or pT-hat or its charged multiplicity give on the same objects and weights: in the
shipped samples MET labels the process (hard QCD has tens of GeV of calo MET) and pT the
pT-hat bin. Each feature is booked like a score (per dataset x label x tagger), mapped
into [0, 1) by ``x / (x + scale)``: monotone, so the ROC and its AUC are those of the
feature itself, and one axis holds features of any unit. ``nVtx`` per object gives the
AUC in bins of pile-up. Features a file lacks (no tracks in the e2e layout) are NaN and
not booked: the summary says which are missing, nothing is invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..frames.occupancy import per_event_number
from ..io import arrays
from ..layouts import Layout, ObjectKind

__all__ = [
    "FEATURE_SCALES",
    "EventColumns",
    "feature_branches",
    "object_features",
    "to_unit",
]

FEATURE_SCALES: dict[str, float] = {
    "pt": 50.0,  # GeV
    "abs_eta": 1.0,
    "met": 30.0,  # GeV
    "n_charged": 10.0,  # tracks with pT > 1 GeV within dR < 0.4
    "sum_pt_jets_dr1": 50.0,  # GeV, other jets within dR < 1
    "pthat": 100.0,  # GeV, the event's generator pT-hat (Generator_binvar): a process label
}
"""Feature -> the value mapped to 0.5 by :func:`to_unit` (a typical size, so that the
1000 bins of [0, 1) resolve it)."""

TRACK_PT_MIN = 1.0
"""GeV: the charged multiplicity counts tracks above this pT ..."""
CHARGED_DR = 0.4
"""... within this distance of the object's axis."""
NEAR_JETS_DR = 1.0
"""Other jets within this distance enter the summed pT."""
OWN_JET_DR = 0.4
"""An e/gamma object's own jet (the one holding it) is not an "other" jet."""

_BRANCHES: dict[str, dict[str, str]] = {
    "sparse": {
        "met": "MET_pt", "nvtx": "nVtx", "pthat": "Generator_binvar", "trk_pt": "Track_pt",
        "trk_eta": "Track_eta", "trk_phi": "Track_phi", "jet_pt": "Jet_pt", "jet_eta": "Jet_eta",
        "jet_phi": "Jet_phi",
    },
    "e2e": {
        "met": "MET_pt", "nvtx": "nVtx", "pthat": "Generator_binvar", "jet_pt": "jet_Pt",
        "jet_eta": "jet_Eta", "jet_phi": "jet_Phi",
    },
}  # fmt: skip


def feature_branches(layout: Layout) -> list[str]:
    """The optional branches the baselines and the nVtx bins read."""
    return list(_BRANCHES[layout].values())


def to_unit(feature: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``x / (x + scale)`` for x >= 0: a monotone map into [0, 1) (NaN stays NaN)."""
    x = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    return np.asarray(x / (x + FEATURE_SCALES[feature]), dtype=np.float64)


@dataclass
class EventColumns:
    """One chunk's per-event columns for the features, read once; None where absent."""

    met: npt.NDArray[np.float64] | None
    nvtx: npt.NDArray[np.float64] | None
    pthat: npt.NDArray[np.float64] | None
    tracks: tuple[arrays.Jagged, arrays.Jagged, arrays.Jagged] | None
    jets: tuple[arrays.Jagged, arrays.Jagged, arrays.Jagged] | None

    @classmethod
    def of(cls, chunk: Any, layout: Layout) -> EventColumns:
        names = _BRANCHES[layout]
        have = set(arrays.fields_of(chunk))

        def flat(key: str) -> npt.NDArray[np.float64] | None:
            name = names.get(key)
            if name is None or name not in have:
                return None
            return per_event_number(chunk[name])

        def jag(*keys: str) -> tuple[arrays.Jagged, arrays.Jagged, arrays.Jagged] | None:
            if not all(names.get(k) in have for k in keys):
                return None
            a, b, c = (arrays.jagged(chunk[names[k]]) for k in keys)
            return a, b, c

        return cls(
            met=flat("met"),
            nvtx=flat("nvtx"),
            pthat=flat("pthat"),
            tracks=jag("trk_pt", "trk_eta", "trk_phi"),
            jets=jag("jet_pt", "jet_eta", "jet_phi"),
        )


def _pairs(
    event: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(object row, flat entry) for every entry of each object's own event."""
    n = offsets[event + 1] - offsets[event]
    rows = np.repeat(np.arange(len(event), dtype=np.int64), n)
    first = np.repeat(offsets[event], n)
    within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    return rows, first + within


def _dr(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> npt.NDArray[np.float64]:
    dphi = np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi
    return np.asarray(np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi), dtype=np.float64)


def object_features(
    cols: EventColumns,
    kind: ObjectKind,
    event: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
) -> tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
    """({feature: value per object}, nVtx per object) for the objects ``(event, index)``
    of the chunk (``event`` counts from the chunk's first event). A feature whose inputs
    the chunk lacks is NaN for every object; nVtx likewise."""
    n = len(event)
    nan = np.full(n, np.nan)
    eta_o = np.asarray(eta, dtype=np.float64)
    phi_o = np.asarray(phi, dtype=np.float64)
    out = {"pt": np.asarray(pt, dtype=np.float64), "abs_eta": np.abs(eta_o)}
    out["met"] = nan.copy() if cols.met is None else cols.met[event]
    out["pthat"] = nan.copy() if cols.pthat is None else cols.pthat[event]
    out["n_charged"] = nan.copy()
    if cols.tracks is not None and np.isfinite(phi_o).all():
        tpt, teta, tphi = cols.tracks
        rows, flat = _pairs(event, tpt.offsets)
        near = (tpt.values[flat] > TRACK_PT_MIN) & (
            _dr(eta_o[rows], phi_o[rows], teta.values[flat], tphi.values[flat]) < CHARGED_DR
        )
        out["n_charged"] = np.bincount(rows[near], minlength=n).astype(np.float64)
    out["sum_pt_jets_dr1"] = nan.copy()
    if cols.jets is not None and np.isfinite(phi_o).all():
        jpt, jeta, jphi = cols.jets
        rows, flat = _pairs(event, jpt.offsets)
        dr = _dr(eta_o[rows], phi_o[rows], jeta.values[flat], jphi.values[flat])
        if kind == "jet":
            other = (flat - jpt.offsets[event[rows]]) != index[rows]
        else:
            other = dr >= OWN_JET_DR
        near = other & (dr < NEAR_JETS_DR)
        out["sum_pt_jets_dr1"] = np.bincount(
            rows[near], weights=jpt.values[flat][near], minlength=n
        ).astype(np.float64)
    nvtx = nan.copy() if cols.nvtx is None else cols.nvtx[event]
    return out, nvtx
