"""Where a tagger's forward pass runs: a local onnxruntime session, or a Triton server.

A backend takes the model's inputs by name and returns its first output as float32
``(n, n_out)``. It is picklable (only the model path, device and options travel) and
finds its session in the worker's cache (:mod:`e2e_coffea.inference.sessions`), so a
chunk never pays for building one and a session is never pickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .sessions import get_session, run_cpu, run_cuda

__all__ = ["InferenceBackend", "OnnxBackend"]


class InferenceBackend(Protocol):
    """What :class:`~e2e_coffea.inference.Tagger` needs from a backend."""

    def infer(self, inputs: Mapping[str, Any]) -> Any:
        """The first output for ``inputs`` (numpy arrays, or CUDA tensors on a GPU)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OnnxBackend:
    """onnxruntime on the CPU or on CUDA (IOBinding on torch tensors, no host round trip).

    ``threads=None`` takes the Dask worker's thread count, else every usable core; a GPU
    session uses one host thread."""

    path: str
    device: str = "cpu"
    batch_size: int = 256
    fp16: bool = False
    threads: int | None = None

    def session(self) -> Any:
        threads = 1 if self.device != "cpu" else self.threads
        return get_session(self.path, self.device, threads, self.fp16)

    def infer(self, inputs: Mapping[str, Any]) -> Any:
        sess = self.session()
        first = next(iter(inputs.values()))
        if self.device != "cpu" and len(inputs) == 1:
            return run_cuda(sess, first, batch_size=self.batch_size)
        host = {k: _host(v) for k, v in inputs.items()}
        n = len(first)
        parts = [
            run_cpu(
                sess, {k: np.ascontiguousarray(v[a : a + self.batch_size]) for k, v in host.items()}
            )
            for a in range(0, n, self.batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)

    def close(self) -> None:
        """Sessions live in the worker's cache; nothing to close per backend."""


def _host(x: Any) -> npt.NDArray[np.float32]:
    if isinstance(x, np.ndarray):
        return x.astype(np.float32, copy=False)
    return np.asarray(x.float().cpu().numpy(), dtype=np.float32)
