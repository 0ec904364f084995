"""A real Triton Inference Server for the Triton tests: tools/triton_serve.py (PyTriton's
bundled tritonserver 2.51 + onnxruntime) in its own virtual environment, on free loopback
ports, one per test module.

The environment is ``$E2E_TRITON_VENV`` (default ``<repo>/.triton-venv``), built with
``tools/make-triton-venv.sh`` when absent. A server that cannot be built or started fails
the tests with the reason: the Triton path is never skipped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MAX_BATCH = 8
"""The shared server's max_batch_size: small, so the sample's chunks span several requests."""
START_TIMEOUT_S = 120.0


def triton_python() -> Path:
    """The Triton venv's interpreter, building the venv first when it is not there."""
    venv = Path(os.environ.get("E2E_TRITON_VENV", REPO / ".triton-venv"))
    script = REPO / "tools" / "make-triton-venv.sh"
    if not (venv / ".e2e-triton-venv").is_file():
        proc = subprocess.run(
            ["bash", str(script), str(venv)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            pytest.fail(f"cannot build the Triton venv {venv} with {script}:\n" + "\n".join(tail))
    return venv / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_STOPPING: list[TritonServer] = []


@dataclass
class TritonServer:
    """A running tools/triton_serve.py: ``grpc``/``http`` are ``host:port``."""

    proc: subprocess.Popen[str]
    grpc: str
    http: str
    log: Path
    lines: list[str] = field(default_factory=list)

    def url(self, protocol: str) -> str:
        return self.grpc if protocol == "grpc" else self.http

    def stop(self, wait: bool = True) -> None:
        """SIGTERM to triton_serve.py, which stops tritonserver and its stubs (~5 s);
        whatever of its process group is left after that is killed. ``wait=False``
        leaves the waiting to the end of the session."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if not wait:
                _STOPPING.append(self)
                return
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def requests(self, model: str) -> int:
        """Successful inference requests the server counted for ``model``."""
        import tritonclient.grpc as grpcclient

        client = grpcclient.InferenceServerClient(self.grpc)
        try:
            stats = client.get_inference_statistics(model, as_json=True)
        finally:
            client.close()
        success = stats["model_stats"][0]["inference_stats"]["success"]
        return int(success.get("count", 0))


def start_server(
    models: Sequence[str], log: Path, *, max_batch_size: int = MAX_BATCH
) -> TritonServer:
    """Start tools/triton_serve.py on free ports and wait for its ready line."""
    python = triton_python()
    http, grpc = free_port(), free_port()
    cmd = [
        str(python),
        str(REPO / "tools" / "triton_serve.py"),
        "--http-port",
        str(http),
        "--grpc-port",
        str(grpc),
        "--max-batch-size",
        str(max_batch_size),
        "--threads",
        "1",
        *models,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = log.open("w")
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=out,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: stop() reaches tritonserver too
    )
    server = TritonServer(proc, f"127.0.0.1:{grpc}", f"127.0.0.1:{http}", log)
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            server.lines.append(line.rstrip())
            if line.startswith("TRITON READY"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = "\n".join(log.read_text().splitlines()[-20:] + server.lines[-5:])
            pytest.fail(f"Triton server did not start ({' '.join(cmd)}):\n{tail}")
    return server


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
) -> Iterator[TritonServer]:
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
        server.stop(wait=False)


@pytest.fixture(scope="session", autouse=True)
def _stop_servers() -> Iterator[None]:
    """Wait for the servers that modules stopped without waiting: none outlives the tests."""
    yield
    for server in _STOPPING:
        server.stop()


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(models, log)`` starts a server of the test's own; stopped after the test."""
    started: list[TritonServer] = []

    def start(models: Sequence[str], log: Path, **kw: Any) -> TritonServer:
        started.append(start_server(models, log, **kw))
        return started[-1]

    yield start
    for s in started:
        s.stop()
