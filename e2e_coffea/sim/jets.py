"""Jets: anti-kt clustering, E2E seeds, truth labels and generator matching.

Reco jets are *calo jets*: anti-kt R = 0.4 on CMS-style CaloTowers (each HCAL tower plus
the 5x5 ECAL crystals in front of it) as massless vectors at the tower centre. Their
response is below one (non-compensation, zero suppression, loopers); that is realistic
for calo jets and is what the E2E images see. GenJets cluster the visible stable
particles of the hard-scatter event. All events of a chunk are clustered in one call
through fastjet's awkward interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import fastjet
import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..layouts import LABEL_IDS
from .particles import pairs_by_event, pt_eta_phi
from .readout import Hits
from .truth import TruthObjects

__all__ = [
    "ClusteredJets",
    "best_match",
    "calo_towers",
    "cell_lookup",
    "cluster",
    "delta_r",
    "in_frame",
    "jet_labels",
    "jet_seeds",
    "take_matched",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
JET_R = 0.4
SEED_HALF_WINDOW = 3  # 7x7 towers
_PRIORITY_ORDER = ("tau", "electron", "photon", "top", "quark", "gluon")
_PRIORITY = np.full(max(LABEL_IDS.values()) + 1, len(_PRIORITY_ORDER), dtype=np.float64)
_PRIORITY[[LABEL_IDS[k] for k in _PRIORITY_ORDER]] = np.arange(len(_PRIORITY_ORDER))
SOFTDROP_Z_CUT = 0.1
SOFTDROP_BETA = 0.0
"""Soft drop (Larkoski et al., JHEP 05 (2014) 146) with CMS's parameters for large-radius
jets, z_cut = 0.1 and beta = 0 (CMS, JINST 15 (2020) P06005, Sec. 4): the modified
mass-drop tagger, groomed on the Cambridge-Aachen reclustering of the jet."""
_JET_DEFS: dict[float, Any] = {}


def _jet_def(radius: float) -> Any:
    if radius not in _JET_DEFS:
        _JET_DEFS[radius] = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    return _JET_DEFS[radius]


def _silence_fastjet_banner() -> None:
    """FastJet prints a banner to stdout on first use (it would garble progress bars);
    we cite FastJet [EPJC 72 (2012) 1896] in docs/detector.md instead."""
    swig = getattr(fastjet, "_swig", None)
    cs = getattr(swig, "ClusterSequence", None)
    if cs is not None and hasattr(cs, "set_fastjet_banner_stream"):
        cs.set_fastjet_banner_stream(None)
        cs.print_banner()  # marks the banner as shown; prints nothing without a stream


_silence_fastjet_banner()


@dataclass(frozen=True)
class ClusteredJets:
    """Clustered jets (generator or reconstructed), sorted by event, then by decreasing pT."""

    event: I64
    pt: F64
    eta: F64
    phi: F64
    mass: F64
    msoftdrop: F64 | None = None
    """Soft-drop groomed mass, when the jets were clustered with ``softdrop=True``."""

    def __len__(self) -> int:
        return len(self.event)

    def select(self, mask: npt.NDArray[np.bool_]) -> ClusteredJets:
        return ClusteredJets(
            self.event[mask],
            self.pt[mask],
            self.eta[mask],
            self.phi[mask],
            self.mass[mask],
            None if self.msoftdrop is None else self.msoftdrop[mask],
        )


def delta_r(eta1: F64, phi1: F64, eta2: F64, phi2: F64) -> F64:
    return np.hypot(eta1 - eta2, geo.wrap_phi(phi1 - phi2))


def _momenta(arrays: dict[str, Any]) -> ak.Array:
    return ak.zip({k: arrays[k] for k in ("px", "py", "pz", "E")}, with_name="Momentum4D")


def _softdrop_mass(constituents: ak.Array, r0: float) -> F64:
    """Soft-drop mass of each jet (one list of constituents per jet), through fastjet's
    own grooming on the C/A reclustering of the jet's constituents (``r0``: jet radius)."""
    if len(constituents) == 0:
        return np.zeros(0)
    # an R wide enough that all constituents merge into one exclusive jet
    ca = fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0)
    groomed = fastjet.ClusterSequence(_momenta(constituents), ca).exclusive_jets_softdrop_grooming(
        njets=1, beta=SOFTDROP_BETA, symmetry_cut=SOFTDROP_Z_CUT, R0=r0
    )
    # a one-constituent jet grooms to its own (zero) mass, fastjet's arithmetic gives -1e-7
    return np.maximum(np.asarray(ak.to_numpy(groomed["msoftdrop"]), dtype=np.float64), 0.0)


def cluster(
    event: I64,
    px: F64,
    py: F64,
    pz: F64,
    e: F64,
    n_events: int,
    min_pt: float,
    *,
    radius: float = JET_R,
    softdrop: bool = False,
) -> ClusteredJets:
    """Anti-kt jets of ``radius`` above ``min_pt`` of every event at once (inputs
    event-sorted); ``softdrop`` adds each jet's groomed mass."""
    counts = np.bincount(event, minlength=n_events)
    if len(event) == 0:
        empty = np.zeros(0)
        return ClusteredJets(
            np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty if softdrop else None
        )
    inputs = _momenta(
        {k: ak.unflatten(v, counts) for k, v in (("px", px), ("py", py), ("pz", pz), ("E", e))}
    )
    sequence = fastjet.ClusterSequence(inputs, _jet_def(radius))
    jets = sequence.inclusive_jets(min_pt=min_pt)
    n_jets = ak.to_numpy(ak.num(jets)).astype(np.int64)
    flat = ak.flatten(jets)
    jpx, jpy, jpz, je = (
        np.asarray(ak.to_numpy(flat[k]), dtype=np.float64) for k in ("px", "py", "pz", "E")
    )
    pt, eta, phi = pt_eta_phi(jpx, jpy, jpz)
    mass = np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0))
    msd = None
    if softdrop:  # constituents come in the order of inclusive_jets
        msd = _softdrop_mass(ak.flatten(sequence.constituents(min_pt=min_pt), axis=1), radius)
    ev = np.repeat(np.arange(n_events, dtype=np.int64), n_jets)
    order = np.lexsort((-pt, ev))
    return ClusteredJets(
        ev[order],
        pt[order],
        eta[order],
        phi[order],
        mass[order],
        None if msd is None else msd[order],
    )


def calo_towers(
    ecal: Hits, hcal: Hits, n_events: int, ecal_min: float, tower_min: float
) -> tuple[I64, F64, F64, F64]:
    """CaloTowers (event, eta, phi, energy): HCAL tower + its 5x5 ECAL crystals."""
    n_i, n_j = geo.HCAL_SHAPE
    k_ecal = (ecal.event * n_i + ecal.row // geo.HCAL_TO_ECAL) * n_j + ecal.col // geo.HCAL_TO_ECAL
    uniq, inv = np.unique(k_ecal, return_inverse=True)
    e_ecal = np.bincount(inv, weights=ecal.energy, minlength=len(uniq))
    keep = e_ecal > ecal_min
    keys = np.concatenate([uniq[keep], (hcal.event * n_i + hcal.row) * n_j + hcal.col])
    vals = np.concatenate([e_ecal[keep], hcal.energy])
    uniq, inv = np.unique(keys, return_inverse=True)
    energy = np.bincount(inv, weights=vals, minlength=len(uniq)).astype(np.float64, copy=False)
    keep = energy > tower_min
    uniq, energy = uniq[keep], energy[keep]
    event, cell = np.divmod(uniq, n_i * n_j)
    i, j = np.divmod(cell, n_j)
    eta = -geo.ETA_MAX + (i + 0.5) * geo.HCAL_DETA
    phi = -np.pi + (j + 0.5) * geo.HCAL_DPHI
    return event.astype(np.int64, copy=False), eta, phi, energy


def cell_lookup(hits: Hits, shape: tuple[int, int], event: I64, row: I64, col: I64) -> F64:
    """Energy of the hit at (event, row, col), 0 where none; rows outside give 0.

    ``hits`` are sorted by (event, row, col), so a binary search replaces a dense image.
    """
    n_rows, n_cols = shape
    key_hits = (hits.event * n_rows + hits.row) * n_cols + hits.col
    valid = (row >= 0) & (row < n_rows)
    key = (event * n_rows + np.clip(row, 0, n_rows - 1)) * n_cols + col % n_cols
    pos = np.searchsorted(key_hits, key)
    pos_c = np.minimum(pos, max(len(key_hits) - 1, 0))
    found = valid & (pos < len(key_hits))
    if len(key_hits):
        found &= key_hits[pos_c] == key
        return np.where(found, hits.energy[pos_c], 0.0)
    return np.zeros(len(key))


def jet_seeds(jets: ClusteredJets, hcal: Hits) -> tuple[I64, I64]:
    """Most energetic HCAL tower in the 7x7 towers around the jet axis (phi wraps).

    A jet with no HCAL energy in its window keeps the axis tower as its seed.
    """
    n_i, n_j = geo.HCAL_SHAPE
    i0 = np.clip(np.floor((jets.eta + geo.ETA_MAX) / geo.HCAL_DETA), 0, n_i - 1).astype(np.int64)
    j0 = (np.floor((geo.wrap_phi(jets.phi) + np.pi) / geo.HCAL_DPHI).astype(np.int64)) % n_j
    d = np.arange(-SEED_HALF_WINDOW, SEED_HALF_WINDOW + 1)
    w = len(d)
    rows = (i0[:, None, None] + d[None, :, None]) + np.zeros((1, 1, w), dtype=np.int64)
    cols = (j0[:, None, None] + d[None, None, :]) % n_j + np.zeros((1, w, 1), dtype=np.int64)
    ev = np.broadcast_to(jets.event[:, None, None], rows.shape)
    e = cell_lookup(hcal, geo.HCAL_SHAPE, ev.ravel(), rows.ravel(), cols.ravel())
    e = np.where((rows.ravel() >= 0) & (rows.ravel() < n_i), e, -1.0).reshape(len(jets), w * w)
    best = np.argmax(e, axis=1)
    has = e[np.arange(len(jets)), best] > 0 if len(jets) else np.zeros(0, dtype=bool)
    seed_i = np.where(has, i0 + d[best // w], i0)
    seed_j = np.where(has, (j0 + d[best % w]) % n_j, j0)
    return seed_i, seed_j


def in_frame(seed_ieta: I64) -> npt.NDArray[np.bool_]:
    """Whether the 125x125 window centred on the seed fits inside ECAL rows 0..279."""
    centre = geo.HCAL_TO_ECAL * seed_ieta + 2
    half = geo.JET_FRAME // 2
    return (centre >= half) & (centre <= geo.ECAL_SHAPE[0] - 1 - half)


def best_match(
    event_a: I64,
    eta_a: F64,
    phi_a: F64,
    event_b: I64,
    eta_b: F64,
    phi_b: F64,
    n_events: int,
    max_dr: float,
    rank_b: F64 | None = None,
) -> I64:
    """For each row of a, the row of b within ``max_dr`` with the smallest rank (default:
    the smallest dR), or -1."""
    ia, ib = pairs_by_event(event_a, event_b, n_events)
    dr = delta_r(eta_a[ia], phi_a[ia], eta_b[ib], phi_b[ib])
    ok = dr < max_dr
    ia, ib, dr = ia[ok], ib[ok], dr[ok]
    rank = dr if rank_b is None else rank_b[ib]
    order = np.lexsort((dr, rank, ia))
    ia, ib = ia[order], ib[order]
    out = np.full(len(event_a), -1, dtype=np.int64)
    first = np.unique(ia, return_index=True)[1]
    out[ia[first]] = ib[first]
    return out


def jet_labels(jets: ClusteredJets, truth: TruthObjects, n_events: int) -> I64:
    """Truth label per jet: tau > electron > photon > top > leading parton within 0.4."""
    prio = _PRIORITY[truth.label]
    # quarks and gluons compete by pT: rank in (q, q + 1], smaller for harder partons
    q = _PRIORITY[LABEL_IDS["quark"]]
    rank = np.where(prio >= q, q + 1.0 / (1.0 + truth.pt), prio)
    match = best_match(
        jets.event, jets.eta, jets.phi, truth.event, truth.eta, truth.phi, n_events, JET_R, rank
    )
    return take_matched(truth.label, match, LABEL_IDS["unmatched"])


def take_matched(values: npt.NDArray[Any], match: I64, default: float) -> npt.NDArray[Any]:
    """``values[match]`` where ``match >= 0``, ``default`` elsewhere (values may be empty)."""
    if len(values) == 0:
        return np.full(len(match), default, dtype=np.result_type(values, type(default)))
    return np.where(match >= 0, values[np.maximum(match, 0)], default)
