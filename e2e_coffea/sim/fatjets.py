"""Large-radius jets (CMS's AK8 FatJets): anti-kt R = 0.8 on the CaloTowers, soft drop,
a seed on the jet axis and a truth label that means "fully merged top".

Boosted-top tagging needs the whole top decay inside one jet: at pT ~ 400 GeV the
t -> b q q' products spread over dR ~ 2 m_t / pT ~ 0.9, so R = 0.4 jets see one subjet
and R = 0.8 jets the whole top. The label follows CMS's definition of a fully merged
top (CMS, JINST 15 (2020) P06005, Sec. 5.1): the hadronic top's b and both quarks of
its W lie within dR < 0.8 of the jet axis. A jet near a top that is not fully merged is
``other``: neither signal nor background. Other jets take the label of their hardest
hard-process parton within dR < 0.8 (quark or gluon), as the R = 0.4 jets do.

The frame window of a FatJet is centred on the tower that holds the jet axis (not on
the hottest tower, which for a top is the b or one W quark).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..layouts import LABEL_IDS
from .jets import ClusteredJets, best_match, cluster, delta_r, in_frame, take_matched
from .truth import TopDecays, TruthObjects

__all__ = [
    "FATJET_GEN_MATCH_DR",
    "FATJET_MIN_PT",
    "FATJET_R",
    "GENJET_AK8_MIN_PT",
    "FatJetTruth",
    "axis_seeds",
    "cluster_fatjets",
    "fatjet_columns",
    "fatjet_labels",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FATJET_R = 0.8
FATJET_MIN_PT = 150.0
"""GeV, on the calo scale. NanoAOD keeps AK8 jets above 170 GeV of corrected pT (CMS
NanoAOD ``jetsAK8`` table, ``pt > 170``); our calo jets respond at ~0.75-0.8
(docs/detector.md), so 150 GeV uncorrected keeps all that NanoAOD would."""
GENJET_AK8_MIN_PT = 100.0
"""GeV; NanoAOD's ``GenJetAK8`` table keeps generator AK8 jets above 100 GeV."""
FATJET_GEN_MATCH_DR = 0.4
"""FatJet -> GenJetAK8 match radius (half the jet radius, as 0.2 for R = 0.4)."""


@dataclass(frozen=True)
class FatJetTruth:
    """What labelling and generator matching of FatJets need from the generator."""

    tops: TopDecays
    partons: TruthObjects
    """Hard-process quarks and gluons, labelled ``quark``/``gluon``."""
    genjets: ClusteredJets
    """anti-kt R = 0.8 GenJets (visible stable particles), with soft-drop mass."""


def cluster_fatjets(
    event: I64, px: F64, py: F64, pz: F64, e: F64, n_events: int, min_pt: float
) -> ClusteredJets:
    """anti-kt R = 0.8 jets with their soft-drop mass (inputs event-sorted)."""
    return cluster(event, px, py, pz, e, n_events, min_pt, radius=FATJET_R, softdrop=True)


def axis_seeds(eta: F64, phi: F64) -> tuple[I64, I64]:
    """The HCAL tower (row, column) that contains each jet axis."""
    n_i, n_j = geo.HCAL_SHAPE
    i0 = np.clip(np.floor((eta + geo.ETA_MAX) / geo.HCAL_DETA), 0, n_i - 1).astype(np.int64)
    j0 = np.floor((geo.wrap_phi(phi) + np.pi) / geo.HCAL_DPHI).astype(np.int64) % n_j
    return i0, j0


def fatjet_labels(jets: ClusteredJets, truth: FatJetTruth, n_events: int) -> I64:
    """``top`` for fully merged tops, ``other`` near a top that is not, else the hardest
    hard parton within dR < 0.8 (``quark``/``gluon``), else ``unmatched``."""
    p = truth.partons
    rank = 1.0 / (1.0 + p.pt)  # the hardest parton wins
    parton = best_match(
        jets.event, jets.eta, jets.phi, p.event, p.eta, p.phi, n_events, FATJET_R, rank
    )
    label = take_matched(p.label, parton, LABEL_IDS["unmatched"]).astype(np.int64)
    t = truth.tops
    top = best_match(jets.event, jets.eta, jets.phi, t.event, t.eta, t.phi, n_events, FATJET_R)
    near = top >= 0
    if not near.any():
        return label
    k = np.maximum(top, 0)
    dr = delta_r(jets.eta[:, None], jets.phi[:, None], t.quark_eta[k], t.quark_phi[k])
    merged = near & np.all(dr < FATJET_R, axis=1)  # NaN (a missing quark) is never inside
    label = np.where(near, LABEL_IDS["other"], label)
    return np.where(merged, LABEL_IDS["top"], label)


def fatjet_columns(
    towers: tuple[I64, F64, F64, F64],
    n_events: int,
    truth: FatJetTruth | None,
    max_eta: float,
) -> dict[str, npt.NDArray[Any]]:
    """The ``FatJet`` collection's flat columns from the CaloTowers (event, eta, phi, E)."""
    ev, eta, phi, energy = towers
    et = energy / np.cosh(eta)
    jets = cluster_fatjets(
        ev, et * np.cos(phi), et * np.sin(phi), et * np.sinh(eta), energy, n_events, FATJET_MIN_PT
    )
    jets = jets.select(np.abs(jets.eta) < max_eta)
    seed_i, seed_j = axis_seeds(jets.eta, jets.phi)
    n = len(jets)
    if truth is None:
        label = np.full(n, LABEL_IDS["unmatched"], dtype=np.int64)
        gen_pt = gen_mass = gen_msd = np.full(n, -1.0)
    else:
        label = fatjet_labels(jets, truth, n_events)
        g = truth.genjets
        match = best_match(
            jets.event, jets.eta, jets.phi, g.event, g.eta, g.phi, n_events, FATJET_GEN_MATCH_DR
        )
        gen_pt = take_matched(g.pt, match, -1.0)
        gen_mass = take_matched(g.mass, match, -1.0)
        msd = g.msoftdrop if g.msoftdrop is not None else np.full(len(g), -1.0)
        gen_msd = take_matched(msd, match, -1.0)
    return {
        "event": jets.event,
        "pt": jets.pt,
        "eta": jets.eta,
        "phi": jets.phi,
        "mass": jets.mass,
        "msoftdrop": jets.msoftdrop if jets.msoftdrop is not None else np.zeros(n),
        "seedIeta": seed_i,
        "seedIphi": seed_j,
        "label": label,
        "inFrame": in_frame(seed_i),
        "genPt": gen_pt,
        "genMass": gen_mass,
        "genMSoftDrop": gen_msd,
    }
