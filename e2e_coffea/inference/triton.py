"""Triton inference-server backend: same contract, same outputs as the local sessions.

Facilities that run an inference server (KServe v2 protocol, e.g. NVIDIA Triton) keep
the models there; workers send frames and get logits back. The server must serve each
tagger under its tagger name with the ONNX file's input and output names. Requests use
the protocol's JSON encoding, which any v2 server accepts. The ``triton`` extra installs
tritonclient with both http and grpc: coffea's ``ml_tools`` imports the grpc client
whenever tritonclient is present, so an http-only install would break it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import E2EError

__all__ = ["TritonError", "run_triton"]


class TritonError(E2EError, RuntimeError):
    """The inference server could not be reached or refused the request."""


_CLIENTS: dict[str, Any] = {}


def _client(url: str) -> Any:
    try:
        import tritonclient.http as httpclient
    except ImportError as err:  # pragma: no cover - optional dependency
        msg = "the Triton backend needs tritonclient: pip install 'e2e-coffea[triton]'"
        raise ImportError(msg) from err
    if url not in _CLIENTS:
        _CLIENTS[url] = httpclient.InferenceServerClient(
            url=url, connection_timeout=10.0, network_timeout=60.0
        )
    return _CLIENTS[url]


def run_triton(
    url: str,
    model: str,
    frames: npt.NDArray[np.float32],
    *,
    input_name: str = "frames",
    output_name: str = "outputs",
    batch_size: int = 256,
) -> npt.NDArray[np.float32]:
    """Logits of ``model`` on ``frames`` from the server at ``url`` (host:port)."""
    import tritonclient.http as httpclient

    client = _client(url)
    parts = []
    for start in range(0, len(frames), batch_size):
        x = np.ascontiguousarray(frames[start : start + batch_size], dtype=np.float32)
        inp = httpclient.InferInput(input_name, list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=False)
        out = httpclient.InferRequestedOutput(output_name, binary_data=False)
        try:
            res = client.infer(model, [inp], outputs=[out])
        except Exception as err:  # tritonclient raises its own and socket errors
            msg = f"Triton server {url}, model {model!r}: {type(err).__name__}: {err}"
            raise TritonError(msg) from err
        parts.append(np.asarray(res.as_numpy(output_name), dtype=np.float32))
    if not parts:
        return np.zeros((0, 1), np.float32)
    return np.concatenate(parts)
