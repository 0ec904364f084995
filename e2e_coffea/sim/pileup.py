"""Pile-up: minimum-bias interactions overlaid from a reusable pool.

Generating ~30 minimum-bias events per signal event with Pythia would cost more than
the signal itself, so (like CMS pre-mixing) a pool of ``SoftQCD:inelastic`` events is
generated once per seed and cached; each pile-up vertex takes a random pool event,
rotates it by a random azimuth, flips z at random, and places it at its own vertex
drawn from the luminous region, so its tracks have large dz relative to the PV.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .generator import make_pythia
from .params import DetectorParams
from .particles import ParticleTable
from .processes import COMMON_SETTINGS, MINBIAS_SETTINGS
from .record import GenRecord, from_batch

__all__ = ["POOL_ETA_MAX", "MinBiasPool", "minbias_pool", "overlay_pileup", "pool_size"]

F64 = npt.NDArray[np.float64]
POOL_ETA_MAX = 3.0
"""Pool particles beyond this |eta| cannot reach the |eta| < 2.5 detector: dropped."""


@dataclass(frozen=True)
class MinBiasPool:
    """Stable, potentially visible particles of minimum-bias events, flat."""

    offsets: npt.NDArray[np.int64]
    pdg: npt.NDArray[np.int32]
    charge: F64
    px: F64
    py: F64
    pz: F64
    e: F64
    x: F64
    y: F64
    z: F64
    t: F64

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @staticmethod
    def from_record(rec: GenRecord) -> MinBiasPool:
        pt = np.hypot(rec.px, rec.py)
        eta = np.arcsinh(rec.pz / np.maximum(pt, 1e-12))
        keep = (rec.status > 0) & (np.abs(eta) < POOL_ETA_MAX)
        keep &= ~np.isin(np.abs(rec.id), (12, 14, 16))
        counts = np.bincount(rec.event[keep], minlength=rec.n_events)
        return MinBiasPool(
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            pdg=rec.id[keep],
            charge=rec.charge[keep],
            px=rec.px[keep],
            py=rec.py[keep],
            pz=rec.pz[keep],
            e=rec.e[keep],
            x=rec.x[keep],
            y=rec.y[keep],
            z=rec.z[keep],
            t=rec.t[keep],
        )


def pool_size(mu: float, n_events: int) -> int:
    """Enough pool events that each is reused only a few times, within 100..1000."""
    return int(np.clip(np.ceil(mu * n_events / 4.0), 100, 1000))


@lru_cache(maxsize=2)
def minbias_pool(pythia_seed: int, size: int) -> MinBiasPool:
    """Generate (once per seed and size, then cached) a minimum-bias pool."""
    pythia = make_pythia(COMMON_SETTINGS + MINBIAS_SETTINGS, pythia_seed)
    rec = from_batch(pythia.nextBatch(size), pythia.particleData.charge)
    return MinBiasPool.from_record(rec)


def overlay_pileup(
    pool: MinBiasPool,
    n_pu: npt.NDArray[np.int64],
    params: DetectorParams,
    rng: np.random.Generator,
) -> ParticleTable:
    """Particles of ``n_pu[i]`` pile-up interactions for each event i, vectorised."""
    n_vtx = int(n_pu.sum())
    vtx_event = np.repeat(np.arange(len(n_pu), dtype=np.int64), n_pu)
    pick = rng.integers(0, pool.n_events, n_vtx)
    rot = rng.uniform(-np.pi, np.pi, n_vtx)
    flip = np.where(rng.random(n_vtx) < 0.5, -1.0, 1.0)
    vx = rng.normal(0.0, params.beamspot_sigma_xy, n_vtx)
    vy = rng.normal(0.0, params.beamspot_sigma_xy, n_vtx)
    vz = rng.normal(0.0, params.beamspot_sigma_z, n_vtx)
    counts = np.diff(pool.offsets)[pick]
    starts = pool.offsets[:-1][pick]
    rows = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    rows = rows + np.arange(counts.sum(), dtype=np.int64)
    k = np.repeat(np.arange(n_vtx), counts)
    cos, sin = np.cos(rot)[k], np.sin(rot)[k]
    px, py = pool.px[rows], pool.py[rows]
    x, y = pool.x[rows], pool.y[rows]
    return ParticleTable(
        event=vtx_event[k],
        pdg=pool.pdg[rows],
        charge=pool.charge[rows],
        px=cos * px - sin * py,
        py=sin * px + cos * py,
        pz=flip[k] * pool.pz[rows],
        e=pool.e[rows],
        x=vx[k] + cos * x - sin * y,
        y=vy[k] + sin * x + cos * y,
        z=vz[k] + flip[k] * pool.z[rows],
        t=pool.t[rows],
        pileup=np.ones(len(rows), dtype=bool),
    )
