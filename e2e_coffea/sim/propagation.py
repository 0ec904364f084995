"""Where particles cross the tracker layers and hit the calorimeter face.

Charged particles follow a helix in the uniform solenoid field, neutral ones a straight
line; both are solved in closed form for all particles at once. The path parameter is
the *transverse* arc length ``s`` (cm): ``z = z0 + s * pz / pT``. A particle with no
crossing gets ``s = inf``.

Helix convention: a particle of charge q in B along +z turns with ``dphi/ds = h / R``,
``h = -sign(q)``, ``R[cm] = 100 pT / (0.2998 B |q|)``. Its circle is centred at
``(x0 - h R sin phi0, y0 + h R cos phi0)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from .. import geometry as geo

__all__ = [
    "Helix",
    "Impact",
    "calorimeter_impact",
    "direction_at",
    "path_to_endcap",
    "path_to_radius",
    "point_of_closest_approach",
    "position_at",
]

F64 = npt.NDArray[np.float64]
C_GEV_PER_T_M = 0.299792458
"""pT [GeV] = 0.2998 B [T] R [m] |q| (the speed of light in the right units)."""


@dataclass(frozen=True)
class Helix:
    """Trajectories of many particles; neutral ones (charge 0) are straight lines.

    Derived quantities are cached: the arrays must not be modified after construction.
    """

    x0: F64
    y0: F64
    z0: F64
    px: F64
    py: F64
    pz: F64
    charge: F64
    bfield: float = geo.B_FIELD_T

    @cached_property
    def pt(self) -> F64:
        return np.maximum(np.hypot(self.px, self.py), 1e-12)

    @cached_property
    def phi0(self) -> F64:
        return np.arctan2(self.py, self.px)

    @cached_property
    def charged(self) -> npt.NDArray[np.bool_]:
        return np.not_equal(self.charge, 0)

    @cached_property
    def radius(self) -> F64:
        """Curvature radius in cm; inf for neutral particles."""
        with np.errstate(divide="ignore"):
            return 100.0 * self.pt / (C_GEV_PER_T_M * self.bfield * np.abs(self.charge))

    @cached_property
    def h(self) -> F64:
        return -np.sign(self.charge)

    @cached_property
    def _centre(self) -> tuple[F64, F64]:
        r, h, phi0 = self.radius, self.h, self.phi0
        with np.errstate(invalid="ignore"):
            xc = np.where(self.charged, self.x0 - h * r * np.sin(phi0), np.nan)
            yc = np.where(self.charged, self.y0 + h * r * np.cos(phi0), np.nan)
        return xc, yc

    def centre(self) -> tuple[F64, F64]:
        """Centre of each particle's circle in the transverse plane (nan if neutral)."""
        return self._centre


def position_at(hx: Helix, s: F64) -> tuple[F64, F64, F64]:
    """Position after transverse path ``s`` (finite values only are meaningful)."""
    phi0, pt = hx.phi0, hx.pt
    s_fin = np.where(np.isfinite(s), s, 0.0)
    x = hx.x0 + s_fin * np.cos(phi0)
    y = hx.y0 + s_fin * np.sin(phi0)
    ch = hx.charged
    if np.any(ch):
        r, h = hx.radius[ch], hx.h[ch]
        xc, yc = (c[ch] for c in hx.centre())
        turn = phi0[ch] + h * s_fin[ch] / r
        x[ch] = xc + h * r * np.sin(turn)
        y[ch] = yc - h * r * np.cos(turn)
    z = hx.z0 + s_fin * hx.pz / pt
    return x, y, z


def path_to_radius(hx: Helix, rho: float | F64) -> F64:
    """Transverse path to the first outward crossing of the cylinder r = ``rho``.

    ``rho`` is one radius for all particles or one per particle (tracker material).
    Particles produced at r >= rho, and loopers whose circle never reaches rho, get inf.
    """
    n = len(hx.x0)
    s = np.full(n, np.inf)
    r0sq = hx.x0**2 + hx.y0**2
    rho2 = np.broadcast_to(np.asarray(rho, dtype=np.float64) ** 2, (n,))
    inside = r0sq < rho2
    phi0 = hx.phi0
    # straight lines: |p0 + s u|^2 = rho^2, positive root
    neu = inside & ~hx.charged
    b = hx.x0[neu] * np.cos(phi0[neu]) + hx.y0[neu] * np.sin(phi0[neu])
    s[neu] = -b + np.sqrt(b * b + rho2[neu] - r0sq[neu])
    # helices: intersect the particle's circle with the cylinder's circle
    ch = inside & hx.charged
    if np.any(ch):
        r, h = hx.radius[ch], hx.h[ch]
        xc, yc = (c[ch] for c in hx.centre())
        dc = np.maximum(np.hypot(xc, yc), 1e-12)
        k = (rho2[ch] - dc**2 - r**2) / (2.0 * r * dc)
        ok = np.abs(k) <= 1.0
        beta = np.arctan2(yc, xc)
        alpha0 = np.arctan2(hx.y0[ch] - yc, hx.x0[ch] - xc)
        dalpha = np.arccos(np.clip(k, -1.0, 1.0))
        turns = [np.mod(h * (beta + sgn * dalpha - alpha0), 2 * np.pi) for sgn in (1.0, -1.0)]
        s_ch = r * np.minimum(*turns)
        s[ch] = np.where(ok, s_ch, np.inf)
    return s


def direction_at(hx: Helix, s: F64) -> tuple[F64, F64]:
    """Transverse momentum components (px, py) after transverse path ``s``: the helix
    turns by h s / R, a straight line keeps its direction."""
    s_fin = np.where(np.isfinite(s), s, 0.0)
    with np.errstate(invalid="ignore"):
        turn = np.where(hx.charged, hx.h * s_fin / hx.radius, 0.0)
    phi = hx.phi0 + turn
    pt = np.hypot(hx.px, hx.py)
    return pt * np.cos(phi), pt * np.sin(phi)


def path_to_endcap(hx: Helix, z_face: float) -> F64:
    """Transverse path until |z| = ``z_face`` in the direction of pz (inf if pz = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (np.sign(hx.pz) * z_face - hx.z0) * hx.pt / hx.pz
    return np.where((hx.pz != 0) & (s >= 0), s, np.inf)


@dataclass(frozen=True)
class Impact:
    """Where particles reach the calorimeter front face."""

    x: F64
    y: F64
    z: F64
    s: F64  # transverse path, inf if never reached
    length: F64  # 3D path length, cm

    @property
    def reached(self) -> npt.NDArray[np.bool_]:
        return np.isfinite(self.s)

    def eta_phi(self) -> tuple[F64, F64]:
        """Impact direction seen from the nominal origin (``fixIP``)."""
        r = np.maximum(np.hypot(self.x, self.y), 1e-12)
        return np.arcsinh(self.z / r), np.arctan2(self.y, self.x)


def calorimeter_impact(
    hx: Helix, radius: float = geo.ECAL_RADIUS_CM, z_face: float = geo.ECAL_ENDCAP_Z_CM
) -> Impact:
    """First contact with the barrel cylinder or an endcap disk."""
    s = np.minimum(path_to_radius(hx, radius), path_to_endcap(hx, z_face))
    x, y, z = position_at(hx, s)
    p_over_pt = np.sqrt(hx.pt**2 + hx.pz**2) / hx.pt
    return Impact(x=x, y=y, z=z, s=s, length=s * p_over_pt)


def point_of_closest_approach(hx: Helix, xv: F64, yv: F64, zv: F64) -> tuple[F64, F64, F64]:
    """Signed transverse impact parameter d0, dz and azimuth at the PCA to (xv, yv, zv).

    CMS sign convention: d0 = -(x - xv) sin(phi) + (y - yv) cos(phi) at the PCA; for a
    helix that is ``h (|c - v| - R)``. The PCA may lie behind the production point, so
    the turning angle is taken in (-pi, pi].
    """
    phi0, pt = hx.phi0, hx.pt
    dx, dy = hx.x0 - xv, hx.y0 - yv
    # straight line (neutral): parameter of the PCA is -(d . u)
    s = -(dx * np.cos(phi0) + dy * np.sin(phi0))
    d0 = -dx * np.sin(phi0) + dy * np.cos(phi0)
    phi = phi0.copy()
    ch = hx.charged
    if np.any(ch):
        r, h = hx.radius[ch], hx.h[ch]
        xc, yc = (c[ch] for c in hx.centre())
        cx, cy = xc - xv[ch], yc - yv[ch]
        dc = np.hypot(cx, cy)
        d0[ch] = h * (dc - r)
        alpha_pca = np.arctan2(-cy, -cx)  # direction from centre towards the vertex
        alpha0 = np.arctan2(hx.y0[ch] - yc, hx.x0[ch] - xc)
        turn = np.mod(h * (alpha_pca - alpha0) + np.pi, 2 * np.pi) - np.pi
        s[ch] = r * turn
        phi[ch] = phi0[ch] + h * turn
    dz = hx.z0 + s * hx.pz / pt - zv
    return d0, dz, geo.wrap_phi(phi)
