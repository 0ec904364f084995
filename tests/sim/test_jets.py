"""Jet seeds, frame flags, truth labels and matching, against slow references."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.sim.jets import (
    ClusteredJets,
    best_match,
    cell_lookup,
    cluster,
    delta_r,
    in_frame,
    jet_labels,
    jet_seeds,
)
from e2e_coffea.sim.particles import pairs_by_event
from e2e_coffea.sim.readout import Hits
from e2e_coffea.sim.truth import TruthObjects


def _random_hcal(rng, n_events, n_hits):
    cells = rng.choice(n_events * 56 * 72, n_hits, replace=False)
    cells.sort()
    ev, cell = np.divmod(cells, 56 * 72)
    row, col = np.divmod(cell, 72)
    return Hits(ev, row, col, rng.exponential(5.0, n_hits), np.zeros(n_hits))


def test_pairs_by_event_matches_loops():
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 6, 20))
    b = np.sort(rng.integers(0, 6, 15))
    ia, ib = pairs_by_event(a, b, 6)
    ref = [(i, j) for i in range(len(a)) for j in range(len(b)) if a[i] == b[j]]
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == ref


def test_cell_lookup():
    rng = np.random.default_rng(1)
    hits = _random_hcal(rng, 3, 200)
    table = {
        (e, r, c): x for e, r, c, x in zip(hits.event, hits.row, hits.col, hits.energy, strict=True)
    }
    ev = rng.integers(0, 3, 500)
    row = rng.integers(-2, 58, 500)
    col = rng.integers(0, 72, 500)
    got = cell_lookup(hits, geo.HCAL_SHAPE, ev, row, col)
    ref = [table.get((e, r, c), 0.0) for e, r, c in zip(ev, row, col, strict=True)]
    np.testing.assert_allclose(got, ref)


def test_jet_seeds_match_slow_reference():
    rng = np.random.default_rng(2)
    n_ev = 4
    hits = _random_hcal(rng, n_ev, 300)
    n_jets = 60
    ev = np.sort(rng.integers(0, n_ev, n_jets))
    eta = rng.uniform(-2.4, 2.4, n_jets)
    eta[:3] = [-2.43, 2.43, 0.0]  # windows cut by the grid edge
    phi = rng.uniform(-np.pi, np.pi, n_jets)
    phi[3] = np.pi - 1e-3  # window across the phi seam
    jets = ClusteredJets(ev, np.full(n_jets, 50.0), eta, phi, np.zeros(n_jets))
    si, sj = jet_seeds(jets, hits)
    table = {
        (e, r, c): x for e, r, c, x in zip(hits.event, hits.row, hits.col, hits.energy, strict=True)
    }
    for k in range(n_jets):
        i0 = min(max(int((eta[k] + geo.ETA_MAX) // geo.HCAL_DETA), 0), 55)
        j0 = int((phi[k] + np.pi) // geo.HCAL_DPHI) % 72
        best, where = 0.0, (i0, j0)
        for di in range(-3, 4):
            for dj in range(-3, 4):
                i, j = i0 + di, (j0 + dj) % 72
                e = table.get((ev[k], i, j), 0.0)
                if 0 <= i < 56 and e > best:
                    best, where = e, (i, j)
        assert (si[k], sj[k]) == where
    assert np.all((si >= 0) & (si < 56) & (sj >= 0) & (sj < 72))


def test_in_frame_edges():
    ieta = np.arange(56)
    centre = 5 * ieta + 2
    np.testing.assert_array_equal(in_frame(ieta), (centre >= 62) & (centre <= 217))
    assert not in_frame(np.array([11]))[0]
    assert in_frame(np.array([12]))[0]
    assert in_frame(np.array([43]))[0]
    assert not in_frame(np.array([44]))[0]


def test_best_match_is_closest_within_cone():
    rng = np.random.default_rng(3)
    a_ev = np.sort(rng.integers(0, 5, 40))
    b_ev = np.sort(rng.integers(0, 5, 30))
    a_eta, b_eta = rng.uniform(-1, 1, 40), rng.uniform(-1, 1, 30)
    a_phi, b_phi = rng.uniform(-np.pi, np.pi, 40), rng.uniform(-np.pi, np.pi, 30)
    got = best_match(a_ev, a_eta, a_phi, b_ev, b_eta, b_phi, 5, 0.5)
    for i in range(40):
        dr = [
            (delta_r(a_eta[i], a_phi[i], b_eta[j], b_phi[j]), j)
            for j in range(30)
            if b_ev[j] == a_ev[i]
        ]
        dr = [x for x in dr if x[0] < 0.5]
        assert got[i] == (min(dr)[1] if dr else -1)


def test_label_priority_and_leading_parton():
    L = LABEL_IDS
    jets = ClusteredJets(
        np.array([0, 0, 1, 2]),
        np.full(4, 40.0),
        np.array([0.0, 1.0, 0.0, 0.0]),
        np.zeros(4),
        np.zeros(4),
    )
    truth = TruthObjects(
        event=np.array([0, 0, 0, 0, 1, 1]),
        pt=np.array([30.0, 50.0, 20.0, 80.0, 60.0, 90.0]),
        eta=np.array([0.1, 0.05, 1.1, 0.95, 0.2, 0.1]),
        phi=np.zeros(6),
        label=np.array([L["quark"], L["tau"], L["gluon"], L["quark"], L["gluon"], L["quark"]]),
    )
    labels = jet_labels(jets, truth, 3)
    # jet 0: tau beats a nearer quark; jet 1: harder parton (quark 80) wins;
    # jet 2: leading parton (quark 90 over gluon 60); jet 3: nothing in its event
    assert labels.tolist() == [L["tau"], L["quark"], L["quark"], L["unmatched"]]


def test_cluster_sorted_and_above_threshold():
    rng = np.random.default_rng(4)
    n = 300
    ev = np.sort(rng.integers(0, 5, n))
    pt = rng.exponential(8.0, n)
    eta, phi = rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    jets = cluster(
        ev, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta), 5, 15.0
    )
    assert np.all(jets.pt >= 15.0)
    for e in range(5):
        p = jets.pt[jets.event == e]
        assert np.all(np.diff(p) <= 0)
    assert len(jets) > 0
    empty = cluster(np.zeros(0, dtype=np.int64), *(np.zeros(0),) * 4, 3, 10.0)
    assert len(empty) == 0


@pytest.mark.parametrize("chunk_name", ["qcd_chunk", "tau_chunk"])
def test_jet_fields_in_range(chunk_name, request):
    j = request.getfixturevalue(chunk_name)["Jet"]
    flat = {f: ak.to_numpy(ak.flatten(j[f])) for f in j.fields}
    assert np.all((flat["seedIeta"] >= 0) & (flat["seedIeta"] < 56))
    assert np.all((flat["seedIphi"] >= 0) & (flat["seedIphi"] < 72))
    np.testing.assert_array_equal(flat["inFrame"], in_frame(flat["seedIeta"].astype(int)))
    assert np.all(np.abs(flat["eta"]) < 2.4)
    assert np.all(flat["pt"] > 20)
    assert np.all(np.abs(flat["phi"]) <= np.pi)
    np.testing.assert_array_equal(flat["isTau"], flat["label"] == LABEL_IDS["tau"])
    np.testing.assert_array_equal(flat["isEle"], flat["label"] == LABEL_IDS["electron"])
    assert np.all((flat["genPt"] == -1) | (flat["genPt"] > 0))
    np.testing.assert_array_equal(flat["genMass"] == -1, flat["genPt"] == -1)
    assert np.all(flat["genMass"][flat["genPt"] > 0] >= 0)
    # a GenVisTau within dR < 0.4 makes the label tau (first in priority) and fills genVisTauPt
    np.testing.assert_array_equal(flat["genVisTauPt"] > 0, flat["label"] == LABEL_IDS["tau"])
    assert np.all((flat["genVisTauPt"] == -1) | (flat["genVisTauPt"] > 10))
    assert ak.all(j.pt[:, :-1] >= j.pt[:, 1:])


def test_generator_truth_of_jets_is_the_matched_genjet_and_visible_tau(tau_chunk):
    """genPt/genMass come from the closest GenJet within dR < 0.2, genVisTauPt from the
    closest GenVisTau within dR < 0.4: checked jet by jet with loops."""
    from e2e_coffea.sim.detector import GENJET_MATCH_DR

    jets, gen, vis = tau_chunk["Jet"], tau_chunk["GenJet"], tau_chunk["GenVisTau"]
    checked = 0
    for ev in range(len(jets)):
        for k in range(len(jets.pt[ev])):
            eta, phi = float(jets.eta[ev][k]), float(jets.phi[ev][k])
            for coll, radius, fields in ((gen, GENJET_MATCH_DR, (("genPt", "pt"), ("genMass", "mass"))),
                                         (vis, 0.4, (("genVisTauPt", "pt"),))):  # fmt: skip
                dr = [float(delta_r(np.float64(eta), np.float64(phi), np.float64(e), np.float64(p)))
                      for e, p in zip(coll.eta[ev], coll.phi[ev], strict=True)]  # fmt: skip
                best = int(np.argmin(dr)) if dr and min(dr) < radius else -1
                for ours, theirs in fields:
                    want = float(coll[theirs][ev][best]) if best >= 0 else -1.0
                    assert float(jets[ours][ev][k]) == pytest.approx(want, rel=1e-6, abs=1e-4)
            checked += 1
    assert checked > 20
    tau = ak.to_numpy(ak.flatten(jets.label)) == LABEL_IDS["tau"]
    assert tau.sum() > 5
    ratio = ak.to_numpy(ak.flatten(jets.pt))[tau] / ak.to_numpy(ak.flatten(jets.genVisTauPt))[tau]
    assert 0.6 < np.median(ratio) < 1.3  # calo tau jets: visible pT plus some UE, less response
