"""A tagger of kind ``fatjet`` scores the R = 0.8 FatJets, through :class:`Tagger` and
through ``e2e-coffea run`` (histograms of its FatJets, an AUC of top against QCD)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.cli import main
from e2e_coffea.export import load_contract
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.inference.variants import task_frames
from e2e_coffea.processor.booking import label_names
from e2e_coffea.processor.serialize import load_output


def test_the_contract_records_the_fatjet_kind(fatjet_tagger: Path) -> None:
    assert load_contract(fatjet_tagger).kind == "fatjet"
    assert Tagger(fatjet_tagger, device="cpu").kind == "fatjet"


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_tagger_scores_every_fatjet(top_sample: Any, fatjet_tagger: Path, layout: str) -> None:
    path = top_sample.files[("top", layout)]
    with uproot.open(path) as f:
        events = f["Events" if layout == "sparse" else "fevt/RHTree"].arrays()
    scores = Tagger(fatjet_tagger, device="cpu")(events)
    seeds = events["FatJet_seedIeta" if layout == "sparse" else "fatjetSeed_ieta"]
    assert ak.num(scores, axis=1).to_list() == ak.num(seeds, axis=1).to_list()
    flat = ak.to_numpy(ak.flatten(ak.fill_none(scores, np.nan)))
    pt = ak.to_numpy(ak.flatten(events["FatJet_pt" if layout == "sparse" else "fatjet_Pt"]))
    scored = np.isfinite(flat)
    assert scored.any()
    assert np.all((flat[scored] >= 0) & (flat[scored] <= 1))
    assert np.all(pt[scored] > 20)  # the selection ran on the FatJets' own pT


def test_run_books_the_fatjets(
    top_sample: Any, fatjet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["run", "--fileset", str(top_sample.fileset["sparse"]), "--tagger", str(fatjet_tagger),
            "--executor", "iterative", "--device", "cpu", "--out", str(out)]  # fmt: skip
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    h = load_output(out)["hists"]["objects"][{"tagger": "fatjet_simplenet"}]
    assert "top" in set(h.axes["label"])
    # one entry per selected FatJet (not per R = 0.4 jet)
    want = 0
    for proc in ("qcd", "top"):
        with uproot.open(top_sample.files[(proc, "sparse")]) as f:
            ev = f["Events"].arrays(["FatJet_pt", "FatJet_eta", "FatJet_inFrame"])
        keep = (ev.FatJet_pt > 20) & (abs(ev.FatJet_eta) < 2.4) & (ev.FatJet_inFrame != 0)
        want += int(ak.sum(keep))
    assert h.sum() == want > 0
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["taggers"]["fatjet_simplenet"]
    assert entry["signal"] == ["top"]
    assert entry["background"] == ["qcd"]


def test_the_event_display_shows_fatjet_frames(top_sample: Any, fatjet_tagger: Path) -> None:
    from e2e_coffea.dashboards.jets import load_jets

    loaded = load_jets(top_sample.fileset["sparse"], fatjet_tagger, max_events=12)
    t = loaded.table
    assert len(t) > 0
    chunk, _ = loaded.chunks["top"]
    top = t.dataset == "top"
    pt = ak.to_numpy(ak.flatten(chunk["FatJet_pt"]))
    offsets = np.r_[0, np.cumsum(ak.to_numpy(ak.num(chunk["FatJet_pt"])))]
    # the rows are FatJets: their pT is the FatJet's at (event, index)
    np.testing.assert_allclose(t.pt[top], pt[offsets[t.event[top]] + t.index[top]], rtol=1e-6)
    assert np.all(t.pt[top] > 150)  # R = 0.4 jets go far lower; FatJets start at 150 GeV


def test_a_b_tagger_is_measured_on_hadron_flavour_labels(
    top_sample: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from e2e_coffea.export import Contract, export_onnx
    from e2e_coffea.frames import load_norm, resolve_channels
    from e2e_coffea.models import create_model

    chs = tuple(s.name for s in resolve_channels("btag"))
    c = Contract(task="classification", model_name="simplenet", channels=chs,
                 frame_size=(125, 125), class_names=("light", "b"), channel_preset="btag",
                 normalisation=load_norm("btag").to_dict(), truth_labels="hadron_flavour",
                 provenance={"tagger_task": "btag"})  # fmt: skip
    torch.manual_seed(0)
    path = export_onnx(create_model("simplenet", len(chs), 1).eval(), tmp_path / "bt.onnx",
                       c, (2, len(chs), 125, 125)).path  # fmt: skip
    tg = Tagger(path, device="cpu")
    with uproot.open(top_sample.files[("top", "sparse")]) as f:
        events = f["Events"].arrays()
    sel = tg.select(events, "sparse")
    flav = ak.to_numpy(ak.flatten(events["Jet_hadronFlavour"]))
    names = {5: "b", 4: "c", 0: "light"}
    want = [names[int(v)] for v in flav[np.flatnonzero(sel.passed)]]
    got = label_names(sel.records.label[sel.passed]).tolist()
    assert got == want
    assert "b" in got
    out = tmp_path / "out"
    argv = ["run", "--fileset", str(top_sample.fileset["sparse"]), "--tagger", str(path),
            "--executor", "iterative", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    h = load_output(out)["hists"]["objects"]
    assert {"b", "light"} <= set(h.axes["label"])
    assert not set(h.axes["label"]) & {"quark", "gluon", "top"}
    # precision variants are measured on the same labels: ttbar feeds b and light jets
    frames = task_frames(resolve_tagger(path), top_sample.fileset["sparse"], per_class=8)
    assert np.bincount(frames.labels, minlength=2).tolist() == [8, 8]


def test_nanoaod_events_get_one_score_per_fatjet(
    top_sample: Any, fatjet_tagger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    monkeypatch.setattr(NanoAODSchema, "warn_missing_crossrefs", False)  # no Muon/Electron refs
    path = str(top_sample.files[("top", "sparse")])
    events = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    scores = Tagger(fatjet_tagger, device="cpu")(events)
    assert ak.num(scores, axis=1).to_list() == ak.num(events.FatJet, axis=1).to_list()
    tagged = events.FatJet[ak.fill_none(scores > 0.5, False)]  # the analysis idiom
    assert ak.all(tagged.pt > 20)
