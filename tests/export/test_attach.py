"""Bring your own model: ``contract show``/``attach`` on ONNX files e2e-coffea did not write."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from e2e_coffea.cli import main
from e2e_coffea.exceptions import ContractError
from e2e_coffea.export import load_contract
from e2e_coffea.export.attach import attach_contract
from e2e_coffea.inference import Tagger


class Foreign(torch.nn.Module):
    """Someone else's model: any torch module, exported with plain torch.onnx."""

    def __init__(self, channels: int, outputs: int, softmax: bool = False) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 4, 5, stride=5)
        self.head = torch.nn.Linear(4, outputs)
        self.softmax = softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.conv(x).mean(dim=(2, 3)))
        return torch.softmax(y, dim=1) if self.softmax else y


def _foreign(
    path: Path, channels: int = 3, outputs: int = 1, softmax: bool = False, size: int = 125
) -> Path:
    torch.manual_seed(1)
    net = Foreign(channels, outputs, softmax).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(2, channels, size, size),), str(path), input_names=["image"],
                          output_names=["logit"], dynamic_axes={"image": {0: "n"}, "logit": {0: "n"}},
                          dynamo=False)  # fmt: skip
    return path


def test_show_says_what_is_missing(tmp_path: Path, capsys: Any) -> None:
    model = _foreign(tmp_path / "theirs.onnx")
    assert main(["contract", "show", str(model)]) == 1
    out = capsys.readouterr().out
    assert "input  image: (n, 3, 125, 125) float" in out
    assert "no e2e-coffea contract" in out
    assert "e2e-coffea contract attach" in out


def test_attach_then_use_it_as_a_tagger(sample: Any, tmp_path: Path, capsys: Any) -> None:
    model = _foreign(tmp_path / "theirs.onnx")
    ours = tmp_path / "ours.onnx"
    args = ["contract", "attach", str(model), "--preset", "qg", "--classes", "qcd,tau", "--kind", "jet",
            "--out", str(ours)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert f"use it as --tagger {ours}" in capsys.readouterr().out
    c = load_contract(ours)
    assert (c.channels, c.class_names, c.input_names, c.output_names) == (
        ("track_pt", "ecal", "hcal"),
        ("qcd", "tau"),
        ("image",),
        ("logit",),
    )
    assert c.provenance["attached_from"] == "theirs.onnx"
    assert main(["contract", "show", str(ours), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["contract"]["channel_preset"] == "qg"
    # works wherever a shipped name does: the tagger API and the main job
    import uproot

    events = uproot.open(sample.files[("tau", "sparse")])["Events"].arrays()
    scores = Tagger(ours, device="cpu")(events)
    assert 0 < np.count_nonzero(~np.isnan(np.asarray(_flat(scores)))) <= len(_flat(scores))
    run_args = ["run", "--fileset", str(sample.fileset["sparse"]), "--tagger", str(ours), "--device", "cpu",
                "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(run_args) == 0
    assert (
        json.loads((tmp_path / "run" / "summary.json").read_text())["taggers"]["ours"]["auc"]
        is not None
    )


def _flat(scores: Any) -> list[float]:
    import awkward as ak

    return ak.to_list(ak.fill_none(ak.flatten(scores), np.nan))


def test_a_softmax_model_keeps_its_probabilities(tmp_path: Path) -> None:
    model = _foreign(tmp_path / "theirs.onnx", outputs=2, softmax=True)
    c = attach_contract(model, tmp_path / "ours.onnx", channels="qg", classes=("qcd", "tau"), kind="jet",
                        outputs="probabilities")  # fmt: skip
    assert c.output_kind == "probabilities"
    from e2e_coffea.inference.outputs import model_outputs

    p = model_outputs(np.array([[0.25, 0.75]], np.float32), c)
    assert p.tolist() == [0.75]  # no second softmax


def test_channel_mismatch_names_both_shapes(tmp_path: Path, capsys: Any) -> None:
    model = _foreign(tmp_path / "theirs.onnx", channels=3)
    args = ["contract", "attach", str(model), "--preset", "tau13", "--classes", "qcd,tau", "--kind", "jet",
            "--out", str(tmp_path / "x.onnx")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "declared (n, 3, 125, 125) in the graph but the contract implies (batch, 13, 125, 125)"
        in err
    )
    assert not (tmp_path / "x.onnx").exists()


def test_output_mismatch_names_both_shapes(tmp_path: Path) -> None:
    model = _foreign(tmp_path / "theirs.onnx", outputs=4)
    with pytest.raises(ContractError, match=r"output 'logit' is declared \(n, 4\).*imply 3 output"):
        attach_contract(
            model,
            tmp_path / "x.onnx",
            channels="qg",
            classes=("a", "b", "c"),
            kind="jet",
            norm="none",
        )


def test_frame_size_and_norm_options(tmp_path: Path, capsys: Any) -> None:
    model = _foreign(tmp_path / "theirs.onnx", size=40)
    base = ["contract", "attach", str(model), "--channels", "ecal,hcal,track_pt", "--classes", "qcd,tau",
            "--kind", "jet", "--out", str(tmp_path / "x.onnx")]  # fmt: skip
    assert main([*base, "--norm", "none"]) == 2  # 125x125 by default: the graph says 40x40
    assert "declared (n, 3, 40, 40)" in capsys.readouterr().err
    assert main([*base, "--frame-size", "40,40"]) == 2  # a channel list has no preset normalisation
    assert "--norm preset needs --preset" in capsys.readouterr().err
    assert main([*base, "--frame-size", "40,40", "--norm", "none"]) == 0
    assert load_contract(tmp_path / "x.onnx").frame_size == (40, 40)


def test_a_graph_that_disagrees_with_its_contract_is_refused_when_resolved(
    tmp_path: Path, capsys: Any
) -> None:
    """A 3-channel graph carrying a 13-channel contract (written by hand, past every check):
    refused when the tagger is resolved, naming both shapes, before any chunk runs."""
    import onnx

    from e2e_coffea.export import Contract
    from e2e_coffea.frames import load_norm, resolve_channels
    from e2e_coffea.inference import resolve_tagger

    model = onnx.load(str(_foreign(tmp_path / "theirs.onnx", channels=3)))
    c = Contract(task="classification", model_name="theirs", frame_size=(125, 125), class_names=("qcd", "tau"),
                 channels=tuple(s.name for s in resolve_channels("tau13", frame="jet")), channel_preset="tau13",
                 normalisation=load_norm("tau13").to_dict(), input_names=("image",), output_names=("logit",))  # fmt: skip
    for key, value in c.to_metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(
        ContractError,
        match=r"input 'image' is declared \(n, 3, 125, 125\) in the graph but the contract implies \(batch, 13, 125, 125\)",
    ):
        resolve_tagger(bad)
    assert (
        main(
            [
                "run",
                "--fileset",
                str(tmp_path / "none.json"),
                "--tagger",
                str(bad),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "declared (n, 3, 125, 125)" in capsys.readouterr().err


def test_record_metrics_adds_to_the_contract_and_keeps_the_graph(
    jet_tagger: Path, tmp_path: Path
) -> None:
    import onnx

    from e2e_coffea.export import onnx_outputs
    from e2e_coffea.export.attach import record_metrics

    path = tmp_path / "copy.onnx"
    shutil.copy(jet_tagger, path)
    before = load_contract(path)
    record_metrics(path, {"heldout_auc": 0.9, "heldout_sample": "seed 2"})
    after = load_contract(path)
    assert after.metrics == {**before.metrics, "heldout_auc": 0.9, "heldout_sample": "seed 2"}
    assert after == dataclasses.replace(before, metrics=after.metrics)
    assert onnx.load(str(path)).graph == onnx.load(str(jet_tagger)).graph
    x = np.random.default_rng(0).random((2, 3, 125, 125), dtype=np.float32)
    np.testing.assert_array_equal(onnx_outputs(path, x), onnx_outputs(jet_tagger, x))
