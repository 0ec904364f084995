"""Generator truth: taus, prompt leptons, pT-hat bins."""

from __future__ import annotations

import awkward as ak
import numpy as np

from e2e_coffea.sim import PROCESSES, pthat_bin_of_event


def test_tau_prong_fractions(tau_chunk):
    """PDG: ~72% of hadronic tau decays are 1-prong, ~22% 3-prong (with K, pi0 modes)."""
    prongs = ak.to_numpy(ak.flatten(tau_chunk["GenVisTau"].nProngs))
    assert len(prongs) > 80
    assert set(np.unique(prongs).tolist()) <= {1, 3, 5}
    assert 0.60 < np.mean(prongs == 1) < 0.88
    assert 0.10 < np.mean(prongs == 3) < 0.36
    npi0 = ak.to_numpy(ak.flatten(tau_chunk["GenVisTau"].nPi0))
    assert 0.15 < np.mean(npi0 == 0) < 0.5  # pi nu, 3pi nu, K nu: ~1/3 of hadronic


def test_tau_genpart_content(tau_chunk):
    gp = tau_chunk["GenPart"]
    pdg = gp.pdgId
    # exactly two taus come from the primary vertex; b/c decays may add displaced ones
    at_pv = (gp.vz == tau_chunk["event"].PV_z) & (gp.vx == tau_chunk["event"].PV_x)
    assert ak.all(ak.sum((abs(pdg) == 15) & at_pv, axis=1) == 2)
    assert ak.all(ak.sum(abs(pdg) == 15, axis=1) >= 2)
    assert ak.all(ak.sum(pdg == 23, axis=1) == 1)  # the Z/gamma* (id 23 in Pythia)
    vis = tau_chunk["GenVisTau"]
    assert ak.all(vis.pt > 10)
    # visible tau pT is below its tau's pT: compare sums per event
    tau_pt = ak.sum(tau_chunk["GenPart"].pt[abs(pdg) == 15], axis=1)
    assert ak.all(ak.sum(vis.pt, axis=1) <= tau_pt + 1e-3)


def test_prompt_electrons_from_z(electron_chunk):
    pdg = electron_chunk["GenPart"].pdgId
    n_e = ak.to_numpy(ak.sum(abs(pdg) == 11, axis=1))
    assert np.mean(n_e == 2) > 0.95
    assert ak.all(ak.sum(pdg == 11, axis=1) == ak.sum(pdg == -11, axis=1))


def test_qcd_events_follow_their_pthat_bin(qcd_chunk):
    gp = qcd_chunk["GenPart"]
    parton = (abs(gp.pdgId) <= 5) | (gp.pdgId == 21)
    bins = PROCESSES["qcd"].pthat_bins
    which = pthat_bin_of_event("qcd", np.arange(len(gp)))
    lo = np.array([bins[b][0] for b in which])
    hi = np.array([bins[b][1] for b in which])
    # the two outgoing partons of a 2 -> 2 process both carry pT = pT-hat
    lead = ak.to_numpy(ak.max(gp.pt[parton], axis=1))
    assert np.all((lead >= lo - 1e-3) & (lead <= hi + 1e-3))
    assert set(np.unique(which).tolist()) == set(range(len(bins)))
