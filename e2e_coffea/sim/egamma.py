"""e/gamma candidates: barrel ECAL clusters around local-maximum seed crystals.

A seed is an EB crystal above ``eg_seed_min`` that is the most energetic of the 5x5
crystals around it; the candidate energy is the 5x5 sum (the CMS "E5x5"), kept above
``eg_min_energy``. Its position is the energy-weighted centre of the 3x3 core. The
label is electron/photon when a prompt generator e/gamma lies within dR < 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..layouts import LABEL_IDS
from .jets import best_match, cell_lookup, take_matched
from .params import DetectorParams
from .readout import Hits
from .truth import TruthObjects

__all__ = ["EG_MATCH_DR", "EGammaTable", "find_egamma"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
EG_MATCH_DR = 0.1


@dataclass(frozen=True)
class EGammaTable:
    """Candidates sorted by event then decreasing energy; seed on the EB grid."""

    event: I64
    seed_row: I64
    seed_col: I64
    energy: F64
    pt: F64
    eta: F64
    phi: F64
    label: I64


def _window(hits: Hits, event: I64, row: I64, col: I64, half: int) -> F64:
    """(n, 2 half + 1, 2 half + 1) energies around each (row, col) of the ECAL grid."""
    d = np.arange(-half, half + 1)
    w = len(d)
    rows = np.broadcast_to(row[:, None, None] + d[None, :, None], (len(row), w, w))
    cols = np.broadcast_to(col[:, None, None] + d[None, None, :], (len(row), w, w))
    ev = np.broadcast_to(event[:, None, None], rows.shape)
    e = cell_lookup(hits, geo.ECAL_SHAPE, ev.ravel(), rows.ravel(), cols.ravel())
    return e.reshape(len(row), w, w)


def find_egamma(
    ecal: Hits, prompt_eg: TruthObjects, n_events: int, params: DetectorParams
) -> EGammaTable:
    """Barrel clusters of the ECAL hits of a chunk, labelled with prompt e/gamma."""
    eb = (ecal.row >= geo.EB_FIRST_ROW) & (ecal.row < geo.EB_FIRST_ROW + geo.EB_SHAPE[0])
    cand = np.flatnonzero(eb & (ecal.energy > params.eg_seed_min))
    ev, row, col, e_seed = ecal.event[cand], ecal.row[cand], ecal.col[cand], ecal.energy[cand]
    w5 = _window(ecal, ev, row, col, 2)
    is_max = e_seed >= w5.reshape(len(cand), 25).max(axis=1, initial=0.0)
    e5 = w5.sum(axis=(1, 2))
    ok = is_max & (e5 > params.eg_min_energy)
    ev, row, col, e5, w3 = ev[ok], row[ok], col[ok], e5[ok], w5[ok][:, 1:4, 1:4]
    d = np.arange(-1, 2, dtype=np.float64)
    s3 = np.maximum(w3.sum(axis=(1, 2)), 1e-12)
    d_row = (w3.sum(axis=2) * d).sum(axis=1) / s3
    d_col = (w3.sum(axis=1) * d).sum(axis=1) / s3
    eta = geo.eta_of_row(row + d_row)
    phi = geo.wrap_phi(geo.phi_of_col(col + d_col))
    order = np.lexsort((-e5, ev))
    ev, row, col, e5 = ev[order], row[order], col[order], e5[order]
    eta, phi = eta[order], phi[order]
    match = best_match(
        ev, eta, phi, prompt_eg.event, prompt_eg.eta, prompt_eg.phi, n_events, EG_MATCH_DR
    )
    label = take_matched(prompt_eg.label, match, LABEL_IDS["unmatched"])
    return EGammaTable(
        event=ev,
        seed_row=row - geo.EB_FIRST_ROW,
        seed_col=col,
        energy=e5,
        pt=e5 / np.cosh(eta),
        eta=eta,
        phi=phi,
        label=label,
    )
