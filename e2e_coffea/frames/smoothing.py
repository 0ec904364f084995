"""Optional endcap 2x2 smoothing of the ECAL channel, energy-conserving.

The stitched ECAL image samples the endcap crystals (about twice the size of a grid
pixel) on the 5x5 subdivision of HCAL towers, leaving a regular pattern of empty pixels.
Public E2E converters (``resample_EE`` in the MLAnalyzer-based ``convert_root2pq``
scripts) sum 2x2 blocks and spread the sum back, but they divide by 4 twice (the
upsampler already divides) and drop the padded row, losing energy. Here:

* blocks are those of the public converters: EE- (rows 0..54) is padded by one row
  *above*, EE+ (rows 225..279) by one row *below*, so the rows pair as (1,2) ... (53,54)
  and (225,226) ... (277,278); columns pair as (0,1) ... (358,359);
* the edge rows 0 and 279 have no partner row: their blocks are 1x2;
* every pixel of a block gets ``block sum / number of pixels`` (4 or 2), so the energy
  of each block, hence of the image, is conserved; barrel rows are untouched.

The sum is always ``(a[lo,clo] + a[lo,chi]) + (a[hi,clo] + a[hi,chi])`` (a 1x2 block uses
``hi = lo`` and so computes ``2 (a+b) / 4`` exactly), the same in every backend and
layout. Because blocks straddle window borders, the builders crop a 127x127 window
(one pixel margin) and this module gives, per jet, which margin pixels to combine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .. import geometry as geo

__all__ = ["SmoothIndex", "endcap_rows", "smooth_index"]

_EEM_LAST = geo.EB_FIRST_ROW - 1  # 54
_EEP_FIRST = geo.EB_FIRST_ROW + geo.EB_SHAPE[0]  # 225
_LAST = geo.ECAL_SHAPE[0] - 1  # 279


class SmoothIndex(NamedTuple):
    """Local indices into the (n, S+2, S+2) margin window for the centre S x S pixels."""

    row_lo: npt.NDArray[np.int64]  # (n, S)
    row_hi: npt.NDArray[np.int64]  # (n, S)
    col_lo: npt.NDArray[np.int64]  # (n, S)
    col_hi: npt.NDArray[np.int64]  # (n, S)
    endcap: npt.NDArray[np.bool_]  # (n, S): row is smoothed


def endcap_rows(g: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether global ECAL rows ``g`` lie in an endcap (and on the grid)."""
    return ((g >= 0) & (g <= _EEM_LAST)) | ((g >= _EEP_FIRST) & (g <= _LAST))


def smooth_index(r0: npt.NDArray[np.int64], c0: npt.NDArray[np.int64], size: int) -> SmoothIndex:
    """Partner indices for windows whose centre pixel (0, 0) is global (r0, c0)."""
    off = np.arange(size, dtype=np.int64)
    g = r0[:, None] + off  # global rows of the centre pixels
    odd = (g % 2) == 1
    lo = np.where(odd, g, g - 1)
    hi = np.where(odd, g + 1, g)
    single = (g == 0) | (g == _LAST)
    lo = np.where(single, g, lo)
    hi = np.where(single, g, hi)
    row_lo = lo - r0[:, None] + 1
    row_hi = hi - r0[:, None] + 1
    col = (c0[:, None] + off) % geo.ECAL_SHAPE[1]
    codd = (col % 2) == 1
    local = off[None, :] + 1
    col_lo = np.where(codd, local - 1, local)
    col_hi = np.where(codd, local, local + 1)
    return SmoothIndex(row_lo, row_hi, col_lo, col_hi, endcap_rows(g))
