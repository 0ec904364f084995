"""e/gamma cluster finding against a slow reference, and on single electrons."""

from __future__ import annotations

import awkward as ak
import numpy as np

from e2e_coffea import geometry as geo
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.sim.egamma import find_egamma
from e2e_coffea.sim.params import DEFAULT_PARAMS
from e2e_coffea.sim.readout import Hits
from e2e_coffea.sim.truth import TruthObjects


def _slow_clusters(hits: Hits, seed_min: float, e_min: float):
    table = {
        (e, r, c): x for e, r, c, x in zip(hits.event, hits.row, hits.col, hits.energy, strict=True)
    }
    out = []
    for (ev, r, c), e in table.items():
        if not (geo.EB_FIRST_ROW <= r < geo.EB_FIRST_ROW + 170) or e <= seed_min:
            continue
        window = [
            table.get((ev, r + i, (c + j) % 360), 0.0) for i in range(-2, 3) for j in range(-2, 3)
        ]
        if e >= max(window) and sum(window) > e_min:
            out.append((ev, r - geo.EB_FIRST_ROW, c, sum(window)))
    return sorted(out)


def test_clusters_match_slow_reference():
    rng = np.random.default_rng(0)
    n_ev = 5
    # clustered hits: a few hot spots plus diffuse hits, including at the phi seam
    cells = set()
    for ev in range(n_ev):
        for _ in range(6):
            r0, c0 = rng.integers(50, 230), rng.choice([0, 1, 358, 359, rng.integers(0, 360)])
            for _ in range(15):
                cells.add(
                    (
                        ev,
                        int(np.clip(r0 + rng.integers(-3, 4), 0, 279)),
                        int((c0 + rng.integers(-3, 4)) % 360),
                    )
                )
    keys = sorted(cells)
    ev, row, col = (np.array(x, dtype=np.int64) for x in zip(*keys, strict=True))
    hits = Hits(ev, row, col, rng.exponential(4.0, len(keys)), np.zeros(len(keys)))
    none = TruthObjects(*(np.zeros(0, dtype=t) for t in (np.int64, float, float, float, np.int64)))
    eg = find_egamma(hits, none, n_ev, DEFAULT_PARAMS)
    got = sorted(
        zip(
            eg.event.tolist(),
            eg.seed_row.tolist(),
            eg.seed_col.tolist(),
            eg.energy.tolist(),
            strict=True,
        )
    )
    ref = _slow_clusters(hits, DEFAULT_PARAMS.eg_seed_min, DEFAULT_PARAMS.eg_min_energy)
    assert [g[:3] for g in got] == [r[:3] for r in ref]
    np.testing.assert_allclose([g[3] for g in got], [r[3] for r in ref])
    assert np.all(eg.label == LABEL_IDS["unmatched"])


def test_single_electrons_give_one_labelled_cluster(electron_gun):
    eg = electron_gun["EGamma"]
    gen = electron_gun["GenPart"]
    barrel = np.abs(ak.to_numpy(gen.eta[:, 0])) < 1.4
    n = ak.to_numpy(ak.num(eg))[barrel]
    assert np.mean(n == 1) > 0.97
    lab = ak.to_numpy(ak.flatten(eg.label))
    assert np.mean(lab == LABEL_IDS["electron"]) > 0.97
    rows = ak.to_numpy(ak.flatten(eg.seedRow))
    assert np.all((rows >= 0) & (rows < 170))
    cols = ak.to_numpy(ak.flatten(eg.seedCol))
    assert np.all((cols >= 0) & (cols < 360))
    # the seed is the crystal the electron points at (within one crystal: bending)
    one = ak.num(eg) == 1
    d_eta = ak.to_numpy(eg.eta[one][:, 0] - gen.eta[one][:, 0])
    assert np.median(np.abs(d_eta)) < geo.ECAL_DETA
