"""Per-jet point clouds: every hit within dR < R of the jet axis, fixed size + mask.

Points are ordered by decreasing "energy" (ECAL/HCAL energy, track pT, 0 for tracker
hits; ties keep input order: ECAL, HCAL, tracks, tracker hits, each in hit order) and
truncated to ``max_points``. Positions are cell centres (:func:`geometry.eta_of_row`,
:func:`geometry.phi_of_col`; an HCAL tower's centre is that of its middle crystal).

Sparse layout: one point per hit. **e2e layout**: one point per *non-zero pixel* of
the dense images (``ECAL_energy``, ``HBHE_energy`` towers, ``ECAL_tracksPt`` with the
d0/dz images at the same pixel, the tracker count images), so tracks or tracker hits
sharing a cell become one point there (values summed) and a tracker pixel is one point
whatever its count. With one hit per cell both layouts give the same set of points.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, NonFiniteInputError
from ..layouts import OBJECT_BRANCHES
from . import _chunk
from .backends import FrameBackend, check_dtype, get_backend
from .channels import CHANNELS
from .jets import check_layout, check_nonfinite, jet_records
from .records import JetSelection, PointClouds

__all__ = ["FEATURES", "build_point_clouds"]

KINDS: Final = ("ecal", "hcal", "track", *geo.TRACKER_LAYERS)
FEATURES: Final = ("deta", "dphi", "log_e", *(f"is_{k}" for k in KINDS), "d0", "dz")
LOG_FLOOR: Final = 1e-6  # GeV: log_e = log(max(E, 1e-6)) keeps zero/negative hits finite
_ECAL_W = geo.ECAL_SHAPE[1]


class _Points:
    """Flat point candidates of a chunk, event-major, with per-event offsets."""

    def __init__(self, n_events: int) -> None:
        self.n_events = n_events
        self.parts: list[dict[str, npt.NDArray[Any]]] = []
        self.sources: list[str] = []

    def add(
        self,
        kind: int,
        event: npt.NDArray[np.int64],
        row: npt.NDArray[np.int64],
        col: npt.NDArray[np.int64],
        energy: npt.NDArray[Any],
        d0: Any = 0.0,
        dz: Any = 0.0,
        source: str = "",
    ) -> None:
        n = len(event)
        self.parts.append(
            {
                "event": event,
                "eta": geo.eta_of_row(row),
                "phi": geo.phi_of_col(col),
                "energy": np.asarray(energy, dtype=np.float64),
                "kind": np.full(n, kind, np.int64),
                "d0": np.broadcast_to(np.asarray(d0, np.float64), (n,)),
                "dz": np.broadcast_to(np.asarray(dz, np.float64), (n,)),
                "source": np.full(n, len(self.parts), np.int64),
            }
        )
        self.sources.append(source)

    def finish(self) -> tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.int64]]:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.argsort(cols["event"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        offsets = np.zeros(self.n_events + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols["event"], minlength=self.n_events), out=offsets[1:])
        return cols, offsets


def _sparse_points(chunk: Any) -> _Points:
    pts = _Points(_chunk.n_events(chunk))

    def get(name: str, why: str) -> _chunk.Jagged:
        return _chunk.jagged(_chunk.branch(chunk, name, layout="sparse", why=why))

    r, c = get("EcalHit_row", "ECAL points"), get("EcalHit_col", "ECAL points")
    pts.add(
        0,
        r.event_of(),
        r.values.astype(np.int64),
        c.values.astype(np.int64),
        get("EcalHit_energy", "ECAL points").values,
        source="ecal",
    )
    r, c = get("HcalHit_ieta", "HCAL points"), get("HcalHit_iphi", "HCAL points")
    f = geo.HCAL_TO_ECAL
    pts.add(
        1,
        r.event_of(),
        f * r.values.astype(np.int64) + f // 2,
        f * c.values.astype(np.int64) + f // 2,
        get("HcalHit_energy", "HCAL points").values,
        source="hcal",
    )
    r, c = get("Track_row", "track points"), get("Track_col", "track points")
    keep = r.values >= 0
    ev = r.event_of()[keep]
    pts.add(
        2,
        ev,
        r.values[keep].astype(np.int64),
        c.values[keep].astype(np.int64),
        get("Track_pt", "track points").values[keep],
        get("Track_d0", "track points").values[keep],
        get("Track_dz", "track points").values[keep],
        source="track_pt",
    )
    r, c = get("TrackerHit_row", "tracker points"), get("TrackerHit_col", "tracker points")
    layer = get("TrackerHit_layer", "tracker points").values.astype(np.int64)
    if len(layer) and (layer.min() < 0 or layer.max() >= len(geo.TRACKER_LAYERS)):
        msg = f"TrackerHit_layer holds {int(layer.min())}..{int(layer.max())}, expected 0..7"
        raise BadInputError(msg)
    ev = r.event_of()
    for i, name in enumerate(geo.TRACKER_LAYERS):
        sel = layer == i
        pts.add(
            3 + i,
            ev[sel],
            r.values[sel].astype(np.int64),
            c.values[sel].astype(np.int64),
            np.zeros(int(sel.sum())),
            source=name,
        )
    return pts


def _e2e_points(chunk: Any) -> _Points:
    pts = _Points(_chunk.n_events(chunk))

    def image(channel: str, shape: tuple[int, int]) -> npt.NDArray[Any]:
        spec = CHANNELS[channel]
        return _chunk.dense_images(chunk, spec.e2e_branch, shape, why=f"{channel} points")

    ecal = image("ecal", geo.ECAL_SHAPE)
    ev, row, col = np.nonzero(ecal)
    pts.add(0, ev, row, col, ecal[ev, row, col], source="ecal")
    hcal = image("hcal", geo.HCAL_SHAPE)
    ev, row, col = np.nonzero(hcal)
    f = geo.HCAL_TO_ECAL
    pts.add(1, ev, f * row + f // 2, f * col + f // 2, hcal[ev, row, col], source="hcal")
    tpt = image("track_pt", geo.ECAL_SHAPE)
    ev, row, col = np.nonzero(tpt)
    pts.add(
        2,
        ev,
        row,
        col,
        tpt[ev, row, col],
        image("track_d0", geo.ECAL_SHAPE)[ev, row, col],
        image("track_dz", geo.ECAL_SHAPE)[ev, row, col],
        source="track_pt",
    )
    for i, name in enumerate(geo.TRACKER_LAYERS):
        ev, row, col = np.nonzero(image(name, geo.ECAL_SHAPE))
        pts.add(3 + i, ev, row, col, np.zeros(len(ev)), source=name)
    return pts


def build_point_clouds(
    chunk: Any,
    *,
    layout: Literal["e2e", "sparse"],
    jets: JetSelection | Any | None = None,
    radius: float = 0.4,
    max_points: int = 128,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    nonfinite: Literal["raise", "mask"] = "raise",
) -> PointClouds:
    """Per jet, the ``max_points`` most energetic hits within dR < ``radius``."""
    check_layout(layout)
    check_nonfinite(nonfinite)
    check_dtype(dtype)
    if not (np.isfinite(radius) and radius > 0) or max_points < 1:
        msg = (
            f"need radius > 0 and max_points >= 1, got radius={radius!r}, max_points={max_points!r}"
        )
        raise BadInputError(msg)
    be = get_backend(backend, device)
    names = OBJECT_BRANCHES[layout]["jet"]  # type: ignore[index]
    _chunk.require(
        chunk, [names["eta"], names["phi"]], layout=layout, why="the jet axis of point clouds"
    )
    rec = jet_records(chunk, layout, jets)
    pts = (_sparse_points if layout == "sparse" else _e2e_points)(chunk)
    cols, offsets = pts.finish()
    n, N, F = len(rec), max_points, len(FEATURES)

    start = offsets[rec.event]
    counts = offsets[rec.event + 1] - start
    jet = np.repeat(np.arange(n, dtype=np.int64), counts)
    hit = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(
        start - (np.cumsum(counts) - counts), counts
    )
    deta = cols["eta"][hit] - rec.eta.astype(np.float64)[jet]
    dphi = geo.wrap_phi(cols["phi"][hit] - rec.phi.astype(np.float64)[jet])
    inside = deta * deta + dphi * dphi < radius * radius
    jet, hit, deta, dphi = jet[inside], hit[inside], deta[inside], dphi[inside]

    energy = cols["energy"][hit].copy()
    d0, dz = cols["d0"][hit].copy(), cols["dz"][hit].copy()
    bad = ~(np.isfinite(energy) & np.isfinite(d0) & np.isfinite(dz))
    masked = np.bincount(jet[bad], minlength=n).astype(np.int64)
    if bad.any():
        if nonfinite == "raise":
            k = int(np.flatnonzero(bad)[0])
            src = pts.sources[int(cols["source"][hit[k]])]
            msg = (
                f"non-finite {src!r} value in event {int(rec.event[jet[k]])} (jet "
                f"{int(rec.index[jet[k]])}) inside its point cloud; pass nonfinite='mask'"
            )
            raise NonFiniteInputError(msg)
        energy[bad], d0[bad], dz[bad] = 0.0, 0.0, 0.0

    order = np.lexsort((hit, -energy, jet))  # jet, then energy desc, then input order
    jet, hit, deta, dphi = jet[order], hit[order], deta[order], dphi[order]
    energy, d0, dz = energy[order], d0[order], dz[order]
    n_points = np.bincount(jet, minlength=n).astype(np.int64)
    rank = np.arange(len(jet)) - np.repeat(np.cumsum(n_points) - n_points, n_points)
    keep = rank < N
    jet, rank = jet[keep], rank[keep]
    kind = cols["kind"][hit[keep]]

    feats = np.zeros((n, N, F), dtype=np.float32)
    feats[jet, rank, 0] = deta[keep]
    feats[jet, rank, 1] = dphi[keep]
    log_e = np.log(np.maximum(energy[keep], LOG_FLOOR))
    feats[jet, rank, 2] = np.where(kind <= 2, log_e, 0.0)
    feats[jet, rank, 3 + kind] = 1.0
    feats[jet, rank, F - 2] = d0[keep]
    feats[jet, rank, F - 1] = dz[keep]
    mask = np.zeros((n, N), dtype=bool)
    mask[jet, rank] = True
    rec.nonfinite[:] = masked
    out_f = be.to_output(feats if dtype == "float32" else feats.astype(dtype))
    return PointClouds(out_f, be.to_output(mask), n_points, FEATURES, rec)
