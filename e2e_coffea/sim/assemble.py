"""Flat numpy columns -> the awkward collections of a :data:`SimChunk`, with exact dtypes.

The dtypes here are the on-disk types of the sparse layout, so the writer can hand
these arrays to uproot unchanged and both layouts see identical values.
"""

from __future__ import annotations

from typing import Any, Final

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import GenerationError
from ..layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES

__all__ = [
    "EVENT_DTYPES",
    "FIELD_DTYPES",
    "SimChunk",
    "concatenate_chunks",
    "empty_columns",
    "event_record",
    "to_collections",
]

SimChunk = dict[str, ak.Array]
"""Collection name -> jagged record array, plus "event" -> flat record array."""

_I16, _I8, _F32, _BOOL = np.int16, np.int8, np.float32, np.bool_
FIELD_DTYPES: Final[dict[str, dict[str, type]]] = {
    "EcalHit": {"row": _I16, "col": _I16, "energy": _F32, "time": _F32},
    "HcalHit": {"ieta": _I16, "iphi": _I16, "energy": _F32},
    "Track": {
        "pt": _F32,
        "eta": _F32,
        "phi": _F32,
        "charge": _I8,
        "etaAtEcal": _F32,
        "phiAtEcal": _F32,
        "row": _I16,
        "col": _I16,
        "d0": _F32,
        "dz": _F32,
        "d0sig": _F32,
        "dzsig": _F32,
    },
    "TrackerHit": {"layer": _I8, "row": _I16, "col": _I16},
    "Jet": {
        "pt": _F32,
        "eta": _F32,
        "phi": _F32,
        "mass": _F32,
        "seedIeta": _I16,
        "seedIphi": _I16,
        "label": _I8,
        "isTau": _BOOL,
        "isEle": _BOOL,
        "inFrame": _BOOL,
        "genPt": _F32,
        "genMass": _F32,
        "genVisTauPt": _F32,
        "hadronFlavour": np.int8,
        "partonFlavour": np.int16,
    },
    "GenJet": {"pt": _F32, "eta": _F32, "phi": _F32, "mass": _F32},
    "FatJet": {
        "pt": _F32,
        "eta": _F32,
        "phi": _F32,
        "mass": _F32,
        "msoftdrop": _F32,
        "seedIeta": _I16,
        "seedIphi": _I16,
        "label": _I8,
        "inFrame": _BOOL,
        "genPt": _F32,
        "genMass": _F32,
        "genMSoftDrop": _F32,
    },
    "GenJetAK8": {"pt": _F32, "eta": _F32, "phi": _F32, "mass": _F32},
    "EGamma": {
        "seedRow": _I16,
        "seedCol": _I16,
        "energy": _F32,
        "pt": _F32,
        "eta": _F32,
        "phi": _F32,
        "label": _I8,
    },
    "GenPart": {
        "pdgId": np.int32,
        "pt": _F32,
        "eta": _F32,
        "phi": _F32,
        "mass": _F32,
        "vx": _F32,
        "vy": _F32,
        "vz": _F32,
    },
    "GenVisTau": {"pt": _F32, "eta": _F32, "phi": _F32, "nProngs": _I8, "nPi0": _I8},
}
"""On-disk dtype of every field of :data:`~e2e_coffea.layouts.SPARSE_COLLECTIONS`."""
EVENT_DTYPES: Final[dict[str, type]] = {
    "run": np.int32,
    "luminosityBlock": np.int32,
    "event": np.int64,
    "MET_pt": _F32,
    "MET_phi": _F32,
    "MET_sumET": _F32,
    "PV_x": _F32,
    "PV_y": _F32,
    "PV_z": _F32,
    "nVtx": np.int32,
    "Pileup_nPU": np.int32,
    "Pileup_nTrueInt": _F32,
    "Generator_binvar": _F32,
    "genWeight": _F32,
}
EVENTS_PER_LUMI = 1000

if (
    any(tuple(FIELD_DTYPES[k]) != v for k, v in SPARSE_COLLECTIONS.items())
    or tuple(EVENT_DTYPES) != SPARSE_EVENT_BRANCHES
):  # pragma: no cover - caught by the tests at import time
    _msg = "sim.assemble dtypes disagree with layouts.SPARSE_COLLECTIONS"
    raise GenerationError(_msg)


def empty_columns(name: str) -> dict[str, npt.NDArray[Any]]:
    """Zero-length columns of a collection (used when a step is skipped)."""
    cols: dict[str, npt.NDArray[Any]] = {
        f: np.zeros(0, dtype=dt) for f, dt in FIELD_DTYPES[name].items()
    }
    cols["event"] = np.zeros(0, dtype=np.int64)
    return cols


def _jagged(cols: dict[str, npt.NDArray[Any]], name: str, n_events: int) -> ak.Array:
    event = np.asarray(cols["event"], dtype=np.int64)
    if len(event) and np.any(np.diff(event) < 0):
        msg = f"{name} columns are not sorted by event"
        raise GenerationError(msg)
    counts = np.bincount(event, minlength=n_events)
    if len(counts) != n_events:
        msg = f"{name} has rows for event {int(event.max())}, beyond the {n_events} events"
        raise GenerationError(msg)
    offsets = ak.index.Index64(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    fields = SPARSE_COLLECTIONS[name]
    contents = [
        ak.contents.NumpyArray(np.ascontiguousarray(cols[f], dtype=FIELD_DTYPES[name][f]))
        for f in fields
    ]
    record = ak.contents.RecordArray(contents, list(fields), length=len(event))
    return ak.Array(ak.contents.ListOffsetArray(offsets, record))


def to_collections(columns: dict[str, dict[str, npt.NDArray[Any]]], n_events: int) -> SimChunk:
    """Every collection of :data:`~e2e_coffea.layouts.SPARSE_COLLECTIONS` as a jagged record array."""
    return {
        name: _jagged(columns.get(name) or empty_columns(name), name, n_events)
        for name in SPARSE_COLLECTIONS
    }


def event_record(values: dict[str, npt.NDArray[Any]], first_event: int, n_events: int) -> ak.Array:
    """Event-level branches; run/lumi/event numbers follow from ``first_event``."""
    event = first_event + np.arange(n_events, dtype=np.int64) + 1
    full = {
        "run": np.ones(n_events),
        "luminosityBlock": 1 + (event - 1) // EVENTS_PER_LUMI,
        "event": event,
        **values,
    }
    contents = [
        ak.contents.NumpyArray(np.ascontiguousarray(full[k], dtype=dt))
        for k, dt in EVENT_DTYPES.items()
    ]
    return ak.Array(ak.contents.RecordArray(contents, list(EVENT_DTYPES), length=n_events))


def concatenate_chunks(chunks: list[SimChunk]) -> SimChunk:
    """Join consecutive blocks of events key by key."""
    if len(chunks) == 1:
        return chunks[0]
    return {k: ak.concatenate([c[k] for c in chunks]) for k in chunks[0]}
