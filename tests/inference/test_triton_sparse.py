"""The sparse Triton wire against a real server (tools/triton_serve.py --sparse, the
``sparse_triton`` fixture): the client sends hits, the server builds the frames with the
same frame code. Frames built there equal the local ones bit for bit; scores equal local
onnxruntime's; whole runs equal local runs; a server holding only the ONNX model is
refused with the way out; e2e-layout chunks are refused before any request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import uproot

from e2e_coffea.exceptions import BadInputError, ContractError, TritonError
from e2e_coffea.frames import build_eg_frames, build_jet_frames, select_objects
from e2e_coffea.frames.normalisation import Normalisation
from e2e_coffea.inference import Tagger, resolve_tagger
from e2e_coffea.inference.triton_sparse import SparseTritonBackend, sparse_inputs
from e2e_coffea.runner import RunResult, run

_TYPES = {"int16": "INT16", "int32": "INT32", "float32": "FP32"}


def _chunk(sample: Any, process: str) -> Any:
    with uproot.open(sample.files[(process, "sparse")]) as f:
        return f["Events"].arrays(library="ak")


def _ask(url: str, model: str, tensors: dict[str, np.ndarray], output: str) -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    try:
        inputs = []
        for name, x in tensors.items():
            t = grpcclient.InferInput(name, list(x.shape), _TYPES[x.dtype.name])
            t.set_data_from_numpy(x)
            inputs.append(t)
        return np.asarray(client.infer(model, inputs).as_numpy(output))
    finally:
        client.close()


@pytest.mark.parametrize(("tagger", "process"), [("jet_tagger", "tau"), ("eg_tagger", "qcd")])
def test_frames_built_on_the_server_equal_local_frames_bit_for_bit(
    sparse_triton: Any, sample: Any, tagger: str, process: str, request: pytest.FixtureRequest
) -> None:
    spec = resolve_tagger(request.getfixturevalue(tagger))
    c = spec.contract
    chunk = _chunk(sample, process)
    sel = select_objects(chunk, "sparse", spec.kind).selection
    assert len(sel) > 0
    tensors, _ = sparse_inputs(chunk, "sparse", c, spec.kind, sel)
    norm = Normalisation.from_dict(c.normalisation)
    build = build_jet_frames if spec.kind == "jet" else build_eg_frames
    sel_kw = {"jets" if spec.kind == "jet" else "objects": sel}
    local, _ = build(chunk, layout="sparse", channels=list(c.channels), norm=norm, **sel_kw)
    remote = _ask(sparse_triton.grpc, f"{spec.name}_frames", tensors, "frames")
    assert remote.dtype == np.float32
    assert local.any()
    assert remote.tobytes() == local.tobytes()
    wire = sum(x.nbytes for x in tensors.values())
    # the goal, for jets: >= 20x fewer bytes than dense frames (a 32x32 e/gamma crop is
    # ~10 % occupied: fewer bytes still, by less)
    assert wire * (20 if spec.kind == "jet" else 2) < local.nbytes


def test_tagger_scores_on_the_sparse_wire_equal_local_onnxruntime(
    sparse_triton: Any, sample: Any, jet_tagger: Path, eg_tagger: Path, events: Callable[..., Any]
) -> None:
    for path in (jet_tagger, eg_tagger):
        chunk = events(sample.files[("tau", "sparse")], "sparse", "tau")
        local = Tagger(path, device="cpu")(chunk)
        before = sparse_triton.requests(path.stem)
        remote_tagger = Tagger(path, triton=sparse_triton.grpc, triton_wire="sparse", batch_size=5)
        remote = remote_tagger(chunk)
        a, b = (
            ak.to_numpy(ak.fill_none(ak.flatten(x), np.nan)).astype(float) for x in (local, remote)
        )
        assert np.isfinite(a).sum() == np.isfinite(b).sum() > 0
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, equal_nan=True)
        n = remote_tagger.stats["scored"]
        assert sparse_triton.requests(path.stem) - before == -(-n // 5)  # requests of 5 objects


def test_a_server_holding_only_the_onnx_model_is_refused_with_the_way_out(
    sparse_triton: Any, sample: Any, jet_tagger: Path
) -> None:
    spec = resolve_tagger(jet_tagger)
    chunk = _chunk(sample, "tau")
    sel = select_objects(chunk, "sparse", "jet").selection
    tensors, _ = sparse_inputs(chunk, "sparse", spec.contract, "jet", sel)
    backend = SparseTritonBackend(sparse_triton.grpc, "dense_jet", spec.contract, retries=0)
    with pytest.raises(TritonError, match="--triton-wire dense"):
        backend.infer(tensors)


def test_e2e_layout_chunks_are_refused_before_any_request(
    sample: Any, jet_tagger: Path, events: Callable[..., Any]
) -> None:
    chunk = events(sample.files[("tau", "e2e")], "e2e", "tau")
    tagger = Tagger(jet_tagger, triton="127.0.0.1:1", triton_wire="sparse")
    with pytest.raises(BadInputError, match="sparse-layout chunks"):
        tagger(chunk)
    with pytest.raises(BadInputError, match="wire format 'frames'"):
        Tagger(jet_tagger, triton="127.0.0.1:1", triton_wire="frames")
    with pytest.raises(ContractError, match="point clouds"):  # at once, not at the first chunk
        Tagger("tau_particlegnn", triton="127.0.0.1:1", triton_wire="sparse")


def test_runs_on_the_sparse_wire_equal_local_runs(
    sparse_triton: Any, sample: Any, jet_tagger: Path, eg_tagger: Path, hists_equal: Any
) -> None:
    kw: dict[str, Any] = {"chunksize": 20, "device": "cpu", "progress": False}
    local: RunResult = run(sample.fileset["sparse"], [jet_tagger, eg_tagger], **kw)
    before = sparse_triton.requests(jet_tagger.stem)
    remote = run(sample.fileset["sparse"], [jet_tagger, eg_tagger], triton_url=sparse_triton.grpc,
                 triton_wire="sparse", **kw)  # fmt: skip
    assert remote.complete
    assert remote.output["cutflow"] == local.output["cutflow"]
    assert remote.output["metrics"]["objects"] == local.output["metrics"]["objects"] > 0
    assert hists_equal(local.output["hists"], remote.output["hists"])
    assert sparse_triton.requests(jet_tagger.stem) > before
    assert not remote.output["mean_images"]  # no frames on the client: said in docs/triton.md


def test_the_run_command_sends_hits_with_triton_wire_sparse(
    sparse_triton: Any, sample: Any, jet_tagger: Path, tmp_path: Path, capsys: Any
) -> None:
    """The dense wire to this server is refused (its model takes hits), naming the way
    out (--triton-wire sparse); with it the run completes."""
    from e2e_coffea.cli import main

    args = ["run", "--fileset", str(sample.fileset["sparse"]), "--tagger", str(jet_tagger),
            "--device", "cpu", "--triton", sparse_triton.grpc]  # fmt: skip
    before = sparse_triton.requests(jet_tagger.stem)
    assert main([*args, "--out", str(tmp_path / "dense")]) == 1
    err = capsys.readouterr().err
    assert "use --triton-wire sparse" in err
    assert len(err.strip().splitlines()) == 1
    assert main([*args, "--triton-wire", "sparse", "--out", str(tmp_path / "sparse")]) == 0
    assert (tmp_path / "sparse" / "summary.json").is_file()
    assert sparse_triton.requests(jet_tagger.stem) > before


def test_triton_repo_wire_sparse_serves_on_a_plain_tritonserver(
    serve: Any, sample: Any, jet_tagger: Path, tmp_path: Path, events: Callable[..., Any]
) -> None:
    """`triton-repo --wire sparse` writes Python-backend models (model.py builds the frames);
    the bundled tritonserver itself (no PyTriton) serves them, and the scores equal local
    onnxruntime's."""
    from e2e_coffea.cli import main

    repo = tmp_path / "repo"
    assert main(["triton-repo", str(jet_tagger), "--wire", "sparse", "--out", str(repo)]) == 0
    folder = repo / jet_tagger.stem
    assert 'backend: "python"' in (folder / "config.pbtxt").read_text()
    assert (folder / "1" / "model.py").is_file()
    server = serve(["--python-repo", str(repo)], tmp_path / "server.log")
    chunk = events(sample.files[("tau", "sparse")], "sparse", "tau")
    local = Tagger(jet_tagger, device="cpu")(chunk)
    remote = Tagger(jet_tagger, triton=server.grpc, triton_wire="sparse")(chunk)
    a, b = (ak.to_numpy(ak.fill_none(ak.flatten(x), np.nan)).astype(float) for x in (local, remote))
    assert np.isfinite(b).sum() == np.isfinite(a).sum() > 0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, equal_nan=True)
