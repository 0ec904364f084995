"""Charged particles -> reconstructed tracks and tracker hits.

Tracks are the charged particles the CMS tracker would find (efficiency, acceptance),
with smeared curvature, direction and impact parameters. d0/dz are computed from the
*real* production vertex of each particle (Pythia's decay vertices plus the beam-spot
primary vertex) relative to the event's primary vertex, so tau, b and c lifetimes and
pile-up vertices show up as they should. Tracker hits are the crossings of the barrel
layers, seen from the primary vertex (MLAnalyzer's ``*_atPV`` images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from .params import DetectorParams
from .particles import ParticleTable, pt_eta_phi
from .propagation import Helix, Impact, path_to_radius, point_of_closest_approach, position_at

__all__ = [
    "LAYER_HALF_LENGTH_CM",
    "NOT_AT_ECAL",
    "TrackerHits",
    "Tracks",
    "reconstruct_tracks",
    "tracker_hits",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NOT_AT_ECAL = -999.0
"""etaAtEcal/phiAtEcal of tracks that never reach the ECAL face (loopers)."""
LAYER_HALF_LENGTH_CM: tuple[float, ...] = (26.5,) * 4 + (70.0,) * 2 + (118.0,) * 2
"""|z| extent of the barrel layers: BPIX 53 cm long [JINST 3 S08004 ch. 3; the
Phase-1 BPIX keeps about the length, CMS-TDR-011], TIB ~ +-70 cm and TOB +-118 cm
[JINST 3 S08004 ch. 3]."""


@dataclass(frozen=True)
class Tracks:
    """Reconstructed tracks, sorted by event; ``pdg`` stays internal (MET muons)."""

    event: I64
    pt: F64
    eta: F64
    phi: F64
    charge: npt.NDArray[np.int64]
    eta_ecal: F64
    phi_ecal: F64
    row: I64
    col: I64
    d0: F64
    dz: F64
    d0sig: F64
    dzsig: F64
    pdg: npt.NDArray[np.int32]


@dataclass(frozen=True)
class TrackerHits:
    """Hits on the barrel layers, on the ECAL grid as seen from the primary vertex."""

    event: I64
    layer: I64
    row: I64
    col: I64


def _efficiency(pt: F64, pdg: npt.NDArray[np.int32], params: DetectorParams) -> F64:
    a = np.abs(pdg)
    eff = np.where(pt >= 1.0, params.track_eff_high, params.track_eff_low)
    eff = np.where(a == 13, params.track_eff_muon, eff)
    return np.where(a == 11, params.track_eff_electron, eff)


def impact_resolution(pt: F64, eta: F64, params: DetectorParams) -> tuple[F64, F64]:
    """sigma(d0), sigma(dz) in cm: a constant (+) multiple scattering with angle powers."""
    sin_t = 1.0 / np.cosh(eta)
    s_d0 = np.hypot(params.d0_const, params.d0_ms / (pt * np.sqrt(sin_t)))
    s_dz = np.hypot(params.dz_const, params.dz_ms / (pt * sin_t**1.5))
    return s_d0, s_dz


def reconstruct_tracks(
    parts: ParticleTable,
    imp: Impact,
    pv: F64,
    params: DetectorParams,
    rng: np.random.Generator,
) -> Tracks:
    """Tracks from the charged rows of ``parts``; ``imp`` is aligned with ``parts``."""
    pt, eta, _phi = pt_eta_phi(parts.px, parts.py, parts.pz)
    r_prod = np.hypot(parts.x, parts.y)
    cand = (parts.charge != 0) & (pt > params.track_min_pt) & (np.abs(eta) < params.track_max_eta)
    cand &= r_prod < params.track_max_prod_r
    cand &= rng.random(len(parts)) < _efficiency(pt, parts.pdg, params)
    p = parts.select(cand)
    ev = p.event
    hx = Helix(p.x, p.y, p.z, p.px, p.py, p.pz, p.charge)
    d0, dz, phi_pca = point_of_closest_approach(hx, pv[ev, 0], pv[ev, 1], pv[ev, 2])
    n = len(p)
    eta_t = eta[cand]
    pt_t = pt[cand]
    # curvature smearing: Gaussian in q / pT, so a stiff track may flip its charge
    rel = np.hypot(params.track_pt_a * pt_t, params.track_pt_b)
    rel = rel * (1.0 + np.maximum(np.abs(eta_t) - 0.9, 0.0))
    kappa = np.sign(p.charge) / pt_t * (1.0 + rel * rng.standard_normal(n))
    pt_m = 1.0 / np.maximum(np.abs(kappa), 1e-9)
    charge_m = np.where(kappa >= 0, 1, -1).astype(np.int64)
    s_ang = np.hypot(params.angle_const, params.angle_ms / pt_m)
    eta_m = eta_t + s_ang * rng.standard_normal(n)
    phi_m = geo.wrap_phi(phi_pca + s_ang * rng.standard_normal(n))
    s_d0, s_dz = impact_resolution(pt_m, eta_m, params)
    d0_m = d0 + s_d0 * rng.standard_normal(n)
    dz_m = dz + s_dz * rng.standard_normal(n)
    # where the particle meets the ECAL, seen from the nominal origin (fixIP)
    reached = imp.reached[cand]
    e_eta, e_phi = (a[cand] for a in imp.eta_phi())
    row = geo.row_of_eta(e_eta)
    on_grid = reached & (row >= 0) & (row < geo.ECAL_SHAPE[0])
    return Tracks(
        event=ev,
        pt=pt_m,
        eta=eta_m,
        phi=phi_m,
        charge=charge_m,
        eta_ecal=np.where(reached, e_eta, NOT_AT_ECAL),
        phi_ecal=np.where(reached, e_phi, NOT_AT_ECAL),
        row=np.where(on_grid, row, -1),
        col=np.where(on_grid, geo.col_of_phi(e_phi), -1),
        d0=d0_m,
        dz=dz_m,
        d0sig=d0_m / s_d0,
        dzsig=dz_m / s_dz,
        pdg=p.pdg,
    )


def tracker_hits(
    parts: ParticleTable,
    pv: F64,
    params: DetectorParams,
    rng: np.random.Generator,
    r_max: F64 | None = None,
) -> TrackerHits:
    """First crossing of each barrel layer by each charged particle, as seen from the PV.

    ``r_max`` (per row, default inf) ends a trajectory piece: an electron before a
    brem emission leaves hits only inside the emission radius.
    """
    charged = parts.charge != 0
    p = parts.select(charged)
    p_rmax = np.full(len(p), np.inf) if r_max is None else np.asarray(r_max)[charged]
    hx = Helix(p.x, p.y, p.z, p.px, p.py, p.pz, p.charge)
    out: dict[str, list[I64]] = {"event": [], "layer": [], "row": [], "col": []}
    pvx, pvy, pvz = pv[p.event, 0], pv[p.event, 1], pv[p.event, 2]
    for layer, (rho, half) in enumerate(
        zip(geo.TRACKER_RADII_CM, LAYER_HALF_LENGTH_CM, strict=True)
    ):
        s = path_to_radius(hx, rho)
        x, y, z = position_at(hx, s)
        ok = np.isfinite(s) & (np.abs(z) <= half) & (rho < p_rmax)
        ok &= rng.random(len(s)) < params.hit_efficiency
        dx, dy, dz = x[ok] - pvx[ok], y[ok] - pvy[ok], z[ok] - pvz[ok]
        eta = np.arcsinh(dz / np.maximum(np.hypot(dx, dy), 1e-12))
        row = geo.row_of_eta(eta)
        on = (row >= 0) & (row < geo.ECAL_SHAPE[0])
        out["event"].append(p.event[ok][on])
        out["layer"].append(np.full(int(on.sum()), layer, dtype=np.int64))
        out["row"].append(row[on])
        out["col"].append(geo.col_of_phi(np.arctan2(dy, dx))[on])
    cat = {k: np.concatenate(v) for k, v in out.items()}
    order = np.argsort(cat["event"], kind="stable")
    return TrackerHits(**{k: v[order] for k, v in cat.items()})
