"""A real Triton Inference Server for the Triton tests: tools/triton_serve.py (PyTriton's
bundled tritonserver 2.51 + onnxruntime) in its own virtual environment, on free loopback
ports, one per test module, started by tools/triton_launch.py.

The environment is ``$E2E_TRITON_VENV`` (default ``<repo>/.triton-venv``), built with
``tools/make-triton-venv.sh`` when absent. A server that cannot be built or started fails
the tests with the reason: the Triton path is never skipped.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

MAX_BATCH = 8
"""The shared server's max_batch_size: small, so the sample's chunks span several requests."""


def _launcher() -> Any:
    """tools/triton_launch.py, loaded by path (tools/ is no package)."""
    path = Path(__file__).resolve().parents[2] / "tools" / "triton_launch.py"
    spec = importlib.util.spec_from_file_location("e2e_triton_launch", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


launch = _launcher()
_STOPPING: list[Any] = []


def start_server(
    models: Sequence[str], log: Path, *, max_batch_size: int = MAX_BATCH, **kw: Any
) -> Any:
    """A started server, or the test fails with the reason (never a skip)."""
    try:
        return launch.start_server(models, log, max_batch_size=max_batch_size, threads=1, **kw)
    except launch.TritonLaunchError as err:
        pytest.fail(str(err))


def rename_input(src: Path, dst: Path, new: str) -> Path:
    """A copy of an ONNX file whose first input is called ``new``: a served model that
    disagrees with the tagger's contract."""
    import onnx

    model = onnx.load(str(src))
    old = model.graph.input[0].name
    model.graph.input[0].name = new
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
    onnx.save(model, str(dst))
    return dst


def fix_batch(src: Path, dst: Path, n: int) -> Path:
    """A copy of an ONNX file whose inputs and outputs take exactly ``n`` objects."""
    import onnx

    model = onnx.load(str(src))
    for t in [*model.graph.input, *model.graph.output]:
        t.type.tensor_type.shape.dim[0].dim_value = n
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="module")
def triton(
    tmp_path_factory: pytest.TempPathFactory, jet_tagger: Path, eg_tagger: Path
) -> Iterator[Any]:
    """One server per test module: the jet tagger (max_batch_size 8), the e/gamma tagger
    without Triton batching (``@0``), the jet tagger with its input renamed, and the jet
    tagger taking exactly 4 objects per request (``@0``)."""
    tmp = tmp_path_factory.mktemp("triton")
    renamed = rename_input(jet_tagger, tmp / "renamed.onnx", "framez")
    fixed = fix_batch(jet_tagger, tmp / "fixed4.onnx", 4)
    models = [str(jet_tagger), f"{eg_tagger}@0", f"jet_renamed={renamed}", f"jet_fixed4={fixed}@0"]
    server = start_server(models, tmp / "server.log")
    try:
        yield server
    finally:
        server.terminate()  # the session's end waits for it: the next module need not
        _STOPPING.append(server)


@pytest.fixture(scope="module")
def sparse_triton(
    tmp_path_factory: pytest.TempPathFactory, jet_tagger: Path, eg_tagger: Path
) -> Iterator[Any]:
    """One server per test module on the sparse wire (tools/triton_serve.py --sparse):
    both taggers under their names, their ``<name>_frames`` probes answering the frames
    the server built, and the jet tagger as a plain ONNX model under ``dense_jet``."""
    tmp = tmp_path_factory.mktemp("triton-sparse")
    models = [
        *("--sparse", f"{jet_tagger.stem}={jet_tagger}"),
        *("--sparse", f"{eg_tagger.stem}={eg_tagger}"),
        "--sparse-frames",
        f"dense_jet={jet_tagger}",
    ]
    server = start_server(models, tmp / "server.log")
    try:
        yield server
    finally:
        server.terminate()
        _STOPPING.append(server)


@pytest.fixture(scope="session", autouse=True)
def _stop_servers() -> Iterator[None]:
    """Wait for the servers that modules stopped without waiting: none outlives the tests."""
    yield
    for server in _STOPPING:
        server.stop()


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(models, log)`` starts a server of the test's own; stopped after the test
    (stopping it is the test's own business when it must be gone at once)."""
    started: list[Any] = []

    def start(models: Sequence[str], log: Path, **kw: Any) -> Any:
        started.append(start_server(models, log, **kw))
        return started[-1]

    yield start
    for s in started:  # the session's end waits for them
        s.terminate()
        _STOPPING.append(s)
