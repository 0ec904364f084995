"""Particles -> raw energy deposits in ECAL crystals and HCAL towers (before readout).

Every visible particle is followed to the ECAL front face (:mod:`.propagation`); the
impact point, seen from the nominal origin ("fixIP"), picks the crystal and the tower.
e/gamma shower in ECAL with a core+halo lateral profile; hadrons share their energy
between ECAL and HCAL with a non-compensating response; muons leave MIP signals.
All of it is vectorised over the particles of a whole chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from .. import geometry as geo
from .params import DetectorParams
from .particles import ParticleTable
from .propagation import Helix, Impact, calorimeter_impact

__all__ = [
    "C_CM_PER_NS",
    "Deposits",
    "calorimeter_deposits",
    "em_resolution",
    "hadron_response",
    "lateral_fractions",
    "particle_classes",
]

F64 = npt.NDArray[np.float64]
C_CM_PER_NS = 29.9792458
INVISIBLE = (12, 14, 16)


@dataclass(frozen=True)
class Deposits:
    """Raw deposits, possibly many per cell; ``readout`` sums and digitises them."""

    event: npt.NDArray[np.int64]
    row: npt.NDArray[np.int64]
    col: npt.NDArray[np.int64]
    energy: F64
    time: F64

    @staticmethod
    def concatenate(parts: list[Deposits]) -> Deposits:
        return Deposits(
            *(
                np.concatenate([getattr(p, k) for p in parts])
                for k in ("event", "row", "col", "energy", "time")
            )
        )


def lateral_fractions(
    u: F64, v: F64, scale: F64, components: tuple[tuple[float, float], ...], half: int
) -> F64:
    """Fraction of a shower in each cell of a (2 half + 1)^2 window around the hit cell.

    ``u``, ``v`` are the impact positions inside the hit cell in [0, 1) (eta, phi);
    each component is (weight, sigma in cell widths), scaled per particle by ``scale``.
    Gaussians factorise, so each component is an outer product of two 1D integrals.
    """
    d = np.arange(-half, half + 1, dtype=np.float64)
    out = np.zeros((len(u), 2 * half + 1, 2 * half + 1))
    for weight, sigma in components:
        sg = (sigma * scale)[:, None]
        fu = ndtr((d + 1 - u[:, None]) / sg) - ndtr((d - u[:, None]) / sg)
        fv = ndtr((d + 1 - v[:, None]) / sg) - ndtr((d - v[:, None]) / sg)
        out += weight * fu[:, :, None] * fv[:, None, :]
    return out


def em_resolution(energy: F64, params: DetectorParams) -> F64:
    """Relative stochastic (+) constant ECAL resolution; noise comes from the crystals."""
    e = np.maximum(energy, 1e-6)
    return np.hypot(params.ecal_stochastic / np.sqrt(e), params.ecal_constant)


def hadron_response(energy: F64, params: DetectorParams) -> F64:
    """Mean calorimeter signal / energy for a hadron: f_em + (1 - f_em) h/e."""
    fem = np.clip(1.0 - np.maximum(energy, 1.0) ** (params.fem_k - 1.0), 0.0, 1.0)
    return fem + (1.0 - fem) / params.e_over_h


def particle_classes(pdg: npt.NDArray[np.int32]) -> dict[str, npt.NDArray[np.bool_]]:
    """Detector behaviour classes by |pdgId|."""
    a = np.abs(pdg)
    em = (a == 11) | (a == 22)
    mu = a == 13
    invisible = np.isin(a, INVISIBLE)
    return {"em": em, "mu": mu, "invisible": invisible, "hadron": ~(em | mu | invisible)}


def _spread(
    event: npt.NDArray[np.int64],
    eta: F64,
    phi: F64,
    energy: F64,
    time: F64,
    scale: F64,
    components: tuple[tuple[float, float], ...],
    half: int,
    cell: float,
    n_rows: int,
    n_cols: int,
    renormalise: bool,
) -> Deposits:
    """Deposit ``energy`` around (eta, phi) on a grid of ``cell``-sized pixels."""
    x_eta = (eta + geo.ETA_MAX) / cell
    x_phi = (geo.wrap_phi(phi) + np.pi) / (2 * np.pi / n_cols)
    r0, c0 = np.floor(x_eta), np.floor(x_phi)
    frac = lateral_fractions(x_eta - r0, x_phi - c0, scale, components, half)
    d = np.arange(-half, half + 1)
    rows = r0.astype(np.int64)[:, None, None] + d[None, :, None]
    cols = (c0.astype(np.int64)[:, None, None] + d[None, None, :]) % n_cols
    rows, cols = np.broadcast_to(rows, frac.shape), np.broadcast_to(cols, frac.shape)
    if renormalise:
        frac = frac / frac.sum(axis=(1, 2), keepdims=True)
    e = frac * energy[:, None, None]
    keep = (rows >= 0) & (rows < n_rows) & (e > 1e-5)
    bshape = frac.shape
    return Deposits(
        event=np.broadcast_to(event[:, None, None], bshape)[keep],
        row=rows[keep],
        col=cols[keep],
        energy=e[keep],
        time=np.broadcast_to(time[:, None, None], bshape)[keep],
    )


def _spread_sized(
    event: npt.NDArray[np.int64],
    eta: F64,
    phi: F64,
    energy: F64,
    time: F64,
    scale: F64,
    components: tuple[tuple[float, float], ...],
    grid: tuple[float, int, int],
    renormalise: bool,
    wide_above: float,
) -> list[Deposits]:
    """7x7 crystals for energetic showers, 3x3 for soft ones (whose outer crystals
    would get less than the noise anyway): with pile-up this is most of the cost."""
    wide = energy > wide_above
    return [
        _spread(
            event[sel],
            eta[sel],
            phi[sel],
            energy[sel],
            time[sel],
            scale[sel],
            components,
            half,
            *grid,
            renormalise=renormalise,
        )
        for sel, half in ((wide, 3), (~wide, 1))
    ]


def _arrival_time(parts: ParticleTable, imp: Impact) -> F64:
    """Time at the ECAL face minus the time of flight of light from the origin (ns)."""
    beta = parts.p / np.maximum(parts.e, 1e-12)
    dist = np.sqrt(imp.x**2 + imp.y**2 + imp.z**2)
    return parts.t + imp.length / (np.maximum(beta, 1e-3) * C_CM_PER_NS) - dist / C_CM_PER_NS


def calorimeter_deposits(
    parts: ParticleTable, params: DetectorParams, rng: np.random.Generator
) -> tuple[Deposits, Deposits, Impact]:
    """Raw ECAL (ECAL grid) and HCAL (HCAL grid) deposits, plus every particle's impact."""
    hx = Helix(parts.x, parts.y, parts.z, parts.px, parts.py, parts.pz, parts.charge)
    imp = calorimeter_impact(hx)
    eta, phi = imp.eta_phi()
    inside = imp.reached & (np.abs(eta) < geo.ETA_MAX)
    cls = particle_classes(parts.pdg)
    time = _arrival_time(parts, imp)
    r_t = np.maximum(np.hypot(imp.x, imp.y), 1.0)
    scale = geo.ECAL_RADIUS_CM / r_t  # showers look wider in eta-phi further forward
    ecal_parts: list[Deposits] = []
    hcal_parts: list[Deposits] = []
    ecal_grid = (geo.ECAL_DETA, *geo.ECAL_SHAPE)
    hcal_grid = (geo.HCAL_DETA, *geo.HCAL_SHAPE)
    em_profile = (
        (params.em_core_weight, params.em_core_sigma),
        (1.0 - params.em_core_weight, params.em_halo_sigma),
    )

    # e/gamma: full EM shower in ECAL
    m = inside & cls["em"]
    e = parts.e[m] * (1.0 + rng.standard_normal(m.sum()) * em_resolution(parts.e[m], params))
    ecal_parts += _spread_sized(
        parts.event[m],
        eta[m],
        phi[m],
        np.maximum(e, 0.0),
        time[m],
        scale[m],
        em_profile,
        ecal_grid,
        renormalise=False,
        wide_above=params.wide_window_above,
    )

    # hadrons: non-compensating response, resolution, ECAL/HCAL sharing
    m = inside & cls["hadron"]
    n_h = int(m.sum())
    pdg_h = parts.pdg[m]
    e_avail = parts.e[m] - np.where(np.abs(pdg_h) > 1000, np.sign(pdg_h), 0) * parts.mass[m]
    e_avail = np.maximum(e_avail, 0.0)
    sigma = np.hypot(
        params.had_stochastic / np.sqrt(np.maximum(e_avail, 1e-3)), params.had_constant
    )
    visible = e_avail * hadron_response(e_avail, params) * (1 + rng.standard_normal(n_h) * sigma)
    visible = np.maximum(visible, 0.0)
    starts_in_ecal = rng.random(n_h) < 1.0 - np.exp(-params.ecal_lambda_i)
    f_ecal = np.where(starts_in_ecal, rng.uniform(0.2, 0.8, n_h), 0.0)
    charged_h = parts.charge[m] != 0
    mip = np.where(
        ~starts_in_ecal & charged_h,
        np.minimum(_landau_like(params.mip_ecal, n_h, rng), visible),
        0.0,
    )
    e_ecal = f_ecal * visible + mip
    e_hcal = visible - e_ecal
    had_profile = ((1.0, params.had_ecal_sigma),)
    ecal_parts += _spread_sized(
        parts.event[m],
        eta[m],
        phi[m],
        e_ecal,
        time[m],
        scale[m],
        had_profile,
        ecal_grid,
        renormalise=True,
        wide_above=params.wide_window_above_had,
    )
    hcal_parts.append(
        _spread(
            parts.event[m],
            eta[m],
            phi[m],
            e_hcal,
            time[m],
            np.ones(n_h),
            ((1.0, params.had_hcal_sigma),),
            1,
            *hcal_grid,
            renormalise=True,
        )
    )

    # muons: minimum ionisation in one crystal and one tower
    m = inside & cls["mu"]
    n_mu = int(m.sum())
    point = ((1.0, 1e-3),)
    ecal_parts.append(
        _spread(
            parts.event[m],
            eta[m],
            phi[m],
            _landau_like(params.mip_ecal, n_mu, rng),
            time[m],
            np.ones(n_mu),
            point,
            0,
            *ecal_grid,
            renormalise=True,
        )
    )
    hcal_parts.append(
        _spread(
            parts.event[m],
            eta[m],
            phi[m],
            _landau_like(params.mip_hcal, n_mu, rng),
            time[m],
            np.ones(n_mu),
            point,
            0,
            *hcal_grid,
            renormalise=True,
        )
    )
    return Deposits.concatenate(ecal_parts), Deposits.concatenate(hcal_parts), imp


def _landau_like(mpv: float, n: int, rng: np.random.Generator) -> F64:
    """MIP energies: most probable value ``mpv`` with a long upper tail (Gumbel)."""
    return mpv * np.maximum(1.0 + 0.1 * rng.gumbel(size=n), 0.5)
