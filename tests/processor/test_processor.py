"""E2ETaggerProcessor on real NanoEvents chunks of a generated sample.

References here are computed straight from the file with uproot + awkward (selection
counts, branch lists written out by hand) or with onnxruntime on hand-made inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import onnxruntime as ort
import pytest
import uproot
from coffea.processor import accumulate

from e2e_coffea.exceptions import E2EError
from e2e_coffea.frames import JetCuts
from e2e_coffea.frames.records import JetSelection
from e2e_coffea.inference import object_batches
from e2e_coffea.layouts import LABELS
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.processor.booking import MeanImages
from e2e_coffea.processor.features import feature_branches

# the branch names as the two layouts write them (layouts.py), written out on purpose
KINE = {
    ("sparse", "jet"): ("Jet_pt", "Jet_eta", "Jet_label", "Jet_inFrame"),
    ("e2e", "jet"): ("jet_Pt", "jet_Eta", "jet_label", "jet_inFrame"),
    ("sparse", "eg"): ("EGamma_pt", "EGamma_eta", "EGamma_label", None),
    ("e2e", "eg"): ("SC_pT", "SC_eta", "SC_label", None),
}
# seeds, the cuts' pt and eta, and the truth label (the in-frame flag is computed)
JET_RECORD = {
    "sparse": ["Jet_pt", "Jet_eta", "Jet_seedIeta", "Jet_seedIphi", "Jet_label"],
    "e2e": ["jet_Pt", "jet_Eta", "jetSeed_ieta", "jetSeed_iphi", "jet_label"],
}
EG_RECORD = {
    "sparse": ["EGamma_pt", "EGamma_eta", "EGamma_seedRow", "EGamma_seedCol", "EGamma_label"],
    "e2e": ["SC_pT", "SC_eta", "SC_ieta", "SC_iphi", "SC_label"],
}
QG_PIXELS = {
    "sparse": [
        "Track_row",
        "Track_col",
        "Track_pt",
        "EcalHit_row",
        "EcalHit_col",
        "EcalHit_energy",
        "HcalHit_ieta",
        "HcalHit_iphi",
        "HcalHit_energy",
    ],
    "e2e": ["ECAL_tracksPt_atECALfixIP", "ECAL_energy", "HBHE_energy"],
}
EB_PIXELS = {
    "sparse": ["EcalHit_row", "EcalHit_col", "EcalHit_energy", "EcalHit_time"],
    "e2e": ["EB_energy", "EB_time"],
}
TREES = {"sparse": "Events", "e2e": "fevt/RHTree"}


def reference_counts(path: Path, layout: str, kind: str, cuts: JetCuts) -> dict[str, int]:
    """Selected objects per truth label, straight from the file."""
    pt_b, eta_b, lab_b, inframe_b = KINE[(layout, kind)]
    with uproot.open(path) as f:
        a = f[TREES[layout]].arrays([b for b in (pt_b, eta_b, lab_b, inframe_b) if b])
    mask = (a[pt_b] > cuts.pt_min) & (a[pt_b] < cuts.pt_max) & (abs(a[eta_b]) < cuts.abs_eta_max)
    if inframe_b and cuts.require_in_frame:
        mask = mask & (a[inframe_b] != 0)
    labels = ak.to_numpy(ak.flatten(a[lab_b][mask])).astype(int)
    ids, n = np.unique(labels, return_counts=True)
    return {LABELS[int(i)]: int(c) for i, c in zip(ids, n, strict=True)}


def counts_by_label(h: hist.Hist, dataset: str, tagger: str) -> dict[str, int]:
    if dataset not in list(h.axes["dataset"]) or tagger not in list(h.axes["tagger"]):
        return {}
    sub = h[{"dataset": dataset, "tagger": tagger}]
    out = {lab: round(sub[{"label": lab}].sum(flow=True).value) for lab in sub.axes["label"]}
    return {k: v for k, v in out.items() if v}


@pytest.fixture(scope="module")
def both(jet_tagger: Path, eg_tagger: Path) -> E2ETaggerProcessor:
    return E2ETaggerProcessor([jet_tagger, eg_tagger], device="cpu")


def test_output_structure(sample: Any, jet_tagger: Path, events: Any) -> None:
    path = sample.files[("tau", "sparse")]
    proc = E2ETaggerProcessor([jet_tagger], device="cpu")
    out = proc.process(events(path, "sparse", "tau"))
    assert set(out) == {
        "entries", "chunks", "failed", "hists", "weights", "cutflow", "notes", "conditions",
        "mean_images", "metrics",
    }  # fmt: skip
    assert out["failed"] == {}
    assert out["entries"] == {"tau": 40}
    assert out["chunks"] == {f"{path}:0-40": 40}
    assert set(out["hists"]) == {
        "score",
        "score_pt",
        "score_eta",
        "score_match",
        "score_nvtx",
        "feature",
        "objects",
        "score_counts",
    }
    for name, h in out["hists"].items():
        assert [ax.name for ax in h.axes][:3] == ["dataset", "label", "tagger"], name
        # weighted sums, except the objects count that says how many objects they rest on
        storage = hist.storage.Int64 if name == "objects" else hist.storage.Weight
        assert isinstance(h.storage_type(), storage), name
        assert list(h.axes["dataset"]) == ["tau"]
        assert list(h.axes["tagger"]) == ["jet_simplenet"]
    score = out["hists"]["score"].axes["score"]
    assert score.size == 1000
    assert score.edges[0] == 0
    assert score.edges[-1] == 1
    n = out["metrics"]["objects"]
    assert n > 0
    for name, h in out["hists"].items():  # every object lands in every histogram, none in flow
        per_object = len(h.axes["feature"]) if name == "feature" else 1  # one per feature
        assert _total(h, flow=False) == n * per_object, name
    assert set(out["hists"]["feature"].axes["feature"]) == {
        "pt", "abs_eta", "met", "n_charged", "sum_pt_jets_dr1", "pthat",
    }  # fmt: skip
    m = out["metrics"]
    assert m["chunks"] == 1
    assert m["entries"] == 40
    assert m["device"] == {"cpu": 1}
    assert list(m["worker"].values()) == [40]
    assert all(m[k] >= 0 for k in ("time_read", "time_frames", "time_inference"))
    flow = out["cutflow"]["tau"]
    assert flow["events"] == 40
    assert flow["jet_simplenet: jets window inside eta acceptance"] == n
    assert flow["jet_simplenet: jets"] >= flow["jet_simplenet: jets pt>20"] >= n
    mi = out["mean_images"]["jet_simplenet"]
    assert isinstance(mi, MeanImages)
    assert mi.channels == ("track_pt", "ecal", "hcal")
    assert sum(mi.counts.values()) == n
    assert mi.mean("tau").shape == (3, 125, 125)
    assert mi.mean("tau").sum() > 0


def test_chunks_merge_to_the_whole_file(
    sample: Any, both: E2ETaggerProcessor, events: Any, hists_equal: Any
) -> None:
    path = sample.files[("qcd", "sparse")]
    whole = both.process(events(path, "sparse", "qcd"))
    parts = [
        both.process(events(path, "sparse", "qcd", start=a, stop=b)) for a, b in ((0, 13), (13, 40))
    ]
    merged = accumulate(parts)
    assert merged["entries"] == whole["entries"] == {"qcd": 40}
    assert set(merged["chunks"]) == {f"{path}:0-13", f"{path}:13-40"}
    assert hists_equal(merged["hists"], whole["hists"])
    assert merged["cutflow"] == whole["cutflow"]
    for name, mi in whole["mean_images"].items():
        got = merged["mean_images"][name]
        assert got.counts == mi.counts
        for lab in mi.sums:
            np.testing.assert_allclose(got.sums[lab], mi.sums[lab], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_objects_are_the_selected_ones(
    sample: Any, jet_tagger: Path, eg_tagger: Path, events: Any, layout: str
) -> None:
    cuts = JetCuts(pt_min=30.0, abs_eta_max=1.3)
    proc = E2ETaggerProcessor([jet_tagger, eg_tagger], cuts=cuts, device="cpu")
    for ds in ("qcd", "tau"):
        path = sample.files[(ds, layout)]
        out = proc.process(events(path, layout, ds))
        jets = reference_counts(path, layout, "jet", cuts)
        egs = reference_counts(path, layout, "eg", cuts)
        assert counts_by_label(out["hists"]["score"], ds, "jet_simplenet") == jets
        assert counts_by_label(out["hists"]["score"], ds, "eg_simplenet") == egs
        assert out["metrics"]["objects"] == sum(jets.values()) + sum(egs.values())
        flow = out["cutflow"][ds]
        assert flow["jet_simplenet: jets window inside eta acceptance"] == sum(jets.values())
        assert flow["eg_simplenet: egs |eta|<1.3"] == sum(egs.values())
    # the cut bites: looser cuts keep more jets than the ones above
    assert sum(reference_counts(path, layout, "jet", JetCuts()).values()) > sum(jets.values())


def test_each_tagger_runs_in_its_validity_range(
    sample: Any, jet_tagger: Path, make_tagger: Any, events: Any, tmp_path: Path
) -> None:
    """A tagger trained in a kinematic range (its contract's validity) is run and measured
    only there; another tagger in the same job keeps the run's cuts."""
    from e2e_coffea.processor import tagger_cuts

    ranged = tmp_path / "ranged_simplenet.onnx"
    make_tagger(ranged, kind="jet", validity={"pt_min": 25.0, "pt_max": 60.0, "abs_eta_max": 1.2})
    proc = E2ETaggerProcessor([jet_tagger, ranged], cuts=JetCuts(pt_min=22.0), device="cpu")
    want = JetCuts(pt_min=25.0, abs_eta_max=1.2, pt_max=60.0)
    assert tagger_cuts(proc.taggers[1].spec, JetCuts(pt_min=22.0)) == want
    path = sample.files[("qcd", "sparse")]
    out = proc.process(events(path, "sparse", "qcd"))
    ranged_counts = counts_by_label(out["hists"]["score"], "qcd", "ranged_simplenet")
    assert ranged_counts == reference_counts(path, "sparse", "jet", want)
    wide = counts_by_label(out["hists"]["score"], "qcd", "jet_simplenet")
    assert wide == reference_counts(path, "sparse", "jet", JetCuts(pt_min=22.0))
    assert sum(wide.values()) > sum(ranged_counts.values()) > 0  # the range bites
    assert out["cutflow"]["qcd"]["ranged_simplenet: jets 25<pt<60"] >= sum(ranged_counts.values())


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_branches_are_exactly_what_is_read(
    sample: Any, jet_tagger: Path, eg_tagger: Path, events: Any, layout: str
) -> None:
    path = sample.files[("tau", layout)]
    cases = [
        ([jet_tagger], QG_PIXELS[layout] + JET_RECORD[layout]),
        ([eg_tagger], EB_PIXELS[layout] + EG_RECORD[layout]),
        (
            [jet_tagger, eg_tagger],
            QG_PIXELS[layout] + JET_RECORD[layout] + EB_PIXELS[layout] + EG_RECORD[layout],
        ),
    ]
    phi = {
        "sparse": {"jet": "Jet_phi", "eg": "EGamma_phi"},
        "e2e": {"jet": "jet_Phi", "eg": "SC_phi"},
    }
    for taggers, expected in cases:
        # the single-feature baselines and nVtx bins: event columns and the object's phi
        kinds = {"jet"} if taggers[0] == jet_tagger else {"eg"}
        kinds |= {"eg"} if len(taggers) == 2 else set()
        expected = [*expected, *feature_branches(layout), *(phi[layout][k] for k in kinds)]
        proc = E2ETaggerProcessor(taggers, device="cpu")
        required, optional = proc.branches(layout)
        listed = [*required, *optional]
        assert len(listed) == len(set(listed))
        # our files carry the label, so MLAnalyzer's truth flags are listed but not read
        flags = {"sparse": {"Jet_isTau", "Jet_isEle"}, "e2e": {"jet_IsTau", "jet_IsEle"}}[layout]
        assert set(listed) - flags == set(expected)
        log: list[Any] = []
        proc.process(events(path, layout, "tau", access_log=log))
        assert {entry.branch for entry in log} == set(listed) - flags


def test_layouts_give_identical_scores(
    sample: Any, both: E2ETaggerProcessor, events: Any, hists_equal: Any
) -> None:
    for ds in ("qcd", "tau"):
        sparse = both.process(events(sample.files[(ds, "sparse")], "sparse", ds))
        dense = both.process(events(sample.files[(ds, "e2e")], "e2e", ds))
        assert sparse["hists"]["score"].sum().value > 0
        # the e2e layout has no tracks: no charged-multiplicity baseline there
        feature = {lay: out["hists"].pop("feature") for lay, out in (("s", sparse), ("d", dense))}
        assert set(feature["s"].axes["feature"]) - set(feature["d"].axes["feature"]) == {
            "n_charged"
        }
        assert hists_equal(sparse["hists"], dense["hists"])
        assert sparse["cutflow"] == dense["cutflow"]
        for name, mi in sparse["mean_images"].items():
            for lab, s in mi.sums.items():
                np.testing.assert_allclose(
                    dense["mean_images"][name].sums[lab], s, rtol=1e-6, atol=1e-6
                )


def _assert_zero_output(out: dict[str, Any], dataset: str) -> None:
    assert out["entries"] == {dataset: 0}
    assert set(out["hists"]) == {
        "score", "score_pt", "score_eta", "score_match", "score_nvtx", "feature", "objects",
        "score_counts",
    }  # fmt: skip
    for h in out["hists"].values():
        assert _total(h, flow=True) == 0
    assert out["metrics"]["objects"] == 0
    assert out["metrics"]["entries"] == 0
    assert out["cutflow"][dataset]["events"] == 0


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_object_batches_give_the_same_output(
    sample: Any, jet_tagger: Path, eg_tagger: Path, events: Any, layout: str, hists_equal: Any
) -> None:
    """Frames built a few objects at a time (0.5 MB: 2 jets, 64 e/gamma crops) score,
    count and average exactly like one batch per chunk."""
    whole = E2ETaggerProcessor([jet_tagger, eg_tagger], device="cpu")
    small = E2ETaggerProcessor([jet_tagger, eg_tagger], device="cpu", frame_memory_mb=0.5)
    ev = events(sample.files[("qcd", layout)], layout, "qcd")
    a, b = whole.process(ev), small.process(ev)
    assert a["metrics"]["objects"] == b["metrics"]["objects"] > 2
    assert hists_equal(a["hists"], b["hists"])
    assert a["cutflow"] == b["cutflow"]
    for name, mi in a["mean_images"].items():
        assert b["mean_images"][name].counts == mi.counts
        for lab, s in mi.sums.items():
            np.testing.assert_allclose(b["mean_images"][name].sums[lab], s, rtol=1e-12)


def test_object_batches_cover_the_selection_once() -> None:
    sel = JetSelection(np.array([0, 0, 2, 3, 3, 3, 7]), np.array([0, 1, 0, 0, 2, 3, 1]))
    chunk = ak.Array({"x": np.arange(9)})
    parts = list(object_batches(chunk, sel, 3))
    assert [len(s) for _, s, _ in parts] == [3, 3, 1]
    got = [
        (int(p["x"][e]), int(j)) for p, s, _ in parts for e, j in zip(s.event, s.index, strict=True)
    ]
    assert got == list(zip(sel.event.tolist(), sel.index.tolist(), strict=True))
    empty = JetSelection(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert [len(s) for _, s, _ in object_batches(chunk, empty, 3)] == [0]
    with pytest.raises(E2EError, match="in event order"):
        list(object_batches(chunk, JetSelection(np.array([2, 0]), np.array([0, 0])), 3))
    with pytest.raises(E2EError, match="frame_memory_mb > 0"):
        E2ETaggerProcessor(["tau_simplenet"], frame_memory_mb=0)


def test_empty_chunk(sample: Any, both: E2ETaggerProcessor, events: Any, hists_equal: Any) -> None:
    ev = events(sample.files[("tau", "sparse")], "sparse", "tau")
    empty = both.process(ev[:0])
    _assert_zero_output(empty, "tau")
    full = both.process(ev)
    assert set(empty["cutflow"]["tau"]) == set(full["cutflow"]["tau"])  # every step, at 0
    assert not any(empty["cutflow"]["tau"].values())
    merged = accumulate([empty, full])
    assert merged["entries"] == {"tau": 40}
    assert merged["cutflow"] == full["cutflow"]
    assert hists_equal(merged["hists"], full["hists"])


def test_file_with_zero_entries(
    sample: Any, both: E2ETaggerProcessor, events: Any, rewrite: Any, tmp_path: Path
) -> None:
    path = rewrite(sample.files[("tau", "sparse")], tmp_path / "empty.root", n_events=0)
    out = both.process(events(path, "sparse", "tau", stop=0))
    _assert_zero_output(out, "tau")


def test_jets_without_hits_score_like_blank_frames(
    sample: Any,
    both: E2ETaggerProcessor,
    jet_tagger: Path,
    eg_tagger: Path,
    events: Any,
    rewrite: Any,
    tmp_path: Path,
) -> None:
    src = sample.files[("qcd", "sparse")]
    path = rewrite(
        src, tmp_path / "nohits.root", empty=("EcalHit", "HcalHit", "Track", "TrackerHit")
    )
    out = both.process(events(path, "sparse", "qcd"))
    h = out["hists"]["score"]
    for tagger, model, kind, shape in (
        (("jet_simplenet"), jet_tagger, "jet", (3, 125, 125)),
        ("eg_simplenet", eg_tagger, "eg", (2, 32, 32)),
    ):
        n = sum(reference_counts(src, "sparse", kind, both.cuts).values())
        assert n > 0
        logit = ort.InferenceSession(str(model)).run(
            None, {"frames": np.zeros((1, *shape), np.float32)}
        )[0]
        blank = float(1 / (1 + np.exp(-logit[0, 0])))
        sub = h[{"dataset": "qcd", "tagger": tagger}].project("score")
        assert sub.values()[sub.axes[0].index(blank)] == n  # every object in the blank frame's bin
        assert sub.sum().value == n
        for s in out["mean_images"][tagger].sums.values():
            assert not s.any()


def test_taggers_only_see_their_own_objects(
    sample: Any, both: E2ETaggerProcessor, events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import e2e_coffea.frames.model_inputs as mod  # the one model-input path builds them

    seen: list[tuple[str, str, tuple[int, ...]]] = []
    real_jet, real_eg = mod.build_jet_frames, mod.build_eg_frames

    def spy(kind: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            frames, rec = real(*args, **kwargs)
            seen.append((kind, ",".join(kwargs["channels"]), tuple(frames.shape)))
            return frames, rec

        return wrapped

    monkeypatch.setattr(mod, "build_jet_frames", spy("jet", real_jet))
    monkeypatch.setattr(mod, "build_eg_frames", spy("eg", real_eg))
    path = sample.files[("qcd", "sparse")]
    out = both.process(events(path, "sparse", "qcd"))
    n_jet = sum(reference_counts(path, "sparse", "jet", both.cuts).values())
    n_eg = sum(reference_counts(path, "sparse", "eg", both.cuts).values())
    assert n_jet > 0
    assert n_eg > 0
    assert seen == [
        ("jet", "track_pt,ecal,hcal", (n_jet, 3, 125, 125)),
        ("eg", "eb_energy,eb_time", (n_eg, 2, 32, 32)),
    ]
    h = out["hists"]["score"]
    assert h[{"tagger": "jet_simplenet"}].sum().value == n_jet
    assert h[{"tagger": "eg_simplenet"}].sum().value == n_eg


def _total(h: Any, *, flow: bool) -> float:
    """A histogram's sum: weighted (``.value``) or a count (the ``objects`` histogram)."""
    s = h.sum(flow=flow)
    return float(getattr(s, "value", s))
