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
from e2e_coffea.inference.taggers import resolve_tagger
from e2e_coffea.processor.booking import book_score_hists, fill_scores
from e2e_coffea.runner import RunResult

TAU = 2  # layouts.LABELS


def _strict_json(obj: Any) -> Any:
    """Round trip through JSON that refuses NaN/inf, as strict parsers (jq, JS) do."""
    return json.loads(json.dumps(obj, allow_nan=False))


def raw_scores(sample: Any, tagger: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, truth and dataset of every selected jet, by hand: frames -> onnxruntime -> sigmoid."""
    spec = resolve_tagger(tagger)
    sess = ort.InferenceSession(str(tagger), providers=["CPUExecutionProvider"])
    norm = Normalisation.from_dict(spec.contract.normalisation)
    scores, labels, datasets = [], [], []
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
    return np.concatenate(scores), np.concatenate(labels), np.concatenate(datasets)


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

    assert jet["signal"] == datasets_with(lambda lab: lab == "tau") == ["tau"]
    # background = the non-tau jets of the background samples only, as in training: the
    # tau sample's other jets are neither signal nor background
    assert jet["background"] == ["qcd"]
    assert 0 <= jet["auc"] <= 1
    assert jet["auc_err"] > 0
    n_signal = sum(h[{"dataset": d, "label": "tau"}].sum().value for d in h.axes["dataset"])
    n_background = sum(
        h[{"dataset": "qcd", "label": lab}].sum().value for lab in h.axes["label"] if lab != "tau"
    )
    assert jet["n_jets"] == int(n_signal + n_background)
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
    scores, labels, datasets = raw_scores(sample, jet_tagger)
    h = clean.output["hists"]["score"][{"tagger": "jet_simplenet"}]
    # the histogram holds exactly these scores
    filled = sum(
        h[{"dataset": d, "label": lab}].values()
        for d in h.axes["dataset"]
        for lab in h.axes["label"]
    )
    np.testing.assert_array_equal(filled, np.histogram(scores, bins=1000, range=(0, 1))[0])
    # signal: every tau jet; background: the qcd sample's other jets (as in training)
    keep = (labels == TAU) | (datasets == "qcd")
    y = labels[keep] == TAU
    assert 5 < y.sum() < len(y) - 5
    entry = summarize(clean, [resolve_tagger(jet_tagger)])["taggers"]["jet_simplenet"]
    auc_sk = roc_auc_score(y, scores[keep])
    assert (
        entry["auc_binning_err"] < 0.05
    )  # scores spread over many bins: the check below has teeth
    assert abs(entry["auc"] - auc_sk) <= entry["auc_binning_err"] + 1e-12
    assert entry["n_jets"] == int(keep.sum())
    # no validity in the contract: the tagger was measured with the run's cuts
    assert entry["range"] == {"pt_min": 20.0, "pt_max": None, "abs_eta_max": 2.4}


def test_summary_is_strict_json_with_a_single_signal_jet(jet_tagger: Path) -> None:
    """Hanley-McNeil has no error for one signal jet: summary.json says null, not NaN."""
    hists = book_score_hists()
    fill_scores(
        hists,
        dataset="tau",
        tagger="jet_simplenet",
        labels=np.array([TAU, 0, 1, 0]),
        scores=np.array([0.9, 0.2, 0.4, 0.1]),
        pt=np.full(4, 50.0),
        eta=np.zeros(4),
    )
    result = RunResult(
        output={"hists": hists, "entries": {"tau": 4}, "metrics": {}},
        expected={"f": 4},
        wall_time=1.0,
    )
    s = _strict_json(summarize(result, [resolve_tagger(jet_tagger)]))
    entry = s["taggers"]["jet_simplenet"]
    assert entry["auc"] == 1.0
    assert entry["auc_err"] is None
    assert entry["n_jets"] == 4
