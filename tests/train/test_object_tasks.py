"""The tasks of issue 23: top on FatJets, a jet-mass regression trained flat in m_gen, and
b tagging by hadron flavour (b and light jets from ttbar and QCD alike)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames.objects import flavour_records, object_records
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.sim.processes import PROCESSES
from e2e_coffea.train.data.weights import fit_reweighting
from e2e_coffea.train.tasks.definitions import class_mask, get_task


def test_top_is_fully_merged_fatjets_above_400_against_boosted_qcd() -> None:
    t = get_task("top")
    assert t.kind == "fatjet"
    assert t.range.pt_min == 400.0
    assert [(s.process, s.label) for s in t.samples] == [("qcd_boosted", None), ("top", "top")]
    lo = min(b[0] for b in PROCESSES["qcd_boosted"].pthat_bins)
    assert lo >= 300.0  # the pT-hat >= 300 GeV bins only
    assert PROCESSES["qcd"].pthat_bins[-1] == (300, 600)  # existing samples keep their bins


def test_jet_mass_regresses_the_genjet_ak8_mass_of_fatjets() -> None:
    t = get_task("jet_mass")
    assert t.kind == "fatjet"
    assert t.target is not None
    assert t.target.truth == "gen_mass"
    sd = get_task("jet_msoftdrop")
    assert sd.target is not None
    assert sd.target.truth == "gen_msoftdrop"


def test_btag_takes_b_and_light_jets_from_both_processes() -> None:
    t = get_task("btag")
    assert t.classes == ("light", "b")
    assert t.labels == "hadron_flavour"
    assert t.classes_of_process("top") == (0, 1) == t.classes_of_process("qcd")
    assert t.classes_of_process("tau") == ()
    labels = np.array([LABEL_IDS[n] for n in ("b", "c", "light", "unmatched")])
    assert class_mask(t, labels, 1).tolist() == [True, False, False, False]
    assert class_mask(t, labels, 0).tolist() == [False, False, True, False]  # c is neither


def test_flavour_records_label_jets_by_hadron_flavour() -> None:
    chunk = ak.Array({
        "Jet_seedIeta": [[20, 21, 22], [23]], "Jet_seedIphi": [[5, 6, 7], [8]],
        "Jet_label": [[0, 0, 1], [0]], "Jet_hadronFlavour": [[5, 4, 0], [5]],
    })  # fmt: skip
    rec = flavour_records(chunk, "sparse", "jet", object_records(chunk, "sparse", "jet"))
    assert rec.label.tolist() == [LABEL_IDS[n] for n in ("b", "c", "light", "b")]
    bare = ak.Array({"Jet_seedIeta": [[20]], "Jet_seedIphi": [[5]]})
    rec = flavour_records(bare, "sparse", "jet", object_records(bare, "sparse", "jet"))
    assert rec.label.tolist() == [LABEL_IDS["unlabelled"]]
    assert "label" in rec.missing


def test_flat_target_weights_make_the_true_mass_flat() -> None:
    rng = np.random.default_rng(1)
    # a peaked prior, as QCD + top jets give: falling QCD plus a top peak at 172 GeV
    qcd = rng.exponential(45.0, 40_000) + 5.0
    top = rng.normal(172.0, 15.0, 10_000)
    w = fit_reweighting("flat-target", {0: qcd[:10], 1: top[:10]}, value={0: qcd, 1: top})
    m = np.concatenate([qcd, top])
    y = np.r_[np.zeros(len(qcd)), np.ones(len(top))]
    weights = w.weights(y, np.full(len(m), 500.0), value=m)
    edges = np.linspace(20.0, 220.0, 11)
    raw, _ = np.histogram(m, edges)
    flat, _ = np.histogram(m, edges, weights=weights)
    sumw2, _ = np.histogram(m, edges, weights=weights**2)
    assert raw.max() / raw.min() > 5  # the prior was far from flat
    pull = (flat - flat.mean()) / np.sqrt(sumw2)
    assert np.all(np.abs(pull) < 4), pull  # flat within statistics
    assert np.isclose(weights.sum(), len(m), rtol=0.05)


def test_flat_target_needs_true_values() -> None:
    with pytest.raises(BadInputError, match="regression"):
        fit_reweighting("flat-target", {0: np.ones(10), 1: np.ones(10)})
