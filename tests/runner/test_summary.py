"""summarize(): the keys summary.json promises, and a histogram AUC that agrees with
sklearn's on the raw scores within the binning bound it reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import onnxruntime as ort
import uproot
from sklearn.metrics import roc_auc_score

from e2e_coffea.frames import Normalisation, build_jet_frames
from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.processor.booking import book_score_hists, fill_scores
from e2e_coffea.runner import RunResult

TAU = 2  # layouts.LABELS


def _strict_json(obj: Any) -> Any:
    """Round trip through JSON that refuses NaN/inf, as strict parsers (jq, JS) do."""
    return json.loads(json.dumps(obj, allow_nan=False))


def raw_weights(metadata: dict[str, Any], event: np.ndarray) -> np.ndarray:
    """Each jet's event weight at 1 fb^-1 = 1000 pb^-1, by hand from the fileset metadata:
    xsec / nevents, or per pT-hat bin (event - 1) % n_bins for the qcd mixture."""
    if metadata.get("xsec_pb") is not None:
        return np.full(len(event), metadata["xsec_pb"] * 1000 / metadata["nevents"])
    xs, ns = metadata["xsec_pb_per_bin"], metadata["nevents_per_bin"]
    return np.array([xs[(e - 1) % len(xs)] * 1000 / ns[(e - 1) % len(xs)] for e in event])


def raw_scores(sample: Any, tagger: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores, truth, dataset and event weight of every selected jet, by hand: frames ->
    onnxruntime -> sigmoid."""
    spec = resolve_tagger(tagger)
    sess = ort.InferenceSession(str(tagger), providers=["CPUExecutionProvider"])
    norm = Normalisation.from_dict(spec.contract.normalisation)
    scores, labels, datasets, weights = [], [], [], []
    fileset = json.loads(Path(sample.fileset["sparse"]).read_text())
    for ds in ("qcd", "tau"):
        with uproot.open(sample.files[(ds, "sparse")]) as f:
            chunk = f["Events"].arrays()
        sel = (chunk["Jet_pt"] > 20) & (abs(chunk["Jet_eta"]) < 2.4) & (chunk["Jet_inFrame"] != 0)
        frames, rec = build_jet_frames(
            chunk, layout="sparse", channels=list(spec.contract.channels), jets=sel, norm=norm
        )
        assert len(rec) == int(ak.sum(sel))
        logits = sess.run(None, {"frames": frames})[0][:, 0].astype(np.float64)
        scores.append(1 / (1 + np.exp(-logits)))
        labels.append(rec.label)
        datasets.append(np.full(len(rec), ds))
        event = np.asarray(chunk["event"])[rec.event]
        weights.append(raw_weights(fileset[ds]["metadata"], event))
    return tuple(np.concatenate(a) for a in (scores, labels, datasets, weights))  # type: ignore[return-value]


def test_summary_keys(clean: Any, jet_tagger: Path, eg_tagger: Path) -> None:
    specs = [resolve_tagger(jet_tagger), resolve_tagger(eg_tagger)]
    s = _strict_json(summarize(clean, specs))
    assert {"taggers", "entries", "failed", "throughput", "devices"} <= set(s)
    assert s["entries"] == {"processed": 80, "expected": 80}
    assert s["failed"] == []
    assert s["complete"] is True
    assert s["devices"] == {"cpu": 6}
    assert s["throughput"]["jets_per_s"] > 0
    assert s["throughput"]["events_per_s"] > 0
    jet = s["taggers"]["jet_simplenet"]
    assert {"signal", "background", "auc", "auc_err", "n_jets"} <= set(jet)
    h = clean.output["hists"]["score"][{"tagger": "jet_simplenet"}]

    def datasets_with(pick: Any) -> list[str]:
        return sorted(
            d
            for d in h.axes["dataset"]
            for lab in h.axes["label"]
            if pick(lab) and h[{"dataset": d, "label": lab}].sum().value > 0
        )

    n = clean.output["hists"]["objects"][{"tagger": "jet_simplenet"}]

    assert jet["signal"] == datasets_with(lambda lab: lab == "tau") == ["tau"]
    # background = the non-tau jets of the background samples only, as in training: the
    # tau sample's other jets are neither signal nor background
    assert jet["background"] == ["qcd"]
    assert 0 <= jet["auc"] <= 1
    assert jet["auc_err"] > 0
    # n_jets counts objects (the ``objects`` histogram), not the weighted sums
    n_signal = n[{"dataset": "tau", "label": "tau"}]  # the signal sample's taus
    n_background = sum(
        n[{"dataset": "qcd", "label": lab}] for lab in n.axes["label"] if lab != "tau"
    )
    assert jet["n_jets"] == n_signal + n_background
    # e/gamma tagger: a ROC only if electrons (its signal) and other objects are there;
    # without signal (usual in tau/qcd events) it must say so rather than invent one
    eg = s["taggers"]["eg_simplenet"]
    labels = clean.output["hists"]["score"][{"tagger": "eg_simplenet"}].project("label")
    have = {lab for lab, v in zip(labels.axes[0], labels.values(), strict=True) if v > 0}
    if "electron" in have and len(have) > 1:
        assert eg["auc"] is not None
        return
    assert eg["auc"] is None
    assert eg["n_jets"] == 0
    assert "note" in eg


def test_hist_auc_agrees_with_sklearn(clean: Any, sample: Any, jet_tagger: Path) -> None:
    scores, labels, datasets, weights = raw_scores(sample, jet_tagger)
    h = clean.output["hists"]["score"][{"tagger": "jet_simplenet"}]
    # the histogram holds exactly these scores, with these weights
    filled = sum(
        h[{"dataset": d, "label": lab}].values()
        for d in h.axes["dataset"]
        for lab in h.axes["label"]
    )
    expected = np.histogram(scores, bins=1000, range=(0, 1), weights=weights)[0]
    np.testing.assert_allclose(filled, expected, rtol=1e-12, atol=0)
    n_bins = len(
        json.loads(Path(sample.fileset["sparse"]).read_text())["qcd"]["metadata"]["xsec_pb_per_bin"]
    )
    assert n_bins > 1
    assert (
        len(np.unique(weights)) == n_bins + 1
    )  # every pT-hat bin and the tau sample: it has teeth
    # signal: the tau sample's tau jets; background: the qcd sample's other jets (as in
    # training); the qcd sample's rare real taus are neither
    keep = ((labels == TAU) & (datasets == "tau")) | ((labels != TAU) & (datasets == "qcd"))
    y = labels[keep] == TAU
    assert 5 < y.sum() < len(y) - 5
    entry = summarize(clean, [resolve_tagger(jet_tagger)])["taggers"]["jet_simplenet"]
    auc_sk = roc_auc_score(y, scores[keep], sample_weight=weights[keep])
    # within the binning bound it reports (a few heavy qcd weights make the bound loose) ...
    assert entry["auc_binning_err"] < 0.1
    assert abs(entry["auc"] - auc_sk) <= entry["auc_binning_err"] + 1e-12
    # ... and exactly sklearn's on the binned scores (ties count one half in both)
    binned = np.minimum(np.floor(scores[keep] * 1000), 999)
    auc_binned = roc_auc_score(y, binned, sample_weight=weights[keep])
    assert abs(entry["auc"] - auc_binned) < 1e-9
    assert entry["n_jets"] == int(keep.sum())
    # no validity in the contract: the tagger was measured with the run's cuts, its |eta|
    # bounded by what the jet window allows on the ECAL grid (not the cuts' 2.4)
    assert entry["range"] == {"pt_min": 20.0, "pt_max": None, "abs_eta_max": 1.392}


def test_summary_is_strict_json_with_a_single_signal_jet(jet_tagger: Path) -> None:
    """Hanley-McNeil has no error for one signal jet: summary.json says null, not NaN."""
    hists = book_score_hists()
    for ds, labels, scores in (("tau", [TAU], [0.9]), ("qcd", [0, 1, 0], [0.2, 0.4, 0.1])):
        fill_scores(
            hists,
            dataset=ds,
            tagger="jet_simplenet",
            labels=np.array(labels),
            scores=np.array(scores),
            pt=np.full(len(labels), 50.0),
            eta=np.zeros(len(labels)),
        )
    result = RunResult(
        output={"hists": hists, "entries": {"tau": 1, "qcd": 3}, "metrics": {}},
        expected={"f": 4},
        wall_time=1.0,
    )
    s = _strict_json(summarize(result, [resolve_tagger(jet_tagger)]))
    entry = s["taggers"]["jet_simplenet"]
    assert entry["auc"] == 1.0
    assert entry["auc_err"] is None
    assert entry["n_jets"] == 4
