"""Where a tagger's forward pass runs: a local onnxruntime session, or a Triton server.

A backend takes the model's inputs by name and returns its first output as float32
``(n, n_out)``. It is picklable (only the model path, device and options travel) and
finds its session in the worker's cache (:mod:`e2e_coffea.inference.sessions`), so a
chunk never pays for building one and a session is never pickled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..export.contract import Contract
from .batching import run_in_batches
from .sessions import get_session, run_cpu

__all__ = ["InferenceBackend", "OnnxBackend", "triton_backend"]


class InferenceBackend(Protocol):
    """What :class:`~e2e_coffea.inference.Tagger` needs from a backend."""

    def infer(self, inputs: Mapping[str, Any]) -> Any:
        """The first output for ``inputs`` (numpy arrays, or CUDA tensors on a GPU)."""
        ...

    def close(self) -> None: ...


@dataclass
class OnnxBackend:
    """onnxruntime on the CPU or on CUDA (IOBinding on torch tensors, no host round trip;
    see :mod:`e2e_coffea.inference.cuda` for the stream ordering).

    ``threads=None`` takes the Dask worker's thread count, else every usable core; a GPU
    session uses one host thread. ``tensorrt``: a TensorRT engine cache folder (GPU only).
    Out of memory halves ``batch_size`` for this and later calls and counts
    ``stats["oom_halvings"]`` (the processor reports it in its metrics). ``sha256``: the
    file's content hash; the session is built only from bytes that match it."""

    path: str
    device: str = "cpu"
    batch_size: int = 256
    fp16: bool = False
    threads: int | None = None
    tensorrt: str | None = None
    stats: Counter[str] = field(default_factory=Counter, compare=False, repr=False)
    sha256: str = ""

    def session(self) -> Any:
        threads = 1 if self.device != "cpu" else self.threads
        return get_session(
            self.path, self.device, threads, self.fp16, self.tensorrt, sha256=self.sha256
        )

    def infer(self, inputs: Mapping[str, Any]) -> Any:
        sess = self.session()
        first = next(iter(inputs.values()))
        if self.device != "cpu" and all(_is_cuda(v) for v in inputs.values()):
            from .cuda import run_cuda

            return run_cuda(sess, inputs, batch_size=self.batch_size, on_halve=self._halved)
        host = {k: _host(v) for k, v in inputs.items()}
        n = len(first)
        parts: dict[int, npt.NDArray[np.float32]] = {}

        def one(start: int, stop: int, size: int) -> None:
            batch = {k: np.ascontiguousarray(v[start:stop]) for k, v in host.items()}
            parts[start] = run_cpu(sess, batch)

        run_in_batches(n, self.batch_size, one, on_halve=self._halved)
        ordered = [parts[k] for k in sorted(parts)]
        return np.concatenate(ordered) if ordered else np.zeros((0, 1), np.float32)

    def _halved(self, size: int) -> None:
        """Out of memory: later batches start from the size that fitted."""
        self.batch_size = size
        self.stats["oom_halvings"] += 1

    def close(self) -> None:
        """Sessions live in the worker's cache; nothing to close per backend."""


def _is_cuda(x: Any) -> bool:
    return getattr(getattr(x, "device", None), "type", None) == "cuda"


def _host(x: Any) -> npt.NDArray[np.float32]:
    if isinstance(x, np.ndarray):
        return x.astype(np.float32, copy=False)
    return np.asarray(x.float().cpu().numpy(), dtype=np.float32)


def triton_endpoint(url: str) -> tuple[Literal["grpc", "http"], str]:
    """(protocol, host:port) of ``host:port``, ``grpc://host:port`` or ``http://host:port``;
    schemes are case-insensitive (RFC 3986), and any other one is refused."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower() if sep else "grpc"
    if scheme not in ("grpc", "http"):
        msg = f"Triton url {url!r}: scheme {scheme}:// is neither grpc:// nor http://"
        raise BadInputError(msg)
    return ("http" if scheme == "http" else "grpc"), (rest if sep else url)


def triton_backend(
    url: str, model: str, contract: Contract, batch_size: int, wire: str = "dense"
) -> InferenceBackend:
    """The Triton client backend (:mod:`e2e_coffea.inference.triton`, or
    :mod:`.triton_sparse` on the sparse wire): ``host:port`` or ``grpc://host:port`` is
    the server's gRPC endpoint, ``http://host:port`` its HTTP one (binary tensors)."""
    from .triton import TritonBackend
    from .triton_sparse import SparseTritonBackend

    protocol, address = triton_endpoint(url)
    cls = SparseTritonBackend if wire == "sparse" else TritonBackend
    return cls(address, model, contract, protocol=protocol, batch_size=batch_size)
