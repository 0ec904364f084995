"""The Triton backend against a small in-process KServe-v2 server (JSON encoding).

The stub serves each tagger under its name with onnxruntime, as a Triton model
repository of the same ONNX files would; the run must equal the local-session run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("tritonclient.http", reason="tritonclient is not installed")

from e2e_coffea.inference.taggers import resolve_tagger
from e2e_coffea.inference.triton import TritonError, run_triton
from e2e_coffea.runner import run


class _Handler(BaseHTTPRequestHandler):
    models: ClassVar[dict[str, Any]] = {}
    requests = 0

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")  # v2/models/<name>/infer
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        sess = self.models.get(parts[2]) if len(parts) == 4 and parts[3] == "infer" else None
        if sess is None:
            self._reply(404, {"error": f"unknown model {parts[2] if len(parts) > 2 else ''}"})
            return
        type(self).requests += 1
        inp = body["inputs"][0]
        x = np.asarray(inp["data"], dtype=np.float32).reshape(inp["shape"])
        y = sess.run(None, {inp["name"]: x})[0]
        name = sess.get_outputs()[0].name
        self._reply(
            200,
            {
                "model_name": parts[2],
                "outputs": [
                    {
                        "name": name,
                        "datatype": "FP32",
                        "shape": list(y.shape),
                        "data": y.ravel().tolist(),
                    }
                ],
            },
        )

    def _reply(self, code: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(jet_tagger: Path) -> Iterator[str]:
    spec = resolve_tagger(jet_tagger)
    _Handler.models = {
        spec.name: ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
    }
    _Handler.requests = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_triton_run_equals_local_sessions(server: str, sample: Any, jet_tagger: Path) -> None:
    local = run(sample.fileset["sparse"], [jet_tagger], chunksize=20, progress=False)
    remote = run(
        sample.fileset["sparse"], [jet_tagger], chunksize=20, progress=False, triton_url=server
    )
    assert _Handler.requests > 0
    a, b = local.output["hists"]["score"], remote.output["hists"]["score"]
    np.testing.assert_allclose(b.values(), a.values())
    assert remote.complete


def test_unknown_model_is_a_clear_error(server: str) -> None:
    with pytest.raises(TritonError, match="model 'nope'"):
        run_triton(server, "nope", np.zeros((1, 3, 125, 125), np.float32))


def test_unreachable_server_names_the_address() -> None:
    with pytest.raises(TritonError, match=r"127\.0\.0\.1:1"):
        run_triton("127.0.0.1:1", "jet_simplenet", np.zeros((1, 3, 125, 125), np.float32))
