"""``e2e-coffea triton-repo`` writes a model repository that a real Triton server serves
as its config.pbtxt says (tools/triton_serve.py --repo holds requests to those dims),
and that the workers' backend accepts against each tagger's contract."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.inference import resolve_tagger
from e2e_coffea.inference.triton import TritonBackend
from e2e_coffea.inference.triton_repo import model_config

SHIPPED = "eg_simplenet"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, jet_tagger: Path) -> Path:
    out = tmp_path_factory.mktemp("repo") / "models"
    args = ["triton-repo", SHIPPED, str(jet_tagger), "--out", str(out), "--max-batch-size", "5"]
    assert main(args) == 0
    return out


@pytest.mark.parametrize("tagger", [SHIPPED, "jet"])
def test_each_tagger_gets_its_file_and_a_config_of_its_contract(
    repo: Path, jet_tagger: Path, tagger: str
) -> None:
    spec = resolve_tagger(jet_tagger if tagger == "jet" else tagger)
    folder = repo / spec.name
    assert (folder / "1" / "model.onnx").read_bytes() == Path(spec.path).read_bytes()
    c = text_format.Parse((folder / "config.pbtxt").read_text(), pb.ModelConfig())
    assert c.name == spec.name
    assert c.platform == "onnxruntime_onnx"
    assert c.max_batch_size == 5
    assert c.HasField("dynamic_batching")
    assert not c.instance_group  # the server's default placement: nothing else was written
    k = spec.contract
    # written out by hand: the contract's frames (C, H, W) and one logit, batch axis Triton's
    assert [(t.name, t.data_type, list(t.dims)) for t in c.input] == [
        ("frames", pb.TYPE_FP32, [k.n_channels, *k.frame_size])
    ]
    assert [(t.name, t.data_type, list(t.dims)) for t in c.output] == [
        ("outputs", pb.TYPE_FP32, [1])
    ]


def test_served_repository_scores_as_local_onnxruntime(
    serve: Any, repo: Path, jet_tagger: Path, tmp_path: Path
) -> None:
    server = serve(["--repo", str(repo)], tmp_path / "server.log")
    rng = np.random.default_rng(5)
    for spec in (resolve_tagger(SHIPPED), resolve_tagger(jet_tagger)):
        k = spec.contract
        x = rng.exponential(1.0, (12, k.n_channels, *k.frame_size)).astype(np.float32)
        backend = TritonBackend(server.grpc, spec.name, k)
        assert backend.model_info().max_batch_size == 5  # the config's, not the default
        before = server.requests(spec.name)
        got = backend.infer({"frames": x})
        sess = ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(got, sess.run(None, {"frames": x})[0], rtol=1e-5, atol=1e-4)
        assert server.requests(spec.name, settle=before + 3) - before == 3  # 5 + 5 + 2
        backend.close()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["nope"], "unknown tagger 'nope'"),
        ([SHIPPED, SHIPPED], "tagger names must be unique"),
        ([SHIPPED, "--max-batch-size", "0"], "max_batch_size must be >= 1"),
        ([SHIPPED, "--max-batch-size", "99999999999999999999"], "Triton's field is int32"),
        ([SHIPPED, "--max-batch-size", str(2**31)], f"got {2**31}"),
        ([str(Path(__file__))], "not a readable ONNX model"),
    ],
)
def test_bad_requests_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], match: str
) -> None:
    out = tmp_path / "repo"
    assert main(["triton-repo", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert match in err
    assert err.count("\n") == 1
    assert not out.exists()  # nothing half-written


def test_existing_repository_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repo"
    (out / "other").mkdir(parents=True)
    assert main(["triton-repo", SHIPPED, "--out", str(out)]) == 2
    assert f"{out} exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["other"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["triton-repo", SHIPPED, "--out", str(empty)]) == 0
    assert (empty / SHIPPED / "1" / "model.onnx").is_file()


INJECTED = 'frames" dims: [1] } instance_group [ { count: 512 kind: KIND_CPU } ] input { name: "x'


def test_a_model_author_cannot_write_the_config(
    jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = resolve_tagger(jet_tagger)
    hostile = dataclasses.replace(
        spec, contract=dataclasses.replace(spec.contract, input_names=(INJECTED,))
    )
    with pytest.raises(BadInputError, match="is not allowed in a Triton repository") as err:
        model_config(hostile)
    assert "\n" not in str(err.value)
    for name in ('out"put', "a b", "é"):
        bad_out = dataclasses.replace(
            spec, contract=dataclasses.replace(spec.contract, output_names=(name,))
        )
        with pytest.raises(BadInputError, match="tensor name of"):
            model_config(bad_out)
    # the same through the CLI, and a quote in the file (hence model) name
    quoted = tmp_path / 'je"t.onnx'
    shutil.copy(jet_tagger, quoted)
    out = tmp_path / "repo"
    assert main(["triton-repo", str(quoted), "--out", str(out)]) == 2
    err_text = capsys.readouterr().err
    assert "model name 'je\"t'" in err_text
    assert err_text.count("\n") == 1
    assert not out.exists()
    # what is written parses back to the very message, field for field
    text = model_config(spec, 7)
    c = text_format.Parse(text, pb.ModelConfig())
    want = pb.ModelConfig(name=spec.name, platform="onnxruntime_onnx", max_batch_size=7)
    want.input.add(name="frames", data_type=pb.TYPE_FP32,
                   dims=[spec.contract.n_channels, *spec.contract.frame_size])  # fmt: skip
    want.output.add(name="outputs", data_type=pb.TYPE_FP32, dims=[1])
    want.dynamic_batching.SetInParent()
    assert c == want
