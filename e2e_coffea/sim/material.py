"""Tracker material: electron bremsstrahlung and photon conversions before the ECAL.

In CMS the 0.4-1.8 X0 of the tracker are what makes electrons and photons look
different in the ECAL: an electron radiates photons tangentially to its helix and bends
more afterwards, so its energy spreads in phi; a photon may convert into an e+e- pair
that the 3.8 T field opens in phi. This module rewrites the particle table *before* the
calorimeter sees it, vectorised (loops run over the few brem slabs, never particles):

1. photons convert (probability 1 - exp(-7/9 t)) at a radius drawn from the truncated
   exponential in [start, end] of the material; e+ and e- share the energy with the
   Bethe-Heitler complete-screening spectrum 1 - 4/3 x (1 - x);
2. electrons (prompt, secondary, conversion legs) radiate once per slab, the kept energy
   fraction z from the Bethe-Heitler law (-ln z ~ Gamma(t_slab / ln 2)), the photon
   along the helix tangent at a uniform radius in the slab.

Energy is conserved exactly at every step. Brem photons do not convert (simplification).
All random numbers come from the detector stream, in a fixed order (conversions, then
the brem slabs); with both effects switched off nothing is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from .params import DetectorParams
from .particles import ParticleTable, pt_eta_phi
from .propagation import Helix, Impact, direction_at, path_to_radius, position_at
from .showers import C_CM_PER_NS

__all__ = [
    "ELECTRON_MASS",
    "PAIR_LENGTH_FACTOR",
    "Material",
    "apply_material",
    "material_budget",
    "material_span",
    "pair_sharing",
    "take_impact",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
ELECTRON_MASS = 0.51099895e-3
"""GeV [PDG]."""
PAIR_LENGTH_FACTOR = 7.0 / 9.0
"""Pair-production probability per X0 at high energy [PDG, passage of particles through
matter: sigma_pair = 7 / (9 n X0)]."""
_FIELDS = tuple(f.name for f in fields(ParticleTable))
Work = dict[str, npt.NDArray[Any]]
"""The particle table as mutable columns plus ``src``: the input row a particle carries
on (the electron after brem keeps it, new particles get -1)."""


@dataclass(frozen=True)
class Material:
    """What the tracker material makes of the particles of a chunk."""

    calo: ParticleTable
    """Particles that go on to the calorimeter, sorted by event."""
    continues: I64
    """For each input row, the ``calo`` row that carries it on; -1 if it converted."""
    segments: ParticleTable
    """Charged trajectory pieces for the tracker hits (an electron before and after
    each emission, conversion legs), sorted by event."""
    segment_r_max: F64
    """A segment leaves hits only on layers inside this radius (its emission point)."""


def material_budget(eta: F64, params: DetectorParams) -> F64:
    """Tracker thickness in X0 along a straight line at pseudorapidity ``eta``."""
    return np.interp(np.abs(eta), params.material_eta, params.material_x0)


def material_span(parts: ParticleTable, params: DetectorParams) -> tuple[F64, F64, F64]:
    """Per particle: first and last radius of material it crosses, and that thickness.

    Material is uniform in radius over [r_min, r_end], r_end = r_max or where the
    direction leaves |z| < z_max; a particle produced inside it crosses only the part
    beyond its production radius.
    """
    _, eta, _ = pt_eta_phi(parts.px, parts.py, parts.pz)
    with np.errstate(divide="ignore"):
        r_end = np.minimum(params.material_r_max, params.material_z_max / np.abs(np.sinh(eta)))
    start = np.maximum(np.hypot(parts.x, parts.y), params.material_r_min)
    depth = r_end - params.material_r_min
    frac = np.clip((r_end - start) / np.where(depth > 0, depth, 1.0), 0.0, 1.0)
    return start, r_end, material_budget(eta, params) * np.where(depth > 0, frac, 0.0)


def pair_sharing(u: F64) -> F64:
    """Energy fraction x of one pair leg from uniform ``u``: inverse CDF of the
    complete-screening Bethe-Heitler spectrum, dsigma/dx ~ 1 - 4/3 x (1 - x)
    [PDG, passage of particles through matter, pair production], by bisection."""
    lo, hi = np.zeros_like(u), np.ones_like(u)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        cdf = (mid - 2.0 / 3.0 * mid**2 + 4.0 / 9.0 * mid**3) * (9.0 / 7.0)
        below = cdf < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _table(w: Work, rows: npt.NDArray[Any] | slice = slice(None)) -> ParticleTable:
    return ParticleTable(**{k: w[k][rows] for k in _FIELDS})


def _move(
    w: Work, rows: I64, rho: F64
) -> tuple[npt.NDArray[np.bool_], F64, F64, F64, F64, F64, F64]:
    """Where ``rows`` cross radius ``rho``: reached, position, direction (px, py), time."""
    p = _table(w, rows)
    hx = Helix(p.x, p.y, p.z, p.px, p.py, p.pz, p.charge)
    s = path_to_radius(hx, rho)
    x, y, z = position_at(hx, s)
    px, py = direction_at(hx, s)
    length = np.where(np.isfinite(s), s, 0.0) * p.p / hx.pt
    beta = np.maximum(p.p / np.maximum(p.e, 1e-12), 1e-3)
    return np.isfinite(s), x, y, z, px, py, p.t + length / (beta * C_CM_PER_NS)


def _new_rows(w: Work, rows: I64, **values: npt.NDArray[Any]) -> Work:
    """Copies of ``rows`` with some columns replaced; ``src`` = -1 (new particles)."""
    out = {k: w[k][rows].copy() for k in w}
    out.update(values)
    out["src"] = np.full(len(rows), -1, dtype=np.int64)
    return out


def _concat(parts: list[Work]) -> Work:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _convert(w: Work, params: DetectorParams, rng: np.random.Generator) -> Work:
    """Photons -> e+ e- pairs at their conversion point."""
    rows = np.flatnonzero((w["pdg"] == 22) & (w["e"] > params.conv_min_energy))
    start, end, t = material_span(_table(w, rows), params)
    u = rng.random((3, len(rows)))  # convert?, radius, energy sharing
    lam = PAIR_LENGTH_FACTOR * t
    conv = (u[0] < -np.expm1(-lam)) & (end > start)
    rows, u, lam, start, end = rows[conv], u[:, conv], lam[conv], start[conv], end[conv]
    depth = -np.log1p(u[1] * np.expm1(-lam)) / lam  # truncated exponential in [0, 1]
    ok, x, y, z, _, _, time = _move(w, rows, start + depth * (end - start))
    rows, u, x, y, z, time = rows[ok], u[:, ok], x[ok], y[ok], z[ok], time[ok]
    e = w["e"][rows]
    p = np.sqrt(w["px"][rows] ** 2 + w["py"][rows] ** 2 + w["pz"][rows] ** 2)
    frac_min = np.minimum(ELECTRON_MASS / e, 0.5)
    legs = []
    x_minus = np.clip(pair_sharing(u[2]), frac_min, 1.0 - frac_min)
    e_minus = x_minus * e
    for pdg, charge, e_leg in ((11, -1.0, e_minus), (-11, 1.0, e - e_minus)):
        scale = np.sqrt(np.maximum(e_leg**2 - ELECTRON_MASS**2, 0.0)) / p
        legs.append(
            _new_rows(
                w,
                rows,
                pdg=np.full(len(rows), pdg, dtype=np.int32),
                charge=np.full(len(rows), charge),
                px=w["px"][rows] * scale,
                py=w["py"][rows] * scale,
                pz=w["pz"][rows] * scale,
                e=e_leg,
                x=x,
                y=y,
                z=z,
                t=time,
            )
        )
    keep = np.ones(len(w["e"]), dtype=bool)
    keep[rows] = False
    return _concat([{k: v[keep] for k, v in w.items()}, *legs])


def _radiate(
    w: Work, params: DetectorParams, rng: np.random.Generator
) -> tuple[Work, list[Work], list[F64]]:
    """Electrons radiate one photon per slab; returns the new table, plus the electron
    states before each emission (segments) with their emission radii."""
    rows = np.flatnonzero((np.abs(w["pdg"]) == 11) & (w["e"] > params.brem_min_energy))
    start, end, t = material_span(_table(w, rows), params)
    n_slabs = params.brem_slabs
    shape = np.broadcast_to(t / n_slabs / np.log(2.0), (n_slabs, len(rows)))
    g = rng.standard_gamma(shape)  # -ln z per slab [Bethe-Heitler]
    u = rng.random((n_slabs, len(rows)))  # emission radius inside the slab
    width = np.maximum(end - start, 0.0) / n_slabs
    photons: list[Work] = []
    segments: list[Work] = []
    r_emit: list[F64] = []
    for k in range(n_slabs):
        e_now = w["e"][rows]
        e_gamma = -np.expm1(-g[k]) * e_now
        emit = (width > 0) & (e_gamma > params.brem_min_photon)
        emit &= e_now - e_gamma > ELECTRON_MASS
        rho = start + width * (k + u[k])
        ok, x, y, z, px, py, time = _move(w, rows[emit], rho[emit])
        sel = np.flatnonzero(emit)[ok]
        r, e_g, e_old = rows[sel], e_gamma[sel], e_now[sel]
        x, y, z, px, py, time = x[ok], y[ok], z[ok], px[ok], py[ok], time[ok]
        segments.append({k2: v[r].copy() for k2, v in w.items()})
        r_emit.append(rho[sel])
        pz = w["pz"][r]
        p_old = np.sqrt(px**2 + py**2 + pz**2)
        photons.append(
            _new_rows(
                w,
                r,
                pdg=np.full(len(r), 22, dtype=np.int32),
                charge=np.zeros(len(r)),
                px=px * e_g / p_old,
                py=py * e_g / p_old,
                pz=pz * e_g / p_old,
                e=e_g,
                x=x,
                y=y,
                z=z,
                t=time,
            )
        )
        e_new = e_old - e_g
        scale = np.sqrt(e_new**2 - ELECTRON_MASS**2) / p_old
        for key, val in (
            ("px", px * scale),
            ("py", py * scale),
            ("pz", pz * scale),
            ("e", e_new),
            ("x", x),
            ("y", y),
            ("z", z),
            ("t", time),
        ):
            w[key][r] = val
    return _concat([w, *photons]), segments, r_emit


def _sorted(w: Work) -> tuple[ParticleTable, I64]:
    order = np.argsort(w["event"], kind="stable")
    return _table(w, order), w["src"][order]


def apply_material(
    parts: ParticleTable, params: DetectorParams, rng: np.random.Generator
) -> Material:
    """Conversions then bremsstrahlung for the particles of a chunk (see module doc)."""
    n = len(parts)
    if not (params.brem or params.conversions):
        return Material(parts, np.arange(n, dtype=np.int64), parts, np.full(n, np.inf))
    w: Work = {k: getattr(parts, k).copy() for k in _FIELDS}
    w["src"] = np.arange(n, dtype=np.int64)
    if params.conversions:
        w = _convert(w, params, rng)
    segments: list[Work] = []
    r_emit: list[F64] = []
    if params.brem:
        w, segments, r_emit = _radiate(w, params, rng)
    calo, src = _sorted(w)
    continues = np.full(n, -1, dtype=np.int64)
    carried = np.flatnonzero(src >= 0)
    continues[src[carried]] = carried
    charged = {k: v[w["charge"] != 0] for k, v in w.items()}
    seg_w = _concat([charged, *segments])
    r_max = np.concatenate([np.full(len(charged["e"]), np.inf), *r_emit])
    order = np.argsort(seg_w["event"], kind="stable")
    return Material(calo, continues, _table(seg_w, order), r_max[order])


def take_impact(imp: Impact, rows: I64) -> Impact:
    """``imp`` (of the ``calo`` table) re-aligned with the input rows; converted
    particles (row -1) never reach the calorimeter."""
    ok = rows >= 0
    r = np.where(ok, rows, 0)
    pick = {k: getattr(imp, k)[r] for k in ("x", "y", "z", "s", "length")}
    pick["s"] = np.where(ok, pick["s"], np.inf)
    pick["length"] = np.where(ok, pick["length"], np.inf)
    return Impact(**pick)
