"""One onnxruntime session per model per worker process, never pickled, never rebuilt per chunk.

coffea's ``ml_tools`` creates its model lazily on the worker (right) but again for every
chunk (slow). Here a process-wide cache keyed by (model, device, threads) serves the
Iterative and Futures executors, and :class:`SessionCachePlugin` warms the same cache on
Dask workers when they start, so the first chunk does not pay for it either.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from distributed import WorkerPlugin

from ..exceptions import ContractError, E2EError

__all__ = [
    "DeviceFallbackError",
    "SessionCachePlugin",
    "SessionKey",
    "cached_sessions",
    "clear_cache",
    "get_session",
    "resolve_device",
    "run_cpu",
    "run_cuda",
]


class DeviceFallbackError(E2EError, RuntimeError):
    """A GPU session was requested but onnxruntime would have run it on the CPU."""


@dataclass(frozen=True)
class SessionKey:
    """What makes two sessions interchangeable."""

    path: str
    device: str = "cpu"
    threads: int = 1
    fp16: bool = False


_CACHE: dict[SessionKey, Any] = {}
_LOCK = threading.Lock()


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = (
            "onnxruntime is not installed: pip install 'e2e-coffea[cpu]' (or '[gpu]' on GPU nodes)"
        )
        raise ImportError(msg) from err
    return ort


def _build(key: SessionKey) -> Any:
    ort = _import_ort()
    if not Path(key.path).is_file():
        msg = f"model file {key.path} does not exist"
        raise ContractError(msg)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = key.threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if key.device == "cpu":
        providers: list[Any] = ["CPUExecutionProvider"]
    elif key.device.startswith("cuda"):
        dev_id = int(key.device.split(":")[1]) if ":" in key.device else 0
        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            msg = (
                f"device {key.device!r} requested but this onnxruntime has no CUDA provider "
                f"(available: {available}); install e2e-coffea[gpu] (onnxruntime-gpu) on GPU workers"
            )
            raise DeviceFallbackError(msg)
        providers = [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
    else:
        msg = f"unknown device {key.device!r}; expected 'cpu', 'cuda' or 'cuda:N'"
        raise ContractError(msg)
    try:
        model = _fp16_model(key.path) if key.fp16 else key.path
        sess = ort.InferenceSession(model, sess_options=opts, providers=providers)
    except Exception as err:
        msg = f"onnxruntime cannot load {key.path}: {type(err).__name__}: {err}"
        raise ContractError(msg) from err
    if key.device != "cpu" and sess.get_providers()[0] != "CUDAExecutionProvider":
        # onnxruntime falls back silently when CUDA/cuDNN libraries fail to load
        msg = (
            f"{key.path}: asked for {key.device} but onnxruntime runs it on "
            f"{sess.get_providers()}; check that CUDA and cuDNN libraries load on this worker"
        )
        raise DeviceFallbackError(msg)
    return sess


def _fp16_model(path: str) -> bytes:
    """Weights and arithmetic in float16, inputs and outputs kept float32: IOBinding and the
    frames stay as they are, and tensor cores do the work on a GPU."""
    import onnx
    from onnxruntime.transformers import float16

    model = float16.convert_float_to_float16(onnx.load(path), keep_io_types=True)
    return bytes(model.SerializeToString())


def get_session(
    path: str | os.PathLike[str],
    device: str = "cpu",
    threads: int | None = None,
    fp16: bool = False,
) -> Any:
    """The process's session for ``path`` on ``device``, built on first use."""
    key = SessionKey(str(Path(path).resolve()), device, threads or _default_threads(), fp16)
    sess = _CACHE.get(key)
    if sess is None:
        with _LOCK:
            sess = _CACHE.get(key)
            if sess is None:
                sess = _CACHE[key] = _build(key)
    return sess


def _default_threads() -> int:
    """A Dask worker's own thread count, else the cores this process may use."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )


def resolve_device(choice: str) -> str:
    """``auto`` -> ``cuda`` where torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is
    an error, never a silent fallback. The processor and the worker plugin both ask here,
    so the session a plugin warms is the one the chunks use."""
    if choice == "cpu":
        return "cpu"
    if choice not in ("auto", "cuda") and not choice.startswith("cuda:"):
        msg = f"unknown device {choice!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
        raise ContractError(msg)
    try:
        import torch

        has_gpu = bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        has_gpu = False
    if choice != "auto" and not has_gpu:
        msg = f"device {choice!r} requested but torch sees no CUDA GPU on this process/worker"
        raise DeviceFallbackError(msg)
    if choice == "auto":
        return "cuda" if has_gpu else "cpu"
    return choice


def cached_sessions() -> dict[SessionKey, Any]:
    """A copy of the cache, for metrics and tests."""
    return dict(_CACHE)


def clear_cache() -> None:
    """Forget every session (tests; freeing GPU memory)."""
    with _LOCK:
        _CACHE.clear()


def run_cpu(sess: Any, inputs: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
    """Run a session on host arrays and return its first output."""
    out = sess.run(None, inputs)[0]
    return np.asarray(out, dtype=np.float32)


class SessionCachePlugin(WorkerPlugin):
    """Dask ``WorkerPlugin`` that builds the sessions once when a worker starts.

    Register with ``client.register_plugin(SessionCachePlugin(paths, device))``. Only model
    paths travel to the worker; sessions are made there and live in the worker process's
    cache. ``device`` is the processor's choice (``auto``, ``cpu``, ``cuda``), resolved on
    the worker exactly as the processor resolves it, so the warmed session is the one the
    chunks ask for: a worker tagged ``GPU=1`` on a machine without CUDA warms a CPU session
    under ``auto`` or ``cpu`` and fails loudly under ``cuda``.
    """

    name = "e2e-coffea-sessions"

    def __init__(self, model_paths: list[str], device: str = "auto", fp16: bool = False) -> None:
        self.model_paths = [str(Path(p).resolve()) for p in model_paths]
        self.device = device
        self.fp16 = fp16

    def setup(self, worker: Any) -> None:
        device = resolve_device(self.device)
        threads = 1 if device != "cpu" else int(worker.state.nthreads)
        for p in self.model_paths:
            get_session(p, device, threads, self.fp16)

    def teardown(self, worker: Any) -> None:
        clear_cache()


def run_cuda(sess: Any, x: Any, *, batch_size: int = 256, input_name: str | None = None) -> Any:
    """Run on a CUDA torch tensor already on the device, with IOBinding: no host round trip.

    Batches are padded to ``batch_size`` so onnxruntime/cuDNN see one shape and reuse
    their kernels; the padding rows are dropped from the result, which stays on the GPU.
    """
    import torch

    if x.device.type != "cuda":
        msg = f"run_cuda wants a CUDA tensor, got one on {x.device}"
        raise DeviceFallbackError(msg)
    name = input_name or sess.get_inputs()[0].name
    out_meta = sess.get_outputs()[0]
    n_out = int(out_meta.shape[-1]) if isinstance(out_meta.shape[-1], int) else 1
    x = x.contiguous().float()
    n = x.shape[0]
    results = torch.empty((n, n_out), dtype=torch.float32, device=x.device)
    buf = torch.zeros((batch_size, *x.shape[1:]), dtype=torch.float32, device=x.device)
    out = torch.empty((batch_size, n_out), dtype=torch.float32, device=x.device)
    binding = sess.io_binding()
    dev_id = x.device.index or 0
    binding.bind_input(name, "cuda", dev_id, np.float32, tuple(buf.shape), buf.data_ptr())
    binding.bind_output(out_meta.name, "cuda", dev_id, np.float32, tuple(out.shape), out.data_ptr())
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        buf[: stop - start].copy_(x[start:stop])
        if stop - start < batch_size:
            buf[stop - start :].zero_()
        binding.synchronize_inputs()
        sess.run_with_iobinding(binding)
        binding.synchronize_outputs()
        results[start:stop].copy_(out[: stop - start])
    return results
