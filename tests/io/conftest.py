"""A tiny synthetic sparse chunk, so the I/O tests need no Pythia; and the ``mlanalyzer``
fixture of :mod:`tests.io.mlanalyzer_sample`."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES

from .mlanalyzer_sample import mlanalyzer  # noqa: F401  (a fixture: ROOT-written MLAnalyzer files)

INT16 = {"row", "col", "ieta", "iphi", "seedIeta", "seedIphi", "seedRow", "seedCol"}
INT8 = {"layer", "label", "charge", "nProngs", "nPi0"}
BOOL = {"isTau", "isEle", "inFrame"}
RANGES = {
    "row": 280,
    "col": 360,
    "ieta": 56,
    "iphi": 72,
    "seedIeta": 56,
    "seedIphi": 72,
    "seedRow": 170,
    "seedCol": 360,
    "layer": 8,
    "label": 6,
}


def synthetic_chunk(n_events: int, seed: int = 0) -> dict[str, ak.Array]:
    rng = np.random.default_rng(seed)
    chunk: dict[str, ak.Array] = {}
    for coll, fields in SPARSE_COLLECTIONS.items():
        counts = rng.integers(0, 6, n_events)
        total = int(counts.sum())
        cols = {}
        for f in fields:
            if f in INT16:
                v = rng.integers(0, RANGES[f], total).astype(np.int16)
            elif f in INT8:
                v = rng.integers(0, RANGES.get(f, 3), total).astype(np.int8)
            elif f in BOOL:
                v = rng.random(total) < 0.5
            else:
                v = rng.normal(10, 3, total).astype(np.float32)
            cols[f] = ak.unflatten(v, counts)
        chunk[coll] = ak.zip(cols)
    ev = {b: rng.normal(0, 1, n_events).astype(np.float32) for b in SPARSE_EVENT_BRANCHES}
    ev["run"] = np.ones(n_events, np.int32)
    ev["luminosityBlock"] = np.ones(n_events, np.int32)
    ev["event"] = np.arange(1, n_events + 1, dtype=np.int64)
    ev["nVtx"] = np.ones(n_events, np.int32)
    ev["Pileup_nPU"] = np.zeros(n_events, np.int32)
    ev["genWeight"] = np.ones(n_events, np.float32)
    chunk["event"] = ak.zip(ev)
    return chunk


@pytest.fixture
def chunk() -> dict[str, ak.Array]:
    return synthetic_chunk(7)
