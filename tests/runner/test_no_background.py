"""A ROC needs a background sample that was asked for: a signal-only fileset gets no AUC
(its signal sample's unmatched jets are not a background), says why, and exits as an
incomplete result does, while its score histograms are still written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import MissingSampleError
from e2e_coffea.hists.summary import roc_for_tagger, summarize
from e2e_coffea.inference import resolve_tagger
from e2e_coffea.processor.serialize import load_output
from e2e_coffea.runner import run


@pytest.fixture(scope="module")
def tau_only(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fs = tmp_path_factory.mktemp("tau-only") / "fileset.json"
    fs.write_text(json.dumps({"tau": [str(sample.files[("tau", "sparse")])]}))
    return fs


def test_signal_only_output_has_no_roc(tau_only: Path, jet_tagger: Path) -> None:
    spec = resolve_tagger(jet_tagger)
    result = run(tau_only, [spec], chunksize=40, device="cpu", progress=False)
    assert result.complete
    hists = result.output["hists"]
    labels = set(hists["score"][{"tagger": spec.name, "dataset": "tau"}].axes["label"])
    assert {"tau"} < labels  # the tau sample's unmatched jets are there, yet no background
    with pytest.raises(MissingSampleError, match="no background sample") as info:
        roc_for_tagger(hists, spec.name, spec.contract.class_names)
    assert info.value.which == "background"
    summary = summarize(result, [spec])
    entry = summary["taggers"][spec.name]
    assert entry["auc"] is None
    assert entry["missing_sample"] == "background"
    assert "no background sample" in entry["note"]
    assert summary["incomplete_taggers"] == {spec.name: entry["note"]}


def test_run_command_without_background_exits_as_incomplete(
    tau_only: Path, jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["run", "--fileset", str(tau_only), "--tagger", str(jet_tagger), "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()[-1:]
    assert "incomplete result" in line
    assert "no background sample" in line
    assert f"{resolve_tagger(jet_tagger).name}: no AUC: no background sample" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["incomplete_taggers"]
    assert not (out / "roc.png").exists()
    scores = load_output(out)["hists"]["score"]  # the user still gets the score histograms
    assert list(scores.axes["dataset"]) == ["tau"]
    assert scores.sum(flow=True).value > 0
    assert main([*argv, "--allow-incomplete"]) == 0, capsys.readouterr().err


def test_a_background_sample_still_gives_an_auc(clean: Any, jet_tagger: Path) -> None:
    spec = resolve_tagger(jet_tagger)
    entry = summarize(clean, [spec])["taggers"][spec.name]
    assert entry["auc"] is not None
    assert entry["background"] == ["qcd"]
    assert "missing_sample" not in entry
