"""Jet flavour (CMS's hadron and parton definitions) and the generator information that
every event carries, as NanoAOD names it."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.sim import simulate_events
from e2e_coffea.sim.flavour import heavy_quark_content, jet_flavours
from e2e_coffea.sim.processes import PROCESSES
from e2e_coffea.sim.record import GenRecord


@pytest.mark.parametrize(
    ("pdg", "flavour"),
    [
        (511, 5),  # B0
        (-521, 5),  # B-
        (513, 5),  # B*0
        (10511, 5),  # excited B
        (5122, 5),  # Lambda_b
        (553, 5),  # Upsilon
        (421, 4),  # D0
        (-431, 4),  # D_s
        (4122, 4),  # Lambda_c
        (443, 4),  # J/psi
        (211, 0),
        (321, 0),
        (3122, 0),  # Lambda
        (22, 0),
        (5, 0),  # the b quark itself is no hadron
        (11, 0),
        (21, 0),
    ],
)
def test_heavy_quark_content_follows_the_pdg_numbering(pdg, flavour):
    assert heavy_quark_content(np.array([pdg]))[0] == flavour


def _record(rows: list[tuple[int, int, int, float, float]]) -> GenRecord:
    """One event; rows are (pdg id, status, mother1, eta, phi) with pT 20 GeV each."""
    n = len(rows)
    ids, status, mother, eta, phi = (np.array(c) for c in zip(*rows, strict=True))
    pt = np.full(n, 20.0)
    z = np.zeros(n)
    return GenRecord(
        offsets=np.array([0, n], dtype=np.int64),
        event=np.zeros(n, dtype=np.int64),
        id=ids.astype(np.int32),
        status=status.astype(np.int32),
        mother1=mother.astype(np.int32),
        mother2=np.zeros(n, dtype=np.int32),
        daughter1=np.zeros(n, dtype=np.int32),
        daughter2=np.zeros(n, dtype=np.int32),
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        e=pt * np.cosh(eta),
        m=z,
        x=z,
        y=z,
        z=z,
        t=z,
        charge=z,
        pthat=np.array([50.0]),
        weight=np.array([1.0]),
    )


def test_flavours_of_hand_made_jets():
    """Jet 0 holds a B* -> B -> D chain (b wins), jet 1 a lone D (c), jet 2 only pions
    and a gluon (light), jet 3 nothing at all."""
    rec = _record(
        [
            (90, -11, 0, 0.0, 0.0),  # 0: system
            (5, -71, 0, 0.05, 0.0),  # 1: b quark at the end of the shower, in jet 0
            (513, -83, 1, 0.0, 0.0),  # 2: B*0 from the string
            (511, -91, 2, 0.02, 0.01),  # 3: B0 from the B* (the weakly decaying one)
            (-421, -91, 3, 0.03, 0.02),  # 4: D0 from the B0
            (4, -71, 0, 0.0, 1.5),  # 5: c quark, jet 1
            (421, 91, 5, 0.01, 1.5),  # 6: D0, jet 1
            (21, -71, 0, 0.0, -1.5),  # 7: gluon, jet 2
            (211, 91, 7, 0.01, -1.5),  # 8: pion, jet 2
            (211, 91, 7, 0.0, 3.0),  # 9: pion far from every jet
        ]
    )
    jets = jet_flavours(
        rec,
        np.zeros(4, dtype=np.int64),
        np.array([0.0, 0.0, 0.0, 2.0]),
        np.array([0.0, 1.5, -1.5, -3.0]),
    )
    assert jets["hadronFlavour"].tolist() == [5, 4, 0, 0]
    assert jets["partonFlavour"].tolist() == [5, 4, 21, 0]


def test_a_b_hadron_just_outside_the_jet_radius_does_not_count():
    rec = _record([(90, -11, 0, 0.0, 0.0), (511, 91, 0, 0.45, 0.0)])
    jets = jet_flavours(rec, np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1))
    assert jets["hadronFlavour"].tolist() == [0]


@pytest.fixture(scope="module")
def top_chunk() -> dict[str, ak.Array]:
    return simulate_events("top", 6, seed=5)


def test_top_events_have_b_jets_near_their_b_quarks(top_chunk):
    """Every top decays to b: jets near a hard b quark are b jets, and light jets far from
    any heavy quark are mostly light (a c from W -> cs makes some c jets)."""
    jet = top_chunk["Jet"]
    gen = top_chunk["GenPart"]
    b = gen[abs(gen.pdgId) == 5]
    pairs = ak.cartesian([jet, b], nested=True)
    dr = np.hypot(
        pairs["0"].eta - pairs["1"].eta,
        (pairs["0"].phi - pairs["1"].phi + np.pi) % (2 * np.pi) - np.pi,
    )
    near_b = ak.flatten(ak.any(dr < 0.2, axis=-1) & (jet.pt > 30))
    flav = ak.to_numpy(ak.flatten(jet.hadronFlavour))
    near = ak.to_numpy(near_b)
    assert near.sum() >= 4
    assert np.mean(flav[near] == 5) >= 0.75
    assert set(np.unique(flav)) <= {0, 4, 5}
    assert np.mean(flav == 5) < 0.9  # not everything: the W's jets are light or c
    pflav = ak.to_numpy(ak.flatten(jet.partonFlavour))
    assert set(np.unique(pflav)) <= {0, 1, 2, 3, 4, 5, 21}


def test_events_carry_generator_information():
    bins = PROCESSES["qcd"].pthat_bins
    chunk = simulate_events("qcd", 8, seed=3, pileup=5.0)
    ev = chunk["event"]
    binvar = ak.to_numpy(ev.Generator_binvar)
    # event i of the sample is in bin i % n_bins (sim.processes), pT-hat inside its edges
    for i, value in enumerate(binvar):
        lo, hi = bins[i % len(bins)]
        assert lo <= value <= hi
    assert np.all(ak.to_numpy(ev.genWeight) == 1.0)
    assert np.all(ak.to_numpy(ev.Pileup_nTrueInt) == 5.0)
    assert np.all(ak.to_numpy(ev.nVtx) == 1 + ak.to_numpy(ev.Pileup_nPU))
