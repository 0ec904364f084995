"""Contract: to/from metadata, and clear errors for missing, corrupt, foreign, damaged files."""

from __future__ import annotations

import warnings
from dataclasses import FrozenInstanceError
from pathlib import Path

import onnx
import pytest
import torch

from e2e_coffea.exceptions import ChannelError, ContractError
from e2e_coffea.export import MARKER_KEY, Contract, check_channels, export_onnx, load_contract
from e2e_coffea.models import create_model


def contract(**kw: object) -> Contract:
    base = dict(
        task="classification",
        model_name="simplenet",
        channels=("track_pt", "ecal", "hcal"),
        frame_size=(125, 125),
        class_names=("quark", "gluon"),
        channel_preset="qg",
        normalisation={"ecal": [0.0, 1.0]},
        model_kwargs={"in_channels": 3, "n_outputs": 1},
    )
    return Contract(**{**base, **kw})  # type: ignore[arg-type]


def test_metadata_round_trip() -> None:
    c = contract(
        scalar_inputs=("ieta", "iphi"),
        model_kwargs={"in_channels": 3, "n_outputs": 1, "n_scalars": 2, "maps": (16, 32)},
    )
    meta = c.to_metadata()
    assert all(k.startswith("e2e_coffea.") for k in meta)
    assert MARKER_KEY in meta
    back = Contract.from_metadata(meta)
    assert back == c
    assert back.model_kwargs["maps"] == [16, 32]
    assert back.n_channels == 3
    assert back.n_outputs == 1
    assert hash(back) == hash(c)
    assert len({c, back}) == 1
    with pytest.raises(FrozenInstanceError):
        c.task = "regression"  # type: ignore[misc]


def test_a_fatjet_b_tagging_contract_round_trips() -> None:
    c = contract(kind="fatjet", truth_labels="hadron_flavour")
    back = Contract.from_metadata(c.to_metadata())
    assert (back.kind, back.truth_labels) == ("fatjet", "hadron_flavour")
    old = {k: v for k, v in c.to_metadata().items() if not k.endswith("truth_labels")}
    assert Contract.from_metadata(old).truth_labels == "label"  # files written before it


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"task": "detection"}, "task 'detection'"),
        ({"channels": ()}, "channels is empty"),
        ({"channels": "ecal"}, "must be a list"),
        ({"channels": ("ecal", "ecal", "hcal")}, "duplicates"),
        ({"frame_size": (125,)}, "frame_size"),
        ({"frame_size": (125, -1)}, "frame_size"),
        ({"class_names": ("gluon",)}, ">= 2 class_names"),
        ({"class_names": ("a", "b", "c")}, "imply 3"),
        ({"task": "regression", "class_names": ()}, "one name per output"),
        ({"model_kwargs": {"in_channels": 5}}, "5 channel"),
        ({"scalar_inputs": ("ieta",)}, "0 scalar"),
        ({"metrics": {"auc": float("nan")}}, "not JSON-serialisable"),
        ({"input_kind": "graph"}, "input_kind"),
        ({"kind": "largejet"}, "kind 'largejet'"),
        ({"truth_labels": "parton"}, "truth_labels 'parton'"),
    ],
)
def test_invalid_contracts(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ContractError, match=match):
        contract(**kw)


def test_check_channels() -> None:
    c = contract()
    check_channels(c, 3)
    with pytest.raises(
        ChannelError,
        match=r"expects 3 channel\(s\) \['track_pt', 'ecal', 'hcal'\], got frames with 8",
    ):
        check_channels(c, 8)


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("simplenet", 3, width=4, hidden=8)
    c = contract(frame_size=(16, 16), model_kwargs={})
    return export_onnx(model, tmp_path / "good.onnx", c, (2, 3, 16, 16)).path


def test_load_contract(exported: Path) -> None:
    c = load_contract(exported)
    assert c.channel_preset == "qg"
    assert c.frame_size == (16, 16)


def test_missing_and_corrupt_files(tmp_path: Path, exported: Path) -> None:
    with pytest.raises(ContractError, match="no such model file"):
        load_contract(tmp_path / "absent.onnx")
    (tmp_path / "text.onnx").write_text("this is not a model\n" * 10)
    with pytest.raises(ContractError, match=r"not (a readable ONNX|an ONNX) model"):
        load_contract(tmp_path / "text.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ContractError, match="not an ONNX model"):
        load_contract(tmp_path / "empty.onnx")
    data = exported.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ContractError, match="not a readable ONNX model"):
        load_contract(tmp_path / "cut.onnx")


def test_foreign_onnx_file(tmp_path: Path) -> None:
    net = torch.nn.Linear(4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.zeros(1, 4),), str(tmp_path / "foreign.onnx"), dynamo=False)
    with pytest.raises(ContractError, match="not an e2e_coffea model"):
        load_contract(tmp_path / "foreign.onnx")


def _rewrite(src: Path, dst: Path, edit: dict[str, str | None]) -> Path:
    proto = onnx.load(str(src))
    props = {p.key: p.value for p in proto.metadata_props}
    for k, v in edit.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(dst))
    return dst


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"e2e_coffea.channels": None}, "'e2e_coffea.channels' is missing"),
        ({"e2e_coffea.task": "{not json"}, "not valid JSON"),
        ({"e2e_coffea.task": '"clustering"'}, "task 'clustering'"),
        ({"e2e_coffea.frame_size": "[16]"}, "frame_size"),
        ({MARKER_KEY: "99"}, "newer than this e2e_coffea reads"),
        ({MARKER_KEY: '"one"'}, "not a positive integer"),
    ],
)
def test_damaged_contracts(
    tmp_path: Path, exported: Path, edit: dict[str, str | None], match: str
) -> None:
    path = _rewrite(exported, tmp_path / "bad.onnx", edit)
    with pytest.raises(ContractError, match=match) as info:
        load_contract(path)
    assert str(path) in str(info.value)


def test_normalisation_object_or_json_text() -> None:
    class Norm:  # stands in for e2e_coffea.frames.Normalisation: only to_dict() matters here
        def to_dict(self) -> dict[str, object]:
            return {"ecal": {"scale": 2.0}}

    assert contract(normalisation=Norm()).normalisation == {"ecal": {"scale": 2.0}}
    assert contract(normalisation='{"a": 1}').normalisation == {"a": 1}
    with pytest.raises(ContractError, match="'normalisation': not valid JSON"):
        contract(normalisation="{bad")
    with pytest.raises(ContractError, match="channel_preset must be a string"):
        contract(channel_preset=3)


def test_real_frames_normalisation_round_trips() -> None:
    from e2e_coffea import frames

    norm = frames.load_norm("qg")
    c = contract(normalisation=norm)
    back = Contract.from_metadata(c.to_metadata())
    assert frames.Normalisation.from_dict(back.normalisation) == norm
