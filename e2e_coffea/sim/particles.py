"""Flat particle tables: what the detector sees, one numpy array per quantity.

The detector never loops over particles; it works on a :class:`ParticleTable` whose
``event`` column says which event of the chunk each particle belongs to. Positions are
in cm in the lab frame (the primary-vertex offset already added), times in ns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

__all__ = ["ParticleTable", "pairs_by_event", "pt_eta_phi"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ParticleTable:
    """Stable particles entering the detector, sorted by ``event``."""

    event: npt.NDArray[np.int64]
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
    pileup: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.event)

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> ParticleTable:
        """The rows where ``mask`` is true (or the given indices), order kept."""
        return ParticleTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @staticmethod
    def concatenate(tables: list[ParticleTable]) -> ParticleTable:
        """Stack tables and re-sort by event (stable, so each table's order survives)."""
        merged = {
            f.name: np.concatenate([getattr(t, f.name) for t in tables])
            for f in fields(ParticleTable)
        }
        order = np.argsort(merged["event"], kind="stable")
        return ParticleTable(**{k: v[order] for k, v in merged.items()})

    @property
    def pt(self) -> F64:
        return np.hypot(self.px, self.py)

    @property
    def p(self) -> F64:
        return np.sqrt(self.px**2 + self.py**2 + self.pz**2)

    @property
    def mass(self) -> F64:
        return np.sqrt(np.maximum(self.e**2 - self.p**2, 0.0))


def pt_eta_phi(px: F64, py: F64, pz: F64) -> tuple[F64, F64, F64]:
    """Transverse momentum, pseudorapidity and azimuth; eta is finite for pT = 0."""
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    return pt, eta, np.arctan2(py, px)


def pairs_by_event(
    event_a: npt.NDArray[np.int64], event_b: npt.NDArray[np.int64], n_events: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices (ia, ib) of every pair of rows of ``a`` and ``b`` that share an event.

    Both inputs must be sorted by event. This is the vectorised form of "for each jet,
    loop over the truth objects of its event" used by all the matching code.
    """
    counts_b = np.bincount(event_b, minlength=n_events)
    offsets_b = np.concatenate([[0], np.cumsum(counts_b)])
    per_a = counts_b[event_a]
    ia = np.repeat(np.arange(len(event_a), dtype=np.int64), per_a)
    starts = np.repeat(offsets_b[event_a], per_a)
    first_of_a = np.repeat(np.cumsum(per_a) - per_a, per_a)
    ib = starts + (np.arange(len(ia), dtype=np.int64) - first_of_a)
    return ia, ib.astype(np.int64)
