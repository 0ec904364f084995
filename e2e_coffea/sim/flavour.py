"""Jet flavour from the generator record, with CMS's definitions.

CMS defines a jet's flavour by the generator hadrons and partons clustered into it
(ghost association; CMS Collaboration, "Identification of heavy-flavour jets with the
CMS detector in pp collisions at 13 TeV", JINST 13 (2018) P05011, Sec. 3.1):

* ``hadronFlavour``: 5 if a weakly decaying b hadron is in the jet, else 4 if a weakly
  decaying c hadron is, else 0 (light). "Weakly decaying" means the last hadron of its
  flavour in the decay chain (no daughter carries the same heavy quark), so a
  B* -> B gamma chain counts once.
* ``partonFlavour``: from the partons at the end of the parton shower. A b quark in the
  jet makes it 5, else a c quark 4, else the PDG id magnitude of the hardest parton
  (1-3 light quarks, 21 gluon); 0 when no parton is in the jet.

Ghost association puts each hadron or parton into exactly one jet. Our stand-in gives
each to the nearest jet axis within the jet radius (dR < 0.4), which agrees with anti-kt
clustering for the isolated, hard heavy hadrons that decide a jet's flavour.
Hadrons are taken from the signal record only: pile-up vertices carry no flavour, as in
CMS, where pile-up is not ghost-associated.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .jets import JET_R, best_match
from .particles import pt_eta_phi
from .record import GenRecord

__all__ = ["heavy_quark_content", "jet_flavours"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

HADRON_STATUS_MIN = 81
"""Pythia 8 gives hadrons produced in hadronisation |status| 81-89 and decay products
91-99 (Pythia 8 manual, "Particle Properties", status codes); quarks and diquarks are below."""
SHOWER_END_STATUS = (71, 72)
"""|status| of partons handed from the shower to string or cluster hadronisation
(Pythia 8 manual, status codes 71-79): "the partons at the end of the parton shower"."""


def heavy_quark_content(pdg: npt.NDArray[np.integer]) -> I64:
    """5 for a hadron with a b quark, 4 with a c quark (and no b), else 0.

    PDG numbering (Review of Particle Physics, "Monte Carlo particle numbering scheme"):
    a meson's quarks are the hundreds and tens digits, a baryon's the thousands, hundreds
    and tens; excitations add 10000s, which are dropped first.
    """
    a = np.abs(np.asarray(pdg, dtype=np.int64)) % 10000
    meson = (a // 1000) % 10 == 0
    quarks = np.where(
        meson,
        np.maximum((a // 100) % 10, (a // 10) % 10),
        np.maximum.reduce([(a // 1000) % 10, (a // 100) % 10, (a // 10) % 10]),
    )
    # a hadron has a quark content (hundreds digit set); leptons, gauge bosons do not
    is_hadron = (a // 100) % 10 > 0
    return np.where(is_hadron & (quarks == 5), 5, np.where(is_hadron & (quarks == 4), 4, 0))


def _weak_heavy_hadrons(rec: GenRecord) -> tuple[I64, I64]:
    """Rows of the last b and c hadrons of their decay chains, and their flavour (5/4)."""
    flav = heavy_quark_content(rec.id)
    hadron = (np.abs(rec.status) >= HADRON_STATUS_MIN) & (flav > 0)
    rows = np.flatnonzero(hadron)
    # a hadron is not the last of its flavour when one of its decay products has it
    children = rows[rec.mother1[rows] > 0]
    parent = rec.mother1[children].astype(np.int64) + rec.offsets[rec.event[children]]
    same = flav[parent] == flav[children]
    has_same_child = np.zeros(len(rec.id), dtype=bool)
    has_same_child[parent[same]] = True
    # b hadrons decaying to c hadrons stay b hadrons; the c hadron counts as a c
    last = rows[~has_same_child[rows]]
    return last, flav[last]


def jet_flavours(
    rec: GenRecord, jet_event: I64, jet_eta: F64, jet_phi: F64
) -> dict[str, npt.NDArray[np.int8] | npt.NDArray[np.int16]]:
    """``hadronFlavour`` and ``partonFlavour`` of every jet (rows sorted by event)."""
    n_events = rec.n_events
    out_h = np.zeros(len(jet_event), dtype=np.int8)
    hadrons, flav = _weak_heavy_hadrons(rec)
    _, h_eta, h_phi = pt_eta_phi(rec.px[hadrons], rec.py[hadrons], rec.pz[hadrons])
    owner = best_match(
        rec.event[hadrons], h_eta, h_phi, jet_event, jet_eta, jet_phi, n_events, JET_R
    )
    for value in (4, 5):  # b wins over c: written last
        hit = owner[(owner >= 0) & (flav == value)]
        out_h[hit] = value

    a = np.abs(rec.id)
    partons = np.flatnonzero(
        np.isin(np.abs(rec.status), SHOWER_END_STATUS) & ((a <= 5) | (a == 21))
    )
    p_pt, p_eta, p_phi = pt_eta_phi(rec.px[partons], rec.py[partons], rec.pz[partons])
    owner = best_match(
        rec.event[partons], p_eta, p_phi, jet_event, jet_eta, jet_phi, n_events, JET_R
    )
    ok = owner >= 0
    owner, p_id, p_pt = owner[ok], a[partons][ok].astype(np.int16), p_pt[ok]
    out_p = np.zeros(len(jet_event), dtype=np.int16)
    # hardest parton first: assign in increasing pT so the hardest is written last
    order = np.argsort(p_pt, kind="stable")
    out_p[owner[order]] = p_id[order]
    for value in (4, 5):
        out_p[owner[p_id == value]] = value
    return {"hadronFlavour": out_h, "partonFlavour": out_p}
