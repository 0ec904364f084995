"""Per-jet point clouds: every hit within dR < R of the jet axis, fixed size + mask.

A :class:`PointCloudSpec` says exactly how a cloud is built, so that a model's contract
can carry it (``spec.to_dict()``) and inference rebuilds the same input: which
:data:`FEATURES` (in which order), the radius, how points are ordered before truncation
to ``max_points`` (``"energy"``: decreasing "energy" = ECAL/HCAL energy, track pT, 0 for
tracker hits; ``"dr"``: increasing distance to the jet axis, then decreasing energy;
remaining ties keep input order: ECAL, HCAL, tracks, tracker hits, each in hit order), and
the padding (``"zeros"``: padded rows are all zero and ``mask`` is False there). Every
real point has exactly one ``is_<kind>`` flag set, so it is never all zero: a model that
receives only the points tensor (as an exported ONNX model does) still recovers the mask
as "any feature non-zero"; that is why a spec must keep every kind flag. Positions are
cell centres (:func:`~e2e_coffea.geometry.eta_of_row`, :func:`~e2e_coffea.geometry.phi_of_col`; an HCAL tower's
centre is that of its middle crystal).

Sparse layout: one point per hit. **e2e layout**: one point per *non-zero pixel* of
the dense images (``ECAL_energy``, ``HBHE_energy`` towers, ``ECAL_tracksPt`` with the
d0/dz images at the same pixel, the tracker count images), so tracks or tracker hits
sharing a cell become one point there (values summed) and a tracker pixel is one point
whatever its count. With one hit per cell both layouts give the same set of points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, NonFiniteInputError
from ..io import arrays
from ..layouts import OBJECT_BRANCHES, Layout
from .channels import CHANNELS, required_branches
from .frame_backend import FrameBackend, check_dtype, get_backend
from .jets import check_layout, check_nonfinite, jet_records
from .records import JetSelection, PointClouds

__all__ = [
    "FEATURES",
    "KIND_FLAGS",
    "ORDERS",
    "PADDINGS",
    "POINT_CHANNELS",
    "PointCloudSpec",
    "build_point_clouds",
    "point_cloud_branches",
]

KINDS: Final = ("ecal", "hcal", "track", *geo.TRACKER_LAYERS)
KIND_FLAGS: Final = tuple(f"is_{k}" for k in KINDS)
"""One-hot hit kind; a real point has exactly one set, which tells it from padding."""
FEATURES: Final = ("deta", "dphi", "log_e", *KIND_FLAGS, "d0", "dz")
ORDERS: Final = ("energy", "dr")
"""Point order before truncation: decreasing energy, or increasing dR to the jet axis."""
PADDINGS: Final = ("zeros",)
POINT_CHANNELS: Final = ("ecal", "hcal", "track_pt", "track_d0", "track_dz", *geo.TRACKER_LAYERS)
"""The channels whose hits (sparse) or pixels (e2e) become points."""
LOG_FLOOR: Final = 1e-6  # GeV: log_e = log(max(E, 1e-6)) keeps zero/negative hits finite
SPEC_FORMAT: Final = "e2e-coffea-point-cloud"
SPEC_VERSION: Final = 1
_SPEC_KEYS: Final = ("features", "max_points", "order", "padding", "radius")


@dataclass(frozen=True)
class PointCloudSpec:
    """How :func:`build_point_clouds` turns a jet's hits into ``(N, F)`` features + mask.

    ``features`` picks and orders columns of :data:`FEATURES`; ``max_points`` is ``N``;
    ``order`` is one of :data:`ORDERS` and decides which points survive truncation;
    ``padding`` is one of :data:`PADDINGS`; ``radius`` is the dR cone around the jet axis.
    """

    features: tuple[str, ...] = FEATURES
    max_points: int = 128
    order: str = "energy"
    padding: str = "zeros"
    radius: float = 0.4

    def __post_init__(self) -> None:
        # the fields as they arrived: from_dict passes JSON values through unchecked
        feats: object = self.features
        if isinstance(feats, str) or not isinstance(feats, (list, tuple)):
            msg = f"invalid point-cloud spec: features must be a list of names, got {feats!r}"
            raise BadInputError(msg)
        feats = tuple(feats)
        unknown = [f for f in feats if f not in FEATURES]
        if unknown or not feats:
            msg = f"invalid point-cloud spec: unknown or no features {unknown or list(feats)}; expected names from {list(FEATURES)}"
            raise BadInputError(msg)
        if len(set(feats)) != len(feats):
            msg = f"invalid point-cloud spec: features {list(feats)} has duplicates"
            raise BadInputError(msg)
        missing = [f for f in KIND_FLAGS if f not in feats]
        if self.padding == "zeros" and missing:
            msg = (
                f"invalid point-cloud spec: features lack the kind flags {missing}; padding='zeros' "
                f"needs all of {list(KIND_FLAGS)} so that no real point is all zero"
            )
            raise BadInputError(msg)
        m: object = self.max_points
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            msg = f"invalid point-cloud spec: max_points must be an integer >= 1, got {m!r}"
            raise BadInputError(msg)
        if self.order not in ORDERS:
            msg = f"invalid point-cloud spec: unknown order {self.order!r}; expected one of {list(ORDERS)}"
            raise BadInputError(msg)
        if self.padding not in PADDINGS:
            msg = f"invalid point-cloud spec: unknown padding {self.padding!r}; expected one of {list(PADDINGS)}"
            raise BadInputError(msg)
        r: object = self.radius
        if (
            isinstance(r, bool)
            or not isinstance(r, (int, float))
            or not (math.isfinite(r) and r > 0)
        ):
            msg = f"invalid point-cloud spec: radius must be a finite number > 0, got {r!r}"
            raise BadInputError(msg)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "radius", float(r))

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def columns(self) -> list[int]:
        """Index of each chosen feature in :data:`FEATURES`."""
        return [FEATURES.index(f) for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for a model contract; :meth:`from_dict` reads it back exactly."""
        return {
            "format": SPEC_FORMAT,
            "version": SPEC_VERSION,
            "features": list(self.features),
            "max_points": self.max_points,
            "order": self.order,
            "padding": self.padding,
            "radius": self.radius,
        }

    @classmethod
    def from_dict(cls, d: object) -> PointCloudSpec:
        """Inverse of :meth:`to_dict`; every key is required, unknown keys are refused.
        ``d`` is whatever a contract's JSON held, so its type is checked too."""
        if not isinstance(d, Mapping):
            msg = f"invalid point-cloud spec: expected a JSON object, got {type(d).__name__}"
            raise BadInputError(msg)
        if d.get("format") != SPEC_FORMAT or d.get("version") != SPEC_VERSION:
            msg = (
                f"invalid point-cloud spec: format={d.get('format')!r}, version={d.get('version')!r}; "
                f"expected format={SPEC_FORMAT!r}, version={SPEC_VERSION}"
            )
            raise BadInputError(msg)
        keys = set(d) - {"format", "version"}
        if keys != set(_SPEC_KEYS):
            msg = (
                f"invalid point-cloud spec: keys {sorted(keys)} differ from the expected "
                f"{list(_SPEC_KEYS)} (missing {sorted(set(_SPEC_KEYS) - keys)}, "
                f"unknown {sorted(keys - set(_SPEC_KEYS))})"
            )
            raise BadInputError(msg)
        return cls(**{k: d[k] for k in _SPEC_KEYS})


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


def point_cloud_branches(layout: Layout) -> list[str]:
    """Hit branches every point cloud reads (the jet axis and seeds come on top)."""
    return required_branches(list(POINT_CHANNELS), layout, frame="jet")


def _sparse_points(chunk: Any) -> _Points:
    pts = _Points(arrays.n_events(chunk))

    def get(name: str, why: str) -> arrays.Jagged:
        return arrays.jagged(arrays.branch(chunk, name, layout="sparse", why=why))

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
    pts = _Points(arrays.n_events(chunk))

    def image(channel: str, shape: tuple[int, int]) -> npt.NDArray[Any]:
        spec = CHANNELS[channel]
        return arrays.dense_images(chunk, spec.e2e_branch, shape, why=f"{channel} points")

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


def _resolve_spec(spec: object, radius: float | None, max_points: int | None) -> PointCloudSpec:
    """``spec`` as passed to :func:`build_point_clouds`: a dict from JSON is refused."""
    if spec is None:
        return PointCloudSpec(
            radius=0.4 if radius is None else radius,
            max_points=128 if max_points is None else max_points,
        )
    if not isinstance(spec, PointCloudSpec):
        msg = f"spec must be a PointCloudSpec (PointCloudSpec.from_dict for JSON), got {type(spec).__name__}"
        raise BadInputError(msg)
    if radius is not None or max_points is not None:
        msg = f"pass radius/max_points or spec, not both (spec says radius={spec.radius}, max_points={spec.max_points})"
        raise BadInputError(msg)
    return spec


def build_point_clouds(
    chunk: Any,
    *,
    layout: Layout,
    jets: JetSelection | Any | None = None,
    radius: float | None = None,
    max_points: int | None = None,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    nonfinite: Literal["raise", "mask"] = "raise",
    spec: PointCloudSpec | None = None,
) -> PointClouds:
    """Per jet, the points of ``spec`` (default: all :data:`FEATURES`, the 128 most
    energetic hits within dR < 0.4); ``radius``/``max_points`` build a default spec."""
    check_layout(layout)
    check_nonfinite(nonfinite)
    check_dtype(dtype)
    spec = _resolve_spec(spec, radius, max_points)
    be = get_backend(backend, device)
    names = OBJECT_BRANCHES[layout]["jet"]
    arrays.require(
        chunk, [names["eta"], names["phi"]], layout=layout, why="the jet axis of point clouds"
    )
    rec = jet_records(chunk, layout, jets)
    pts = (_sparse_points if layout == "sparse" else _e2e_points)(chunk)
    cols, offsets = pts.finish()
    n, N, F, radius = len(rec), spec.max_points, len(FEATURES), spec.radius

    start = offsets[rec.event]
    counts = offsets[rec.event + 1] - start
    jet = np.repeat(np.arange(n, dtype=np.int64), counts)
    hit = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(
        start - (np.cumsum(counts) - counts), counts
    )
    deta = cols["eta"][hit] - rec.eta.astype(np.float64)[jet]
    dphi = geo.wrap_phi(cols["phi"][hit] - rec.phi.astype(np.float64)[jet])
    dr2 = deta * deta + dphi * dphi
    inside = dr2 < radius * radius
    jet, hit, deta, dphi, dr2 = jet[inside], hit[inside], deta[inside], dphi[inside], dr2[inside]

    energy = cols["energy"][hit].copy()
    d0, dz = cols["d0"][hit].copy(), cols["dz"][hit].copy()
    bad = ~(np.isfinite(energy) & np.isfinite(d0) & np.isfinite(dz))
    masked = np.bincount(jet[bad], minlength=n).astype(np.int64)
    if bad.any():
        if nonfinite == "raise":
            k = int(np.flatnonzero(bad)[0])
            src = pts.sources[int(cols["source"][hit[k]])]
            msg = (
                f"non-finite {src!r} value in entry {arrays.entry_of(int(rec.event[jet[k]]))} (jet "
                f"{int(rec.index[jet[k]])}) inside its point cloud; pass nonfinite='mask'"
            )
            raise NonFiniteInputError(msg)
        energy[bad], d0[bad], dz[bad] = 0.0, 0.0, 0.0

    # jet, then the spec's key, then input order (lexsort: last key is the primary one)
    keys = (hit, -energy, jet) if spec.order == "energy" else (hit, -energy, dr2, jet)
    order = np.lexsort(keys)
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
    if spec.features != FEATURES:
        feats = np.ascontiguousarray(feats[:, :, spec.columns])
    out_f = be.to_output(feats if dtype == "float32" else feats.astype(dtype))
    return PointClouds(out_f, be.to_output(mask), n_points, spec.features, rec)
