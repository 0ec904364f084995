"""Bringing your own model without traps: the exporter's dependency, label names in frames
files, a batch-axis hint, and the normalisation attach records, said and checked."""

from __future__ import annotations

import tomllib
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
from e2e_coffea.frames.convert import convert_files
from e2e_coffea.frames.npz_stream import read_frames_metadata

REPO = Path(__file__).resolve().parents[2]


class Theirs(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 5, stride=5)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_onnxscript_is_installed_with_torch() -> None:
    """torch >= 2.9's default torch.onnx.export (dynamo) imports onnxscript."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip() for d in deps}
    assert {"torch", "onnxscript"} <= names


def test_torch_default_export_then_attach(tmp_path: Path) -> None:
    """The user's path: torch.onnx.export as its docs show it (dynamo, the default), a
    dynamic batch, then attach."""
    net = Theirs().eval()
    path = tmp_path / "theirs.onnx"
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own notices while it traces
        torch.onnx.export(
            net, (torch.rand(2, 3, 125, 125),), str(path), input_names=["image"],
            output_names=["logit"], dynamic_shapes=({0: batch},),
        )  # fmt: skip
    c = attach_contract(
        path, tmp_path / "ours.onnx", channels="qg", classes=["qcd", "tau"], kind="jet"
    )
    assert c.input_names == ("image",)


def test_a_fixed_batch_export_is_refused_with_a_batch_axis_hint(tmp_path: Path) -> None:
    path = tmp_path / "fixed.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Theirs().eval(), (torch.rand(1, 3, 125, 125),), str(path),
                          input_names=["image"], output_names=["logit"], dynamo=False)  # fmt: skip
    with pytest.raises(ContractError, match="fails on a zero batch") as err:
        attach_contract(
            path, tmp_path / "o.onnx", channels="qg", classes=["qcd", "tau"], kind="jet"
        )
    text = str(err.value)
    assert "'image' has batch size 1" in text
    assert "dynamic batch axis" in text
    assert "dynamic_axes={'<input>': {0: 'batch'}" in text


@pytest.fixture(scope="module")
def raw_frames(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("frames") / "tau.npz"
    convert_files([sample.files[("tau", "sparse")]], out, layout="sparse", channels="qg")
    return out


def test_frames_files_name_their_labels_and_normalisation(raw_frames: Path) -> None:
    meta = read_frames_metadata(raw_frames)
    assert meta["channels"] == ("track_pt", "ecal", "hcal")
    assert meta["label_names"][2] == "tau"
    assert meta["label_names"][0] == "quark"
    with np.load(raw_frames, allow_pickle=False) as z:
        labels = set(z["label"].tolist())
        names = dict(zip(z["label_ids"].tolist(), z["label_names"].tolist(), strict=True))
    assert labels <= set(names)  # every label in the file has its name beside it
    assert meta["normalisation"]["name"] == "none"  # `frames` writes raw values by default


def _export(path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Theirs().eval(), (torch.rand(2, 3, 125, 125),), str(path),
                          input_names=["image"], output_names=["logit"],
                          dynamic_axes={"image": {0: "n"}, "logit": {0: "n"}}, dynamo=False)  # fmt: skip
    return path


def test_attach_says_the_normalisation_and_checks_it_against_the_frames(
    raw_frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _export(tmp_path / "theirs.onnx")
    base = ["contract", "attach", str(model), "--preset", "qg", "--classes", "qcd,tau",
            "--kind", "jet"]  # fmt: skip
    # the preset's normalisation, recorded for a model trained on raw frames: refused
    bad = tmp_path / "bad.onnx"
    assert main([*base, "--frames", str(raw_frames), "--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "normalised with 'none'" in err
    assert "give --norm none" in err
    assert not bad.exists()
    good = tmp_path / "good.onnx"
    args = [*base, "--norm", "none", "--frames", str(raw_frames), "--out", str(good)]
    assert main(args) == 0
    assert (
        "normalisation recorded: none: the model gets raw frame values" in capsys.readouterr().out
    )
    assert load_contract(good).normalisation is None
    # without --frames: the recorded normalisation is printed, and how to check it
    assert main([*base, "--out", str(tmp_path / "preset.onnx")]) == 0
    out = capsys.readouterr().out
    assert "normalisation recorded: qg, applied by the tagger before the model: track_pt" in out
    assert "--frames FILE.npz checks this" in out
