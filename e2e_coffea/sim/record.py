"""Pythia event records as flat numpy columns (one row per record entry).

``pythia.nextBatch(n)`` hands back awkward arrays; the truth and detector code wants
plain numpy with an ``event`` column, so the record is flattened once here. Mother and
daughter indices stay *local* (Pythia's own, 0 = none / the system entry); add
``offsets[event]`` for a row index. Positions are converted to cm and times to ns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from .particles import ParticleTable

__all__ = ["GenRecord", "charges_of", "from_batch"]

I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
MM_PER_CM = 10.0
MM_PER_NS = 299.792458

_CHARGE_CACHE: dict[int, float] = {}
_NOT_PER_ROW = ("offsets", "event", "pthat", "weight")
"""Fields that are not one value per record entry (per event, or the row bookkeeping)."""


def charges_of(ids: I32, charge_lookup: Callable[[int], float]) -> F64:
    """Electric charge per particle, looking each distinct pdgId up only once."""
    uniq, inv = np.unique(ids, return_inverse=True)
    for pid in uniq.tolist():
        if pid not in _CHARGE_CACHE:
            _CHARGE_CACHE[pid] = float(charge_lookup(pid))
    table = np.array([_CHARGE_CACHE[p] for p in uniq.tolist()], dtype=np.float64)
    return table[inv] if len(uniq) else np.zeros(0)


@dataclass(frozen=True)
class GenRecord:
    """All entries of n events; ``offsets[i]:offsets[i+1]`` are the rows of event i."""

    offsets: npt.NDArray[np.int64]
    event: npt.NDArray[np.int64]
    id: I32
    status: I32
    mother1: I32
    mother2: I32
    daughter1: I32
    daughter2: I32
    px: F64
    py: F64
    pz: F64
    e: F64
    m: F64
    x: F64
    y: F64
    z: F64
    t: F64
    charge: F64
    pthat: F64
    """Per event: the hard process's pT-hat (GeV), NanoAOD's ``Generator_binvar``."""
    weight: F64
    """Per event: Pythia's nominal event weight, NanoAOD's ``genWeight`` (1 unweighted)."""

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def row(self, local: I32) -> npt.NDArray[np.int64]:
        """Row index of a local (per-event) index given for every row."""
        return local.astype(np.int64) + self.offsets[self.event]

    def take_events(self, which: npt.NDArray[np.int64]) -> GenRecord:
        """A record of the events ``which`` (in that order); local indices stay valid."""
        counts = np.diff(self.offsets)[which]
        starts = self.offsets[:-1][which]
        rows = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        rows = rows + np.arange(counts.sum())
        cols = {
            f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name not in _NOT_PER_ROW
        }
        return GenRecord(
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            event=np.repeat(np.arange(len(which), dtype=np.int64), counts),
            pthat=self.pthat[which],
            weight=self.weight[which],
            **cols,
        )

    @staticmethod
    def concatenate(records: list[GenRecord]) -> GenRecord:
        """Events of all records, one after the other."""
        counts = np.concatenate([np.diff(r.offsets) for r in records])
        cols = {
            f.name: np.concatenate([getattr(r, f.name) for r in records])
            for f in fields(GenRecord)
            if f.name not in _NOT_PER_ROW
        }
        return GenRecord(
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            event=np.repeat(np.arange(len(counts), dtype=np.int64), counts),
            pthat=np.concatenate([r.pthat for r in records]),
            weight=np.concatenate([r.weight for r in records]),
            **cols,
        )

    def final_state(self, pv: F64) -> ParticleTable:
        """Stable particles (status > 0) with the primary vertex ``pv[event]`` added."""
        fs = self.status > 0
        ev = self.event[fs]
        return ParticleTable(
            event=ev,
            pdg=self.id[fs],
            charge=self.charge[fs],
            px=self.px[fs],
            py=self.py[fs],
            pz=self.pz[fs],
            e=self.e[fs],
            x=self.x[fs] + pv[ev, 0],
            y=self.y[fs] + pv[ev, 1],
            z=self.z[fs] + pv[ev, 2],
            t=self.t[fs],
            pileup=np.zeros(int(fs.sum()), dtype=bool),
        )


def from_batch(batch: ak.Array, charge_lookup: Callable[[int], float]) -> GenRecord:
    """Flatten ``pythia.nextBatch`` output (fields ``prt``, ``info``)."""
    prt = batch["prt"]
    counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
    flat = ak.flatten(prt)
    p4 = flat["p"]
    vtx = flat["vProd"]  # option type: None where Pythia set no production vertex

    def col(a: ak.Array, dtype: type) -> npt.NDArray[Any]:
        return np.asarray(ak.to_numpy(ak.fill_none(a, 0)), dtype=dtype)

    ids = col(flat["id"], np.int32)
    info = batch["info"]
    weights = info["weights"]
    has_weight = ak.to_numpy(ak.num(weights)) > 0
    first_weight = ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)).astype(np.float64)
    return GenRecord(
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        event=np.repeat(np.arange(len(counts), dtype=np.int64), counts),
        id=ids,
        status=col(flat["status"], np.int32),
        mother1=col(flat["mother1"], np.int32),
        mother2=col(flat["mother2"], np.int32),
        daughter1=col(flat["daughter1"], np.int32),
        daughter2=col(flat["daughter2"], np.int32),
        px=col(p4["px"], np.float64),
        py=col(p4["py"], np.float64),
        pz=col(p4["pz"], np.float64),
        e=col(p4["e"], np.float64),
        m=col(flat["m"], np.float64),
        x=col(vtx["px"], np.float64) / MM_PER_CM,
        y=col(vtx["py"], np.float64) / MM_PER_CM,
        z=col(vtx["pz"], np.float64) / MM_PER_CM,
        t=col(vtx["e"], np.float64) / MM_PER_NS,
        charge=charges_of(ids, charge_lookup),
        pthat=np.sqrt(np.maximum(ak.to_numpy(info["pT2Hat"]).astype(np.float64), 0.0)),
        weight=np.where(has_weight, first_weight, 1.0),
    )
