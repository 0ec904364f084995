"""A ROOT-written file holding only MLAnalyzer's branches through ``frames``, ``run`` and
``Tagger``, pixel for pixel against a slow explicit crop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import onnxruntime as ort
import pytest
import uproot
from coffea.nanoevents import BaseSchema, NanoEventsFactory
from scipy.special import expit

from e2e_coffea.cli import main
from e2e_coffea.exceptions import FileLayoutError, MissingBranchError
from e2e_coffea.frames.normalisation import Normalisation
from e2e_coffea.inference import Tagger, resolve_tagger
from e2e_coffea.inference.conditions import ConditionsWarning
from e2e_coffea.processor.serialize import load_output

from .mlanalyzer_sample import TAU13, MLAnalyzerSample, reference_frame

pytestmark = [pytest.mark.root, pytest.mark.mlanalyzer]
TAGGER = "tau_simplenet"


def _passes(j: Any) -> bool:
    """The tagger's default cuts, its training range (20 < pt < 100, |eta| < 2.4), and the
    window inside rows 0..279."""
    v = resolve_tagger(TAGGER).contract.validity
    r0 = 5 * j.ieta + 2 - 62
    inside = v["pt_min"] < j.pt < v["pt_max"] and abs(j.eta) < v["abs_eta_max"]
    return inside and r0 >= 0 and r0 + 125 <= 280


def _expected_scores(sample: MLAnalyzerSample, ds: str) -> list[list[float | None]]:
    """Per event, per jet: the model on the normalised reference frame, or None."""
    spec = resolve_tagger(TAGGER)
    norm = Normalisation.from_dict(spec.contract.normalisation)
    thr, scale, clip = norm.vectors(TAU13)
    sess = ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
    n_events = len(sample.images[ds][next(iter(sample.images[ds]))])
    out: list[list[float | None]] = [[] for _ in range(n_events)]
    for j in sample.jets[ds]:
        if not _passes(j):
            out[j.event].append(None)
            continue
        f = reference_frame(sample.images[ds], j.event, j.ieta, j.iphi)
        for c in range(len(TAU13)):
            x = f[c]
            x[np.abs(x) < thr[c]] = 0
            f[c] = np.minimum(x / scale[c], clip[c])
        logit = sess.run(None, {"frames": f[None]})[0]
        out[j.event].append(float(expit(logit[0, 0])))
    return out


def test_only_mlanalyzer_branches_are_in_the_file(mlanalyzer: MLAnalyzerSample) -> None:
    t = uproot.open(mlanalyzer.files["dy"])["fevt/RHTree"]
    assert t["jetSeed_ieta"].typename == "std::vector<float>"
    assert t["ECAL_energy"].typename == "std::vector<float>"
    assert t["eventId"].typename == "uint64_t"
    for ours in ("jet_label", "jet_inFrame", "jet_Phi", "SC_ieta", "MET_pt", "nVtx"):
        assert ours not in t.keys()


def test_frames_command_pixel_for_pixel(
    mlanalyzer: MLAnalyzerSample, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "dy.npz"
    args = ["frames", str(mlanalyzer.files["dy"]), "--layout", "e2e", "--preset", "tau13",
            "--branches", "mlanalyzer_tau", "--out", str(out)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    got = np.load(out)
    jets = mlanalyzer.jets["dy"]
    assert len(got["frames"]) == len(jets)  # every jet, none dropped (off-grid windows flagged)
    for k, j in enumerate(jets):
        np.testing.assert_array_equal(
            got["frames"][k], reference_frame(mlanalyzer.images["dy"], j.event, j.ieta, j.iphi)
        )
        assert got["label"][k] == (2 if j.is_tau else 6)  # tau, or "other" from jet_IsTau = 0
        assert bool(got["in_frame"][k]) == (0 <= 5 * j.ieta - 60 <= 155)
    assert np.isnan(got["eta"]).sum() == 0  # jet_Eta is there; jet_Phi is not, and not needed


@pytest.mark.parametrize("source", ["uproot", "nanoevents-eager", "nanoevents-virtual"])
def test_tagger_scores_every_jet_or_says_why_not(mlanalyzer: MLAnalyzerSample, source: str) -> None:
    path = mlanalyzer.files["dy"]
    if source == "uproot":
        events = uproot.open(path)["fevt/RHTree"].arrays()
    else:
        mode = source.split("-")[1]
        events = NanoEventsFactory.from_root(
            {str(path): "fevt/RHTree"}, schemaclass=BaseSchema, mode=mode
        ).events()
    tagger = Tagger(TAGGER, device="cpu", branches="mlanalyzer_tau")
    # these ntuples carry pile-up (goodvertices 20-28); the tagger was trained without
    with pytest.warns(ConditionsWarning, match=r"mean nVtx 24\.0, trained at 1\.0"):
        scores = tagger(events)
    assert ak.num(scores).tolist() == ak.num(events["jetSeed_ieta"]).tolist()
    want = _expected_scores(mlanalyzer, "dy")
    got = scores.tolist()
    for e, (g, w) in enumerate(zip(got, want, strict=True)):
        for k, (a, b) in enumerate(zip(g, w, strict=True)):
            assert (a is None) == (b is None), (e, k)
            if b is not None:
                assert a == pytest.approx(b, abs=1e-5), (e, k)
    n_jets = len(mlanalyzer.jets["dy"])
    assert tagger.stats["objects"] == n_jets
    assert tagger.stats["scored"] == sum(s is not None for ev in want for s in ev)
    assert (
        tagger.stats["pt outside 20-100"]
        + tagger.stats["|eta|>=1.392"]  # the contract's range is the frame's acceptance
        + tagger.stats["outside the frame's acceptance"]
        + tagger.stats["scored"]
        == n_jets
    )


def test_tagger_reads_only_what_it_needs(mlanalyzer: MLAnalyzerSample) -> None:
    tagger = Tagger(TAGGER, device="cpu", branches="mlanalyzer_tau")
    required, optional = tagger.branches("e2e")
    from e2e_coffea.frames import resolve_channels

    images = {s.e2e_branch for s in resolve_channels("tau13", frame="jet")}
    assert set(required) == images | {"jetSeed_ieta", "jetSeed_iphi"}
    # the cuts' quantities and nVtx for the conditions check; no truth needed
    assert set(optional) == {"jet_Pt", "jet_Eta", "nVtx"}


def test_main_job_on_mlanalyzer_files(
    mlanalyzer: MLAnalyzerSample, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "run"
    args = ["run", "--fileset", str(mlanalyzer.fileset), "--tagger", TAGGER, "--branches",
            "mlanalyzer_tau", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True
    n_events = sum(len(v[next(iter(v))]) for v in mlanalyzer.images.values())
    assert summary["entries"] == {"processed": n_events, "expected": n_events}
    # the ROC: tau jets of the signal sample against every jet of the background sample
    in_roc = sum(_passes(j) and j.is_tau for j in mlanalyzer.jets["dy"])
    in_roc += sum(_passes(j) for j in mlanalyzer.jets["qcd"])
    t = summary["taggers"][TAGGER]
    assert t["n_jets"] == in_roc
    assert t["auc"] is not None  # tau jets (jet_IsTau) against the QCD file's jets
    missing = summary["missing_branches"]
    # read only what is needed: jet_Phi only for the single-feature baselines (dR to the
    # other jets), which are left out without it
    assert set(missing["dy"]) == {"jet_label", "jet_Phi"}
    assert "sum_pt_jets_dr1" not in t["physical"]["baselines"]
    assert "sum_pt_jets_dr1" in t["physical"]["baselines_missing"]  # said, not hidden
    assert "jet_IsTau" in missing["dy"]["jet_label"]  # ... and what was done instead
    assert "has no jet_label: labels from the truth flag(s) ['jet_IsTau']" in printed


def test_a_single_tau_ntuple_gets_scores_but_no_auc(
    mlanalyzer: MLAnalyzerSample, tmp_path: Path, capsys: Any
) -> None:
    """One MLAnalyzer tau ntuple: its non-tau jets are not a background sample, so no
    AUC (exit 1, as an incomplete result), but the score histograms are written."""
    fs = tmp_path / "dy_only.json"
    fs.write_text(json.dumps({"dy": {"files": {str(mlanalyzer.files["dy"]): "fevt/RHTree"}}}))
    out = tmp_path / "run"
    args = ["run", "--fileset", str(fs), "--tagger", TAGGER, "--branches", "mlanalyzer_tau",
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 1
    assert "no background sample" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True  # every entry processed: only the ROC is missing
    assert summary["taggers"][TAGGER]["auc"] is None
    assert list(summary["incomplete_taggers"]) == [TAGGER]
    scores = load_output(out)["hists"]["score"]
    assert list(scores.axes["dataset"]) == ["dy"]
    assert scores.sum(flow=True).value > 0


def test_non_integral_seed_is_named(tmp_path: Path) -> None:
    from e2e_coffea.io.root_vectors import write_root_vectors

    path = tmp_path / "bad.root"
    img = ak.Array(np.zeros((2, 56 * 72), np.float32))
    write_root_vectors(path, {"HBHE_energy": img, "jetSeed_ieta": ak.Array([[20.0], [30.5]]),
                              "jetSeed_iphi": ak.Array([[1.0], [2.0]])})  # fmt: skip
    events = uproot.open(path)["fevt/RHTree"].arrays()
    from e2e_coffea.frames import build_jet_frames

    with pytest.raises(
        FileLayoutError, match=r"'jetSeed_ieta': object 0 of entry 1 has seed 30\.5"
    ):
        build_jet_frames(events, layout="e2e", channels=["hcal"])


def test_a_scalar_the_files_lack_stops_before_any_chunk(
    mlanalyzer: MLAnalyzerSample, tmp_path: Path
) -> None:
    """A model fed MET (which MLAnalyzer's tau ntuples lack) is refused up front."""
    import torch

    from e2e_coffea.export import Contract, export_tagger
    from e2e_coffea.runner import run

    class Tiny(torch.nn.Module):
        def forward(self, frames: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
            return frames.mean(dim=(1, 2, 3))[:, None] + scalars[:, :1]

    contract = Contract(task="classification", model_name="tiny", channels=("hcal",),
                        frame_size=(125, 125), class_names=("qcd", "tau"),
                        scalar_inputs=("MET_pt",), input_names=("frames", "scalars"))  # fmt: skip
    model = export_tagger(Tiny(), contract, tmp_path / "tiny.onnx")
    with pytest.raises(MissingBranchError, match="MET_pt"):
        run(mlanalyzer.fileset, [model], branches="mlanalyzer_tau", device="cpu", progress=False)
