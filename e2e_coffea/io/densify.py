"""Sparse hits -> the dense per-event images of the e2e layout (MLAnalyzer ``RHTree``).

Every image is a flat, row-major float32 vector per event; cells accumulate their hits
in float32 *in hit order* (``np.add.at`` is unbuffered and ordered), which is exactly
what the sparse frame builders do, so frames cropped from these images are bitwise equal
to frames scattered from the hits. Cell conventions:

* ``ECAL_energy`` (280x360): EcalHit energy; ``EB_energy`` / ``EB_time`` (170x360): the
  EcalHits of rows 55..224, energy and time (a crystal appears once, so "sum" is its
  value);
* ``HBHE_energy`` (56x72): HcalHit energy per tower;
* ``ECAL_tracks{Pt,D0,Dz,D0Sig,DzSig}_atECALfixIP``: per cell, the sum over tracks with
  ``row >= 0`` of pt, d0, dz, d0sig, dzsig (MLAnalyzer sums per cell);
* ``{BPIX,TIB,TOB}_layerN_ECAL_atPV``: number of TrackerHits of that layer per cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, FileLayoutError
from ..layouts import E2E_IMAGES, tracker_image_name
from . import arrays

__all__ = ["densify"]

_TRACK_IMAGES = {
    "pt": "ECAL_tracksPt_atECALfixIP",
    "d0": "ECAL_tracksD0_atECALfixIP",
    "dz": "ECAL_tracksDz_atECALfixIP",
    "d0sig": "ECAL_tracksD0Sig_atECALfixIP",
    "dzsig": "ECAL_tracksDzSig_atECALfixIP",
}


def _get(chunk: Any, name: str) -> arrays.Jagged:
    return arrays.jagged(arrays.branch(chunk, name, layout="sparse", why="densify"))


def _cells(
    chunk: Any, coll: str, rname: str, cname: str, shape: tuple[int, int], *, optional: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Per hit: event, flat cell index on ``shape`` (row-major) and whether it is placed."""
    rj, row, col, placed = arrays.hit_cells(
        chunk, coll, rname, cname, shape, why="densify", optional=optional
    )
    return rj.event_of(), row.astype(np.int64) * shape[1] + col, placed


def _scatter(
    n_events: int,
    shape: tuple[int, int],
    event: npt.NDArray[np.int64],
    cell: npt.NDArray[np.int64],
    values: npt.NDArray[Any],
    keep: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    size = shape[0] * shape[1]
    img = np.zeros(n_events * size, dtype=np.float32)
    idx = event * size + cell
    vals = np.asarray(values, dtype=np.float32)
    if keep is not None:
        idx, vals = idx[keep], vals[keep]
    np.add.at(img, idx, vals)
    return img.reshape(n_events, size)


def densify(chunk: Any) -> dict[str, npt.NDArray[np.float32]]:
    """Every ``layouts.E2E_IMAGES`` image of a sparse chunk, each (n_events, H*W) float32."""
    n = arrays.n_events(chunk)
    out: dict[str, npt.NDArray[np.float32]] = {}

    ev, cell, _ = _cells(chunk, "EcalHit", "row", "col", geo.ECAL_SHAPE)
    energy = _get(chunk, "EcalHit_energy").values
    time = _get(chunk, "EcalHit_time").values
    out["ECAL_energy"] = _scatter(n, geo.ECAL_SHAPE, ev, cell, energy)
    eb_first = geo.EB_FIRST_ROW * geo.ECAL_SHAPE[1]
    in_eb = (cell >= eb_first) & (cell < eb_first + geo.EB_SHAPE[0] * geo.EB_SHAPE[1])
    out["EB_energy"] = _scatter(n, geo.EB_SHAPE, ev, cell - eb_first, energy, in_eb)
    out["EB_time"] = _scatter(n, geo.EB_SHAPE, ev, cell - eb_first, time, in_eb)

    ev, cell, _ = _cells(chunk, "HcalHit", "ieta", "iphi", geo.HCAL_SHAPE)
    out["HBHE_energy"] = _scatter(n, geo.HCAL_SHAPE, ev, cell, _get(chunk, "HcalHit_energy").values)

    ev, cell, placed = _cells(chunk, "Track", "row", "col", geo.ECAL_SHAPE, optional=True)
    for field, name in _TRACK_IMAGES.items():
        vals = _get(chunk, f"Track_{field}").values
        out[name] = _scatter(n, geo.ECAL_SHAPE, ev, cell, vals, placed)

    ev, cell, _ = _cells(chunk, "TrackerHit", "row", "col", geo.ECAL_SHAPE)
    layer = _get(chunk, "TrackerHit_layer").values.astype(np.int64)
    bad = (layer < 0) | (layer >= len(geo.TRACKER_LAYERS))
    if bad.any():
        h = int(np.flatnonzero(bad)[0])
        msg = f"TrackerHit_layer[{h}] = {layer[h]} is not a layer index 0..{len(geo.TRACKER_LAYERS) - 1}"
        raise BadInputError(msg)
    ones = np.ones(len(layer), dtype=np.float32)
    for i, name in enumerate(geo.TRACKER_LAYERS):
        out[tracker_image_name(name)] = _scatter(n, geo.ECAL_SHAPE, ev, cell, ones, layer == i)

    missing = set(E2E_IMAGES) - set(out)
    if missing:  # pragma: no cover - guards layouts.py against drift
        msg = f"densify does not produce e2e images {sorted(missing)}"
        raise FileLayoutError(msg)
    return {name: out[name] for name in E2E_IMAGES}
