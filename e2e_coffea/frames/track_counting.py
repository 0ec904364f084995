"""Track counting: the classic b-tagging baseline, as an object quantity of R = 0.4 jets.

CMS's Track Counting High Efficiency tagger (TCHE) ranks the tracks of a jet by their
signed impact-parameter significance and takes the second-highest as the discriminator
[CMS, "Identification of b-quark jets with the CMS experiment", JINST 8 (2013) P04013,
arXiv:1211.4462, Sec. 4.1; CMS-BTV-12-001]. A track's IP is signed positive when its
point of closest approach lies downstream along the jet axis, as a B hadron's decay
products do; resolution smears prompt tracks to both signs.

Here: the tracks within dR < 0.4 of the jet axis (track eta/phi at the point of closest
approach), their transverse significance ``d0sig`` signed by the jet (our tracks carry
``d0`` and ``dz`` separately: the 2-d significance stands in for CMS's 3-d one). Our
``d0`` follows CMS's convention, d0 = -(x - xv) sin(phi) + (y - yv) cos(phi) at the
point of closest approach (sim/propagation.py), so the displacement PCA - PV is
d0 (-sin phi, cos phi) and its projection on the jet direction has the sign of
d0 sin(phi_jet - phi_track). A jet with fewer than ``n`` such tracks gets
:data:`NO_DISCRIMINATOR` (CMS gives it its tagger's default value, below every cut).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..io import arrays
from ..layouts import Layout
from .records import ObjectRecords

__all__ = ["NO_DISCRIMINATOR", "TRACK_BRANCHES", "signed_ip_significance", "track_counting"]

NO_DISCRIMINATOR: Final = -100.0
"""The discriminator of a jet with too few tracks: below any physical value."""
TRACK_BRANCHES: Final = ("Track_eta", "Track_phi", "Track_d0", "Track_d0sig")
"""What track counting reads (sparse layout only: the e2e ntuple holds track images)."""


def signed_ip_significance(
    d0sig: npt.ArrayLike, d0: npt.ArrayLike, track_phi: npt.ArrayLike, jet_phi: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """|d0sig| signed + when the track's PCA lies downstream of the PV along the jet."""
    sign = np.sign(np.asarray(d0, np.float64) * np.sin(np.asarray(jet_phi) - np.asarray(track_phi)))
    return np.abs(np.asarray(d0sig, np.float64)) * np.where(sign == 0, 1.0, sign)


def track_counting(
    chunk: Any, layout: Layout, records: ObjectRecords, *, n: int = 2, dr: float = 0.4
) -> npt.NDArray[np.float64]:
    """The ``n``-th highest signed d0 significance among the tracks within ``dr`` of each
    jet of ``records`` (``n = 2``: TCHE); :data:`NO_DISCRIMINATOR` with fewer tracks."""
    if layout != "sparse":
        msg = "track counting needs the per-track branches of the sparse layout; the e2e ntuple holds track images only"
        raise BadInputError(msg)
    if n < 1:
        msg = f"track counting ranks tracks from 1, got n={n}"
        raise BadInputError(msg)
    arrays.require(chunk, TRACK_BRANCHES, layout=layout, why="track counting")
    eta, phi, d0, sig = (arrays.jagged(chunk[b]) for b in TRACK_BRANCHES)
    out = np.full(len(records), NO_DISCRIMINATOR)
    if len(records) == 0:
        return out
    # every (jet, track of its event) pair
    per_jet = eta.counts[records.event]
    jet = np.repeat(np.arange(len(records)), per_jet)
    start = np.repeat(eta.offsets[records.event], per_jet)
    first = np.repeat(np.cumsum(per_jet) - per_jet, per_jet)
    trk = start + np.arange(len(jet)) - first
    dphi = (phi.values[trk] - records.phi[jet] + np.pi) % (2 * np.pi) - np.pi
    near = np.hypot(eta.values[trk] - records.eta[jet], dphi) < dr
    jet, trk = jet[near], trk[near]
    s = signed_ip_significance(sig.values[trk], d0.values[trk], phi.values[trk], records.phi[jet])
    order = np.lexsort((-s, jet))  # by jet, then significance descending
    jet, s = jet[order], s[order]
    rank = np.arange(len(jet)) - np.searchsorted(jet, jet, side="left")
    pick = rank == n - 1
    out[jet[pick]] = s[pick]
    return out
