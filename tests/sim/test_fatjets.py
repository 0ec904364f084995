"""Large-radius jets: anti-kt R = 0.8 and soft drop against slow pure-Python references,
the fully merged top label, and the FatJet collection of a generated ttbar sample."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.sim import simulate_events
from e2e_coffea.sim.fatjets import FATJET_R, FatJetTruth, cluster_fatjets, fatjet_labels
from e2e_coffea.sim.jets import SOFTDROP_Z_CUT, ClusteredJets
from e2e_coffea.sim.truth import TopDecays, TruthObjects


def _kin(p):
    px, py, pz, _ = p
    pt = math.hypot(px, py)
    return pt, math.asinh(pz / pt), math.atan2(py, px)


def _dr2(a, b):
    _, ea, fa = _kin(a)
    _, eb, fb = _kin(b)
    dphi = (fa - fb + math.pi) % (2 * math.pi) - math.pi
    return (ea - eb) ** 2 + dphi**2


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _mass(p):
    return math.sqrt(max(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2, 0.0))


def _naive_antikt(parts, radius):
    """Textbook anti-kt (Cacciari, Salam, Soyez, JHEP 04 (2008) 063), O(n^3): the jets as
    (momentum, constituent momenta)."""
    objs = [(p, [p]) for p in parts]
    jets = []
    while objs:
        best, pair = math.inf, None
        for i, (a, _) in enumerate(objs):
            dib = _kin(a)[0] ** -2
            if dib < best:
                best, pair = dib, (i, None)
            for j in range(i + 1, len(objs)):
                b = objs[j][0]
                dij = min(_kin(a)[0] ** -2, _kin(b)[0] ** -2) * _dr2(a, b) / radius**2
                if dij < best:
                    best, pair = dij, (i, j)
        i, j = pair
        if j is None:
            jets.append(objs.pop(i))
        else:
            b = objs.pop(j)
            a = objs.pop(i)
            objs.append((_add(a[0], b[0]), a[1] + b[1]))
    return jets


def _naive_softdrop_mass(constituents, z_cut):
    """C/A reclustering into a binary tree, then decluster: drop the softer branch until
    min(pT1, pT2) / (pT1 + pT2) > z_cut (beta = 0)."""
    nodes = [(p, None) for p in constituents]
    while len(nodes) > 1:
        best, pair = math.inf, None
        for i in range(len(nodes)):
            for j in range(i + 1, len(nodes)):
                d = _dr2(nodes[i][0], nodes[j][0])
                if d < best:
                    best, pair = d, (i, j)
        i, j = pair
        b, a = nodes.pop(j), nodes.pop(i)
        nodes.append((_add(a[0], b[0]), (a, b)))
    node = nodes[0]
    while node[1] is not None:
        a, b = node[1]
        pa, pb = _kin(a[0])[0], _kin(b[0])[0]
        if min(pa, pb) / (pa + pb) > z_cut:
            break
        node = a if pa > pb else b
    return _mass(node[0])


def test_fatjets_and_soft_drop_equal_the_textbook_algorithms():
    rng = np.random.default_rng(3)
    events = []
    for _ in range(3):
        n = 25
        pt = rng.exponential(15.0, n) + 1.0
        eta = np.concatenate([rng.normal(0.0, 0.4, n - 5), rng.uniform(-2, 2, 5)])
        phi = np.concatenate([rng.normal(1.0, 0.4, n - 5), rng.uniform(-3, 3, 5)])
        events.append(
            np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], 1)
        )
    ev = np.repeat(np.arange(3), [len(e) for e in events])
    flat = np.concatenate(events)
    min_pt = 20.0
    got = cluster_fatjets(ev, *flat.T, n_events=3, min_pt=min_pt)
    want = []
    for k, parts in enumerate(events):
        jets = [
            j for j in _naive_antikt([tuple(p) for p in parts], FATJET_R) if _kin(j[0])[0] > min_pt
        ]
        jets.sort(key=lambda j: -_kin(j[0])[0])
        want += [
            (k, *_kin(j[0]), _mass(j[0]), _naive_softdrop_mass(j[1], SOFTDROP_Z_CUT)) for j in jets
        ]
    assert len(got) == len(want) >= 3
    want_a = np.array(want)
    np.testing.assert_array_equal(got.event, want_a[:, 0])
    np.testing.assert_allclose(got.pt, want_a[:, 1], rtol=1e-9)
    np.testing.assert_allclose(got.eta, want_a[:, 2], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.mass, want_a[:, 4], rtol=1e-7, atol=1e-6)
    assert got.msoftdrop is not None
    np.testing.assert_allclose(got.msoftdrop, want_a[:, 5], rtol=1e-6, atol=1e-5)
    assert np.all(got.msoftdrop <= got.mass + 1e-6)  # grooming only removes


def _truth(quark_eta, quark_phi) -> FatJetTruth:
    q_eta = np.array([quark_eta], dtype=float)
    q_phi = np.array([quark_phi], dtype=float)
    tops = TopDecays(np.array([0]), np.array([0.0]), np.array([0.0]), q_eta, q_phi)
    partons = TruthObjects(
        np.array([0, 0]),
        np.array([300.0, 50.0]),
        np.array([0.0, 2.0]),
        np.array([0.1, 2.0]),
        np.array([LABEL_IDS["quark"], LABEL_IDS["gluon"]]),
    )
    empty = np.zeros(0)
    return FatJetTruth(
        tops, partons, ClusteredJets(np.zeros(0, dtype=np.int64), empty, empty, empty, empty)
    )


def _jets(eta, phi) -> ClusteredJets:
    n = len(eta)
    return ClusteredJets(
        np.zeros(n, dtype=np.int64),
        np.full(n, 400.0),
        np.array(eta),
        np.array(phi),
        np.full(n, 170.0),
    )


@pytest.mark.parametrize(
    ("quark_eta", "quark_phi", "label"),
    [
        ((0.3, -0.3, 0.0), (0.0, 0.2, -0.5), "top"),  # b, q, q' all inside 0.8
        ((0.3, -0.3, 0.0), (0.0, 0.2, -0.85), "other"),  # q' just outside: not merged
        ((0.3, np.nan, 0.0), (0.0, np.nan, 0.1), "other"),  # a quark not found
    ],
)
def test_a_top_is_fully_merged_only_with_all_three_quarks_inside(quark_eta, quark_phi, label):
    jets = _jets([0.0, 2.0, -2.0], [0.0, 2.0, -2.0])
    labels = fatjet_labels(jets, _truth(quark_eta, quark_phi), 1)
    assert labels.tolist() == [LABEL_IDS[label], LABEL_IDS["gluon"], LABEL_IDS["unmatched"]]


@pytest.fixture(scope="module")
def top_chunk() -> dict[str, ak.Array]:
    return simulate_events("top", 16, seed=8)


def test_fully_merged_top_fatjets_carry_the_top_mass(top_chunk):
    """The generated boosted ttbar sample: FatJets labelled top have generator masses in
    the top window (issue floor: >= 70 % in 120-220 GeV), soft drop below the plain mass."""
    fat = ak.flatten(top_chunk["FatJet"])
    top = fat[fat.label == LABEL_IDS["top"]]
    assert len(top) >= 6
    gen_mass = ak.to_numpy(top.genMass)
    assert np.mean((gen_mass > 120) & (gen_mass < 220)) >= 0.7
    assert np.all(ak.to_numpy(fat.msoftdrop) <= ak.to_numpy(fat.mass) + 1e-3)
    assert np.all(ak.to_numpy(fat.pt) >= 150)
    assert len(ak.flatten(top_chunk["GenJetAK8"])) >= len(top)
    # the seed is the tower of the axis: the window is centred on the jet
    from e2e_coffea import geometry as geo

    row_eta = -geo.ETA_MAX + (ak.to_numpy(fat.seedIeta) + 0.5) * geo.HCAL_DETA
    assert np.all(np.abs(row_eta - ak.to_numpy(fat.eta)) <= geo.HCAL_DETA / 2 + 1e-5)
