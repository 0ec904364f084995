"""Event weights: cross-section x luminosity / events, per dataset or per pT-hat bin.

Checked against a by-hand weight of every selected jet, for invariance under chunking
and luminosity, for the generator's pT-hat bin convention, and for refusal of metadata
that names a cross-section but cannot give a weight."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.io import load_fileset
from e2e_coffea.processor.weights import PB_PER_INV_FB, event_weights, needs_event_numbers
from e2e_coffea.runner import run

MIXTURE = {"xsec_pb": None, "xsec_pb_per_bin": [100.0, 10.0, 1.0], "nevents_per_bin": [4, 3, 3]}


def test_one_cross_section_per_dataset() -> None:
    w = event_weights({"xsec_pb": 2.0, "nevents": 4}, 3, 5.0)
    np.testing.assert_array_equal(w.weights, np.full(3, 2.0 * 5.0 * PB_PER_INV_FB / 4))
    assert "5 fb^-1" in w.how


def test_a_pthat_mixture_weights_each_event_by_its_bin() -> None:
    assert needs_event_numbers(MIXTURE)
    events = np.arange(1, 11)  # the generator numbers events from 1, bins round-robin
    w = event_weights(MIXTURE, 10, 1.0, events)
    table = np.array([100.0 / 4, 10.0 / 3, 1.0 / 3]) * PB_PER_INV_FB
    np.testing.assert_allclose(w.weights, table[(events - 1) % 3], rtol=1e-15)
    # the weights of each bin's events add up to its cross-section x luminosity
    for b, xs in enumerate(MIXTURE["xsec_pb_per_bin"]):
        assert math.isclose(w.weights[(events - 1) % 3 == b].sum(), xs * PB_PER_INV_FB)


def test_no_cross_section_or_weighting_off_is_unit_weights() -> None:
    assert event_weights({"process": "data"}, 5, 1.0).weights is None
    assert "no cross-section" in event_weights({}, 5, 1.0).how
    off = event_weights({"xsec_pb": 1.0, "nevents": 1}, 5, None)
    assert off.weights is None
    assert "off" in off.how


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({"xsec_pb": float("nan"), "nevents": 4}, "'xsec_pb'"),
        ({"xsec_pb": -1.0, "nevents": 4}, "'xsec_pb'"),
        ({"xsec_pb": "lots", "nevents": 4}, "'xsec_pb'"),
        ({"xsec_pb": 1.0}, "'nevents'"),
        ({"xsec_pb": 1.0, "nevents": 0}, "'nevents'"),
        ({**MIXTURE, "nevents_per_bin": [4, 3]}, "has 3 bins"),
        ({**MIXTURE, "nevents_per_bin": None}, "'nevents_per_bin'"),
        ({**MIXTURE, "xsec_pb_per_bin": [100.0, float("nan"), 1.0]}, "xsec_pb_per_bin[1]"),
    ],
)
def test_metadata_that_cannot_give_a_weight_is_refused(metadata: Any, named: str) -> None:
    with pytest.raises(BadInputError, match=r"dataset 'zz'") as err:
        event_weights(metadata, 4, 1.0, np.arange(1, 5), where="dataset 'zz'")
    assert named in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("lumi", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_luminosity_is_refused(lumi: float) -> None:
    with pytest.raises(BadInputError, match="luminosity"):
        event_weights({}, 1, lumi)


def test_a_mixture_needs_the_event_numbers() -> None:
    with pytest.raises(BadInputError, match="events' numbers"):
        event_weights(MIXTURE, 3, 1.0)


def test_the_pthat_bin_convention_matches_the_generator(sample: Any) -> None:
    """Events of the higher pT-hat bins, by ``(event - 1) % n_bins``, have harder jets:
    the convention the weights rest on is the one the generator used."""
    meta = json.loads(Path(sample.fileset["sparse"]).read_text())["qcd"]["metadata"]
    assert needs_event_numbers(meta)
    with uproot.open(sample.files[("qcd", "sparse")]) as f:
        ev = f["Events"].arrays(["event", "GenJet_pt"])
    lead = ak.to_numpy(ak.fill_none(ak.max(ev["GenJet_pt"], axis=1), 0.0))
    which = (np.asarray(ev["event"]) - 1) % len(meta["pthat_bins"])
    medians = [np.median(lead[which == b]) for b in range(len(meta["pthat_bins"]))]
    assert medians == sorted(medians), medians
    lo_top = meta["pthat_bins"][-1][0]
    assert medians[-1] > 0.6 * lo_top  # the top bin's jets sit near its pT-hat


def _selected_jet_weights(sample: Any, lumi_fb: float) -> dict[str, np.ndarray]:
    """By hand: every jet the default cuts select, weighted from the fileset metadata."""
    fileset = json.loads(Path(sample.fileset["sparse"]).read_text())
    out = {}
    for ds in ("qcd", "tau"):
        meta = fileset[ds]["metadata"]
        with uproot.open(sample.files[(ds, "sparse")]) as f:
            ev = f["Events"].arrays(["event", "Jet_pt", "Jet_eta", "Jet_inFrame"])
        sel = (ev["Jet_pt"] > 20) & (abs(ev["Jet_eta"]) < 2.4) & (ev["Jet_inFrame"] != 0)
        event = ak.to_numpy(ak.flatten(ak.broadcast_arrays(ev["event"], ev["Jet_pt"])[0][sel]))
        if meta.get("xsec_pb") is not None:
            w = np.full(len(event), meta["xsec_pb"] * lumi_fb * 1000 / meta["nevents"])
        else:
            b = (event - 1) % len(meta["xsec_pb_per_bin"])
            xs, ns = np.array(meta["xsec_pb_per_bin"]), np.array(meta["nevents_per_bin"])
            w = xs[b] * lumi_fb * 1000 / ns[b]
        out[ds] = w
    return out


@pytest.fixture(scope="module")
def weighted(sample: Any, jet_tagger: Path) -> Any:
    return run(sample.fileset["sparse"], [jet_tagger], chunksize=7, progress=False, lumi_fb=2.0)


def test_histograms_hold_the_weights_of_the_selected_jets(weighted: Any, sample: Any) -> None:
    by_hand = _selected_jet_weights(sample, 2.0)
    h = weighted.output["hists"]["score"][{"tagger": "jet_simplenet"}]
    n = weighted.output["hists"]["objects"][{"tagger": "jet_simplenet"}]
    for ds, w in by_hand.items():
        got = h[{"dataset": ds, "label": sum}].sum(flow=True)
        assert math.isclose(got.value, w.sum(), rel_tol=1e-12)
        assert math.isclose(got.variance, (w**2).sum(), rel_tol=1e-12)
        assert n[{"dataset": ds, "label": sum}] == len(w)  # the unweighted count
    assert weighted.output["weights"]["qcd"].keys() == {
        "xsec per pT-hat bin x 2 fb^-1 / events per bin"
    }
    assert next(iter(weighted.output["weights"]["tau"])).startswith("xsec 695")


def test_weights_do_not_depend_on_the_chunking(
    weighted: Any, sample: Any, jet_tagger: Path, hists_equal: Any
) -> None:
    whole = run(sample.fileset["sparse"], [jet_tagger], chunksize=40, progress=False, lumi_fb=2.0)
    assert whole.output["metrics"]["chunks"] < weighted.output["metrics"]["chunks"]
    assert hists_equal(whole.output["hists"], weighted.output["hists"])


def test_luminosity_scales_yields_not_shapes(weighted: Any, sample: Any, jet_tagger: Path) -> None:
    one = run(sample.fileset["sparse"], [jet_tagger], chunksize=7, progress=False, lumi_fb=1.0)
    h2, h1 = weighted.output["hists"]["score"], one.output["hists"]["score"]
    np.testing.assert_allclose(h2.values(), 2 * h1.values(), rtol=1e-12)
    spec = [resolve_tagger(jet_tagger)]
    s2 = summarize(weighted, spec)["taggers"]["jet_simplenet"]
    s1 = summarize(one, spec)["taggers"]["jet_simplenet"]
    assert math.isclose(s2["auc"], s1["auc"], rel_tol=1e-12)
    assert s2["n_jets"] == s1["n_jets"] > 0  # objects, whatever their weights


def test_unweighted_histograms_count_objects(sample: Any, jet_tagger: Path) -> None:
    r = run(sample.fileset["sparse"], [jet_tagger], chunksize=15, progress=False, lumi_fb=None)
    h = r.output["hists"]["score"]
    assert (
        h.sum(flow=True).value
        == r.output["hists"]["objects"].sum()
        == r.output["metrics"]["objects"]
    )
    assert set(summarize(r, [resolve_tagger(jet_tagger)])["weights"]["qcd"]) == {
        "unit weights (weighting off)"
    }


def test_a_rerun_in_the_same_process_uses_the_new_metadata(
    weighted: Any, sample: Any, jet_tagger: Path, tmp_path: Path
) -> None:
    """The same files again, with the tau cross-section doubled, in the same process (as in
    a notebook after fixing an xsec): the weights follow the new metadata, not a cache."""
    fs = load_fileset(sample.fileset["sparse"])
    fs["tau"]["metadata"]["xsec_pb"] *= 2
    again = run(fs, [jet_tagger], chunksize=7, progress=False, lumi_fb=2.0)
    h0, h1 = weighted.output["hists"]["score"], again.output["hists"]["score"]
    tau, qcd = (
        {"dataset": "tau", "label": sum, "tagger": sum},
        {"dataset": "qcd", "label": sum, "tagger": sum},
    )
    assert math.isclose(
        h1[tau].sum(flow=True).value, 2 * h0[tau].sum(flow=True).value, rel_tol=1e-12
    )
    assert math.isclose(h1[qcd].sum(flow=True).value, h0[qcd].sum(flow=True).value, rel_tol=1e-12)


def _fileset_with(sample: Any, tmp_path: Path, **metadata: Any) -> Path:
    fs = load_fileset(sample.fileset["sparse"])  # absolute paths: the copy is elsewhere
    fs["tau"]["metadata"].update(metadata)
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps(fs))
    return path


def test_bad_weight_metadata_stops_the_run_before_any_chunk(
    sample: Any, jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _fileset_with(sample, tmp_path, xsec_pb=None, nevents=None, xsec_pb_per_bin=[1.0])
    with pytest.raises(BadInputError, match=r"dataset 'tau'.*nevents_per_bin"):
        run(bad, [jet_tagger], progress=False)
    args = ["run", "--fileset", str(bad), "--tagger", str(jet_tagger), "--device", "cpu",
            "--executor", "iterative", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "dataset 'tau'" in err[0]
    assert not (tmp_path / "out" / "summary.json").exists()
    # --unweighted does not read the cross-sections, so it runs
    assert main([*args, "--unweighted"]) == 0


@pytest.mark.parametrize("lumi", ["0", "-3", "nan"])
def test_a_bad_lumi_option_exits_2(
    sample: Any, jet_tagger: Path, tmp_path: Path, lumi: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--fileset", str(sample.fileset["sparse"]), "--tagger", str(jet_tagger),
            "--lumi", lumi, "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 2
    assert "luminosity" in capsys.readouterr().err
