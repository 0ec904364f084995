"""CMS-like detector geometry on the E2E eta-phi grids.

Every image in e2e-coffea lives on one of three grids, all aligned to each other:

* the **ECAL grid**, 280 x 360 pixels of 0.0174 x 0.0174 (eta x phi). Rows 0-54 are the
  minus endcap (EE-), rows 55-224 the barrel (EB), rows 225-279 the plus endcap (EE+).
  This is the ``ECAL_energy`` image of CMS's MLAnalyzer, where the endcap crystals are
  projected onto a 5x5 subdivision of the HCAL towers [MLAnalyzer, ``fillECALstitched``].
* the **EB grid**, 170 x 360 crystals: rows 55..224 of the ECAL grid. The CMS barrel has
  170 x 360 crystals of 0.0174 in eta and phi [CMS ECAL TDR, CERN-LHCC-97-033; JINST 3
  S08004 (2008) sec. 4.1].
* the **HCAL grid**, 56 x 72 towers of 0.087 x 0.087 covering |eta| < 2.436 (HB and the
  uniform part of HE, ieta 1..28 per side) [JINST 3 S08004 sec. 5.1;
  MLAnalyzer ``HBHE_IETA_MAX_ECAL = 28``]. Tower (i, j) covers ECAL rows 5i..5i+4 and
  columns 5j..5j+4, so one tower is exactly 5 x 5 crystals.

Our convention for positions (the same in generator, readers and frames):
row ``r`` is centred at ``eta = -ETA_MAX + (r + 0.5) * ECAL_DETA`` and column ``c`` at
``phi = -pi + (c + 0.5) * ECAL_DPHI``. Phi wraps around modulo 360 (ECAL) or 72 (HCAL).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BPIX_RADII_CM",
    "B_FIELD_T",
    "EB_ETA_MAX",
    "EB_FIRST_ROW",
    "EB_SHAPE",
    "ECAL_DETA",
    "ECAL_DPHI",
    "ECAL_ENDCAP_Z_CM",
    "ECAL_RADIUS_CM",
    "ECAL_SHAPE",
    "EG_FRAME",
    "ETA_MAX",
    "HCAL_DETA",
    "HCAL_DPHI",
    "HCAL_RADIUS_CM",
    "HCAL_SHAPE",
    "HCAL_TO_ECAL",
    "JET_FRAME",
    "TIB_RADII_CM",
    "TOB_RADII_CM",
    "TRACKER_LAYERS",
    "TRACKER_RADII_CM",
    "col_of_phi",
    "eta_of_row",
    "jet_frame_abs_eta_max",
    "jet_frame_seed_rows",
    "phi_of_col",
    "row_of_eta",
    "wrap_phi",
]

# --- calorimeter grids -------------------------------------------------------------
HCAL_TO_ECAL: Final = 5
"""ECAL pixels per HCAL tower along each axis (0.087 / 0.0174)."""
HCAL_SHAPE: Final = (56, 72)
ECAL_SHAPE: Final = (HCAL_SHAPE[0] * HCAL_TO_ECAL, HCAL_SHAPE[1] * HCAL_TO_ECAL)  # (280, 360)
EB_SHAPE: Final = (170, 360)
EB_FIRST_ROW: Final = 55
"""Row of the ECAL grid where the barrel starts: 11 HCAL rows of EE- in front of it."""

HCAL_DETA: Final = 0.087
HCAL_DPHI: Final = 2 * math.pi / HCAL_SHAPE[1]
ECAL_DETA: Final = HCAL_DETA / HCAL_TO_ECAL  # 0.0174
ECAL_DPHI: Final = 2 * math.pi / ECAL_SHAPE[1]  # 0.01745
ETA_MAX: Final = HCAL_SHAPE[0] / 2 * HCAL_DETA  # 2.436
EB_ETA_MAX: Final = EB_SHAPE[0] / 2 * ECAL_DETA  # 1.479, the EB/EE boundary

# --- radii and fields ----------------------------------------------------------------
B_FIELD_T: Final = 3.8
"""Solenoid field [CMS, JINST 3 S08004 sec. 2]."""
ECAL_RADIUS_CM: Final = 129.0
"""Inner radius of the ECAL barrel front face [JINST 3 S08004 sec. 4.1]."""
ECAL_ENDCAP_Z_CM: Final = 315.4
"""|z| of the ECAL endcap front face [JINST 3 S08004 sec. 4.1]."""
HCAL_RADIUS_CM: Final = 177.7
"""Inner radius of HB [JINST 3 S08004 sec. 5.1]."""
BPIX_RADII_CM: Final = (2.9, 6.8, 10.9, 16.0)
"""Phase-1 barrel pixel layers [CMS Phase-1 pixel TDR, CMS-TDR-011 (2012) table 2.1]."""
TIB_RADII_CM: Final = (25.5, 33.9)
"""Inner barrel strip layers 1-2 [JINST 3 S08004 sec. 3.3.3, fig. 3.1]."""
TOB_RADII_CM: Final = (60.8, 69.2)
"""Outer barrel strip layers 1-2 [JINST 3 S08004 sec. 3.3.3]."""
TRACKER_LAYERS: Final = ("bpix1", "bpix2", "bpix3", "bpix4", "tib1", "tib2", "tob1", "tob2")
TRACKER_RADII_CM: Final = BPIX_RADII_CM + TIB_RADII_CM + TOB_RADII_CM

# --- frames --------------------------------------------------------------------------
JET_FRAME: Final = 125
"""Jet window side in ECAL pixels: centre +-62, the E2E convention."""
EG_FRAME: Final = 32
"""e/gamma crop side in EB crystals; the seed crystal sits at index [15, 15]."""


def jet_frame_seed_rows() -> tuple[int, int]:
    """First and last HCAL seed row whose jet window lies inside the ECAL grid in eta.

    The window of seed tower ``i`` starts at ECAL row ``5 i - 62 + 2`` (the seed tower's
    middle pixel at the window's centre, as :mod:`e2e_coffea.frames.objects` builds it)
    and must end by row 280: rows 12..43 of 56."""
    first = -(-(JET_FRAME // 2 - 2) // HCAL_TO_ECAL)  # ceil((62 - 2) / 5)
    last = (ECAL_SHAPE[0] - JET_FRAME + JET_FRAME // 2 - 2) // HCAL_TO_ECAL
    return first, last


def jet_frame_abs_eta_max() -> float:
    """The |eta| a jet seed can reach and still have its whole window on the grid: the
    outer edge of the last acceptable seed tower, 1.392. That, not a contract's 2.4, is
    the jet taggers' effective acceptance (about 60 % of tau jets); jets beyond are
    dropped as "outside the frame's acceptance", never framed half empty."""
    first, last = jet_frame_seed_rows()
    lo = -ETA_MAX + first * HCAL_DETA
    hi = -ETA_MAX + (last + 1) * HCAL_DETA
    return round(max(-lo, hi), 6)


def wrap_phi(phi: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map angles into [-pi, pi) so that differences across the seam stay small."""
    p = np.asarray(phi, dtype=np.float64)
    return (p + math.pi) % (2 * math.pi) - math.pi


def row_of_eta(eta: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """ECAL-grid row of ``eta``; values outside 0..279 mean outside the grid."""
    e = np.asarray(eta, dtype=np.float64)
    return np.floor((e + ETA_MAX) / ECAL_DETA).astype(np.int64)


def col_of_phi(phi: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """ECAL-grid column of ``phi``, always in 0..359 (phi wraps)."""
    p = wrap_phi(phi)
    return np.floor((p + math.pi) / ECAL_DPHI).astype(np.int64) % ECAL_SHAPE[1]


def eta_of_row(row: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Centre eta of an ECAL-grid row."""
    return -ETA_MAX + (np.asarray(row, dtype=np.float64) + 0.5) * ECAL_DETA


def phi_of_col(col: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Centre phi of an ECAL-grid column."""
    return -math.pi + (np.asarray(col, dtype=np.float64) + 0.5) * ECAL_DPHI
