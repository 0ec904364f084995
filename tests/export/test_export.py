"""export_onnx: every model round-trips through onnxruntime; the contract travels in the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from e2e_coffea.exceptions import BadInputError, ChannelError, ContractError
from e2e_coffea.export import (
    CONTRACT_VERSION,
    MARKER_KEY,
    Contract,
    export_onnx,
    load_contract,
    onnx_outputs,
)
from e2e_coffea.models import create_model, list_models, model_entry

FAST = {"vit": {"depth": 1}, "vit_tiny": {"depth": 1}, "vit_small": {"depth": 1}}
NORM = {"version": 1, "channels": {"ecal": {"scale": 0.02, "clip": 500.0}}}  # opaque here


def setup(
    name: str, n_scalars: int = 0, size: int = 32
) -> tuple[torch.nn.Module, Contract, tuple[int, ...]]:
    torch.manual_seed(0)
    model = create_model(name, 2, 1, n_scalars=n_scalars, **FAST.get(name, {}))
    if name.startswith("vit"):
        model = create_model(name, 2, 1, n_scalars=n_scalars, img_size=size, **FAST[name])
    points = model_entry(name).input_kind == "points"
    shape = (2, 24, 2) if points else (2, 2, size, size)
    contract = Contract(
        task="classification",
        model_name=name,
        channels=("ecal", "hcal"),
        frame_size=shape[1:3] if points else shape[2:],
        class_names=("quark", "gluon"),
        channel_preset=None,
        normalisation=NORM,
        scalar_inputs=("ieta", "iphi")[:n_scalars],
        input_kind="points" if points else "image",
        provenance={"processes": ["qcd_qq", "qcd_gg"], "seeds": [1, 2], "counts": {"train": 800}},
        metrics={"val_auc": 0.81},
    )
    return model, contract, shape


@pytest.mark.parametrize("name", list_models())
def test_round_trip_matches_torch(name: str, tmp_path: Path) -> None:
    model, contract, shape = setup(name, n_scalars=2)
    report = export_onnx(model, tmp_path / f"{name}.onnx", contract, shape)
    assert report.max_abs_diff < 1e-4
    # our own check at a third batch size, with inputs that differ from export's
    g = torch.Generator().manual_seed(9)
    x, s = torch.rand(5, *shape[1:], generator=g), torch.randn(5, 2, generator=g)
    with torch.no_grad():
        want = model.eval()(x, s).numpy()
    got = onnx_outputs(report.path, x.numpy(), s.numpy())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert np.ptp(want) > 0  # not a constant model: the comparison means something
    assert load_contract(report.path) == report.contract


def test_resnet15_at_jet_size_is_small(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("resnet15", 2, n_scalars=2)
    contract = Contract(
        task="classification",
        model_name="resnet15",
        channels=("ecal", "hcal"),
        frame_size=(125, 125),
        class_names=("quark", "gluon"),
        scalar_inputs=("ieta", "iphi"),
    )
    report = export_onnx(model, tmp_path / "r.onnx", contract, (2, 2, 125, 125))
    assert report.n_bytes < 2_000_000
    assert report.max_abs_diff < 1e-4


def test_metadata_contents(tmp_path: Path) -> None:
    model, contract, shape = setup("simplenet", n_scalars=2)
    path = export_onnx(model, tmp_path / "m.onnx", contract, shape).path
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props[MARKER_KEY]) == CONTRACT_VERSION
    meta = {k.removeprefix("e2e_coffea."): json.loads(v) for k, v in props.items()}
    assert meta["task"] == "classification"
    assert meta["class_names"] == ["quark", "gluon"]
    assert meta["channels"] == ["ecal", "hcal"]
    assert meta["frame_size"] == [32, 32]
    assert meta["crop"].startswith("e2e-jet-125")
    assert meta["normalisation"] == NORM
    assert meta["scalar_inputs"] == ["ieta", "iphi"]
    assert meta["model_name"] == "simplenet"
    assert meta["model_kwargs"] == {"in_channels": 2, "n_outputs": 1, "n_scalars": 2}
    assert meta["input_names"] == ["frames", "scalars"]
    assert meta["output_names"] == ["outputs"]
    assert meta["provenance"]["counts"] == {"train": 800}
    assert meta["metrics"] == {"val_auc": 0.81}
    # graph inputs and the dynamic batch axis
    ins = {i.name: i for i in proto.graph.input}
    assert list(ins) == ["frames", "scalars"]
    assert ins["frames"].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in ins["frames"].type.tensor_type.shape.dim[1:]] == [2, 32, 32]
    # the contract rebuilds the same architecture
    kw = load_contract(path).model_kwargs
    rebuilt = create_model(meta["model_name"], **kw)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(
        p.numel() for p in model.parameters()
    )


def test_contract_mismatches_are_refused(tmp_path: Path) -> None:
    model, contract, shape = setup("simplenet")
    dest = tmp_path / "x.onnx"
    with pytest.raises(ChannelError, match="expects 2 channel"):
        export_onnx(model, dest, contract, (2, 3, 32, 32))
    with pytest.raises(ContractError, match="frame_size"):
        export_onnx(model, dest, contract, (2, 2, 16, 16))
    from dataclasses import replace

    with pytest.raises(ContractError, match="model_name is 'simplenet'"):
        export_onnx(model, dest, replace(contract, model_name="resnet15"), shape)
    with pytest.raises(ContractError, match="scalar input"):
        export_onnx(model, dest, replace(contract, scalar_inputs=("ieta",)), shape)
    with pytest.raises(ContractError, match="imply 3"):
        export_onnx(model, dest, replace(contract, class_names=("a", "b", "c")), shape)
    with pytest.raises(BadInputError, match="example_input_shape"):
        export_onnx(model, dest, contract, (2, 32, 32))
    vit, vc, _ = setup("vit", size=32)
    with pytest.raises(ContractError, match="img_size"):
        export_onnx(vit, dest, replace(vc, frame_size=(40, 40)), (2, 2, 40, 40))
    assert not dest.exists()


def test_disagreement_leaves_no_file(tmp_path: Path) -> None:
    model, contract, shape = setup("simplenet")
    dest = tmp_path / "x.onnx"
    with pytest.raises(ContractError, match=r"disagree.*not written"):
        export_onnx(model, dest, contract, shape, atol=-1.0)  # impossible tolerance
    assert list(tmp_path.iterdir()) == []


def test_export_keeps_callers_model(tmp_path: Path) -> None:
    model, contract, shape = setup("simplenet")
    model.train()
    export_onnx(model, tmp_path / "x.onnx", contract, shape)
    assert model.training
    assert next(model.parameters()).device.type == "cpu"
