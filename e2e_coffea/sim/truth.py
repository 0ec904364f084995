"""Generator truth from the full Pythia record: GenPart, GenVisTau and labelling objects.

Pythia's record links copies of a particle (after recoils or radiation) through
mother/daughter indices. Walking those links is done with vectorised pointer jumping
over all rows at once, never with a loop over particles.

Definitions (documented in docs/detector.md):

* hard-process partons: ``|status| == 23`` quarks/gluons (outgoing of the hardest
  process, including resonance decays such as t -> W b, W -> q q');
* prompt e/gamma: final-state electrons/photons whose first copy is ``|status| == 23``;
* taus, W, Z, top: their last copy (no daughter with the same id);
* hadronic tau: no electron/muon among the tau's daughters; visible momentum = sum of
  its final-state descendants except neutrinos, kept above 10 GeV;
* hadronic top: its W decays to quarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..layouts import LABEL_IDS
from .particles import pt_eta_phi
from .record import GenRecord

__all__ = [
    "GenTruth",
    "TopDecays",
    "TruthObjects",
    "extract_truth",
    "first_copy",
    "hadronic_top_decays",
    "has_daughter_id",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
MAX_DEPTH = 12
NEUTRINOS = (12, 14, 16)
VIS_TAU_MIN_PT = 10.0
"""GenVisTau threshold (GeV), as NanoAOD's ``genVisTauTable``; softer taus (e.g. from
D_s decays in QCD) neither appear in GenVisTau nor label jets."""


@dataclass(frozen=True)
class TruthObjects:
    """Truth objects that can give a jet or e/gamma candidate its label."""

    event: I64
    pt: F64
    eta: F64
    phi: F64
    label: npt.NDArray[np.int64]

    def select(self, mask: B) -> TruthObjects:
        return TruthObjects(
            self.event[mask], self.pt[mask], self.eta[mask], self.phi[mask], self.label[mask]
        )

    @staticmethod
    def concatenate(parts: list[TruthObjects]) -> TruthObjects:
        cols = [
            np.concatenate([getattr(p, k) for p in parts])
            for k in ("event", "pt", "eta", "phi", "label")
        ]
        order = np.argsort(cols[0], kind="stable")
        return TruthObjects(*(c[order] for c in cols))


@dataclass(frozen=True)
class GenTruth:
    """Everything the writer and the labelling need from the generator record."""

    genpart: dict[str, npt.NDArray[Any]]  # GenPart fields + "event"
    vistau: dict[str, npt.NDArray[Any]]  # GenVisTau fields + "event"
    jet_objects: TruthObjects  # taus, prompt e/gamma, hadronic tops, hard partons
    prompt_eg: TruthObjects  # prompt electrons and photons only


def first_copy(rec: GenRecord, rows: I64) -> I64:
    """For each of ``rows``, the earliest ancestor reached through mothers of the same id."""
    cur = np.asarray(rows, dtype=np.int64).copy()
    for _ in range(4 * MAX_DEPTH):
        mom = rec.offsets[rec.event[cur]] + rec.mother1[cur]
        same = (rec.mother1[cur] > 0) & (rec.id[mom] == rec.id[cur])
        if not same.any():
            break
        cur = np.where(same, mom, cur)
    return cur


def _daughter_rows(rec: GenRecord, rows: I64, k_max: int = 8) -> list[tuple[I64, B]]:
    """(daughter row, valid) for the first ``k_max`` daughters of each of ``rows``."""
    d1, d2 = rec.daughter1[rows].astype(np.int64), rec.daughter2[rows].astype(np.int64)
    off = rec.offsets[rec.event[rows]]
    out = []
    for k in range(k_max):
        in_range = (d1 > 0) & (d1 + k <= np.maximum(d1, d2))  # d1..d2 or d1 alone
        if k == 1:  # "d2 < d1": exactly two separated daughters d1 and d2
            two = (d2 > 0) & (d2 < d1)
            out.append((np.where(two, d2, d1 + 1) + off, in_range | two))
            continue
        out.append((d1 + k + off, in_range))
    return out


def has_daughter_id(rec: GenRecord, rows: I64, ids: tuple[int, ...]) -> B:
    """Whether any of the first daughters of ``rows`` has |id| in ``ids``."""
    found = np.zeros(len(rows), dtype=bool)
    n = len(rec.id)
    for d, ok in _daughter_rows(rec, rows):
        found |= ok & np.isin(np.abs(rec.id[np.minimum(d, n - 1)]), ids)
    return found


def _last_copies(rec: GenRecord, abs_id: int) -> I64:
    """Rows of particles with |id| == abs_id none of whose daughters has the same id."""
    rows = np.flatnonzero(np.abs(rec.id) == abs_id)
    return rows[~has_daughter_id(rec, rows, (abs_id,))]


def _tau_ancestor(rec: GenRecord, is_tau: B) -> I64:
    """For every row, the row of its nearest last-copy tau ancestor, or -1."""
    found = np.full(len(rec.id), -1, dtype=np.int64)
    cur = rec.row(rec.mother1)
    for _ in range(MAX_DEPTH):
        hit = is_tau[cur] & (found < 0)
        found[hit] = cur[hit]
        cur = rec.offsets[rec.event[cur]] + rec.mother1[cur]
    return found


def _visible_taus(rec: GenRecord, taus: I64) -> dict[str, npt.NDArray[Any]]:
    hadronic = taus[~has_daughter_id(rec, taus, (11, 13))]
    is_tau = np.zeros(len(rec.id), dtype=bool)
    is_tau[hadronic] = True
    anc = _tau_ancestor(rec, is_tau)
    slot = np.full(len(rec.id), -1, dtype=np.int64)
    slot[hadronic] = np.arange(len(hadronic))
    fs = (rec.status > 0) & (anc >= 0)
    vis = fs & ~np.isin(np.abs(rec.id), NEUTRINOS)
    k = slot[anc[vis]]
    n = len(hadronic)
    px, py, pz = (
        np.bincount(k, weights=getattr(rec, c)[vis], minlength=n).astype(np.float64, copy=False)
        for c in ("px", "py", "pz")
    )
    prongs = np.bincount(slot[anc[fs & (rec.charge != 0)]], minlength=n)
    pi0 = (anc >= 0) & (rec.id == 111)
    npi0 = np.bincount(slot[anc[pi0]], minlength=n)
    pt, eta, phi = pt_eta_phi(px, py, pz)
    keep = pt > VIS_TAU_MIN_PT
    return {
        "event": rec.event[hadronic][keep],
        "pt": pt[keep],
        "eta": eta[keep],
        "phi": phi[keep],
        "nProngs": prongs[keep],
        "nPi0": npi0[keep],
    }


def _hadronic_tops(rec: GenRecord) -> I64:
    tops = _last_copies(rec, 6)
    w_last = _last_copies(rec, 24)
    w_had = w_last[has_daughter_id(rec, w_last, (1, 2, 3, 4, 5))]
    # a top is hadronic if a hadronic W's first copy is one of the top's daughters
    w_first = first_copy(rec, w_had)
    had_w_first = np.zeros(len(rec.id), dtype=bool)
    had_w_first[w_first] = True
    hadronic = np.zeros(len(tops), dtype=bool)
    n = len(rec.id)
    for d, ok in _daughter_rows(rec, tops):
        hadronic |= ok & had_w_first[np.minimum(d, n - 1)]
    return tops[hadronic]


@dataclass(frozen=True)
class TopDecays:
    """Hadronic tops (last copies) and the three quarks of t -> b W, W -> q q'."""

    event: I64
    eta: F64
    phi: F64
    quark_eta: F64
    """(n, 3): b, q, q' as they leave the decay (before their showers); NaN if missing."""
    quark_phi: F64


def _first_daughter_with(rec: GenRecord, rows: I64, abs_ids: tuple[int, ...]) -> I64:
    """For each of ``rows``, its first daughter with |id| in ``abs_ids``, or -1."""
    found = np.full(len(rows), -1, dtype=np.int64)
    n = len(rec.id)
    for d, ok in _daughter_rows(rec, rows):
        d = np.minimum(d, n - 1)
        hit = ok & np.isin(np.abs(rec.id[d]), abs_ids) & (found < 0)
        found[hit] = d[hit]
    return found


def hadronic_top_decays(rec: GenRecord) -> TopDecays:
    """Every hadronic top with the directions of its b and of its W's two quarks: what a
    large-radius jet must contain to be a fully merged top."""
    tops = _hadronic_tops(rec)
    n = len(rec.id)
    b = _first_daughter_with(rec, tops, (5,))
    w_first = _first_daughter_with(rec, tops, (24,))
    w_last = _last_copies(rec, 24)
    last_of = np.full(n, -1, dtype=np.int64)
    last_of[first_copy(rec, w_last)] = w_last
    w = np.where(w_first >= 0, last_of[np.maximum(w_first, 0)], -1)
    q1 = np.full(len(tops), -1, dtype=np.int64)
    q2 = np.full(len(tops), -1, dtype=np.int64)
    has_w = w >= 0
    for d, ok in _daughter_rows(rec, np.maximum(w, 0)):
        d = np.minimum(d, n - 1)
        quark = has_w & ok & (np.abs(rec.id[d]) <= 5)
        second = quark & (q1 >= 0) & (q2 < 0) & (d != q1)
        q2[second] = d[second]
        first = quark & (q1 < 0)
        q1[first] = d[first]
    rows = np.stack([b, q1, q2], axis=1)
    safe = np.maximum(rows, 0)
    _, q_eta, q_phi = pt_eta_phi(rec.px[safe], rec.py[safe], rec.pz[safe])
    q_eta = np.where(rows >= 0, q_eta, np.nan)
    q_phi = np.where(rows >= 0, q_phi, np.nan)
    _, eta, phi = pt_eta_phi(rec.px[tops], rec.py[tops], rec.pz[tops])
    return TopDecays(rec.event[tops], eta, phi, q_eta.reshape(-1, 3), q_phi.reshape(-1, 3))


def _objects(rec: GenRecord, rows: I64, label: int | I64) -> TruthObjects:
    pt, eta, phi = pt_eta_phi(rec.px[rows], rec.py[rows], rec.pz[rows])
    lab = np.broadcast_to(np.asarray(label, dtype=np.int64), rows.shape).copy()
    return TruthObjects(rec.event[rows], pt, eta, phi, lab)


def extract_truth(rec: GenRecord, pv: F64) -> GenTruth:
    """GenPart / GenVisTau columns and the labelling objects of a record."""
    a = np.abs(rec.id)
    hard = np.flatnonzero((np.abs(rec.status) == 23) & ((a <= 5) | (a == 21)))
    eg = np.flatnonzero((rec.status > 0) & ((a == 11) | (a == 22)))
    prompt = eg[np.abs(rec.status[first_copy(rec, eg)]) == 23]
    taus = _last_copies(rec, 15)
    bosons = np.concatenate([_last_copies(rec, 6), _last_copies(rec, 23), _last_copies(rec, 24)])
    sel = np.unique(np.concatenate([hard, prompt, taus, bosons]))
    pt, eta, phi = pt_eta_phi(rec.px[sel], rec.py[sel], rec.pz[sel])
    ev = rec.event[sel]
    genpart = {
        "event": ev,
        "pdgId": rec.id[sel],
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": rec.m[sel],
        "vx": rec.x[sel] + pv[ev, 0],
        "vy": rec.y[sel] + pv[ev, 1],
        "vz": rec.z[sel] + pv[ev, 2],
    }
    vistau = _visible_taus(rec, taus)
    tau_objs = TruthObjects(
        vistau["event"],
        vistau["pt"],
        vistau["eta"],
        vistau["phi"],
        np.full(len(vistau["pt"]), LABEL_IDS["tau"], dtype=np.int64),
    )
    eg_label = np.where(a[prompt] == 11, LABEL_IDS["electron"], LABEL_IDS["photon"])
    prompt_eg = _objects(rec, prompt, eg_label)
    parton_label = np.where(a[hard] == 21, LABEL_IDS["gluon"], LABEL_IDS["quark"])
    jet_objects = TruthObjects.concatenate(
        [
            tau_objs,
            prompt_eg,
            _objects(rec, _hadronic_tops(rec), LABEL_IDS["top"]),
            _objects(rec, hard, parton_label),
        ]
    )
    return GenTruth(genpart=genpart, vistau=vistau, jet_objects=jet_objects, prompt_eg=prompt_eg)
