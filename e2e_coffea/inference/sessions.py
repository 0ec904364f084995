"""One onnxruntime session per model per worker process, never pickled, never rebuilt per chunk.

coffea's ``ml_tools`` creates its model lazily on the worker (right) but again for every
chunk (slow). Here a process-wide cache keyed by (model, device, threads, precision,
TensorRT cache) serves the Iterative and Futures executors, and :class:`SessionCachePlugin`
warms the same cache on Dask workers when they start, so the first chunk does not pay for
it either. Which device ``auto`` means is decided here too (:func:`choose_device`), once
per process, with the reason kept for the run's summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from distributed import WorkerPlugin

from ..exceptions import ContractError, DeviceFallbackError, ModelHashError
from .threads import thread_budget, worker_cores

__all__ = [
    "DeviceChoice",
    "SessionCachePlugin",
    "SessionKey",
    "cached_sessions",
    "choose_device",
    "clear_cache",
    "get_session",
    "resolve_device",
    "run_cpu",
]

log = logging.getLogger(__name__)

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@dataclass(frozen=True)
class SessionKey:
    """What makes two sessions interchangeable."""

    path: str
    device: str = "cpu"
    threads: int = 1
    fp16: bool = False
    tensorrt: str | None = None
    """TensorRT engine cache folder; None: no TensorRT provider."""
    sha256: str = ""
    """The file's expected content hash; the session is built from bytes that match it."""


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
    providers = _providers(key, ort)
    model: str | bytes = _verified_bytes(key) if key.sha256 else key.path
    try:
        # TensorRT does its own float16 (trt_fp16_enable) from the float32 graph
        if key.fp16 and not key.tensorrt:
            model = _fp16_model(model)
        sess = ort.InferenceSession(model, sess_options=opts, providers=providers)
    except Exception as err:
        msg = f"onnxruntime cannot load {key.path}: {type(err).__name__}: {err}"
        raise ContractError(msg) from err
    want = "TensorrtExecutionProvider" if key.tensorrt else "CUDAExecutionProvider"
    if key.device != "cpu" and sess.get_providers()[0] != want:
        # onnxruntime falls back silently when CUDA/cuDNN/TensorRT libraries fail to load
        msg = (
            f"{key.path}: asked for {key.device} ({want}) but onnxruntime runs it on "
            f"{sess.get_providers()}; check that the CUDA and cuDNN libraries load on this "
            f"worker (e2e-coffea doctor --device cuda)"
        )
        raise DeviceFallbackError(msg)
    return sess


def _providers(key: SessionKey, ort: Any) -> list[Any]:
    """CPU; or CUDA on this process's inference stream (see :mod:`.cuda`), optionally
    behind TensorRT with an engine cache, each falling back per node to the next."""
    if key.device == "cpu":
        return ["CPUExecutionProvider"]
    if not key.device.startswith("cuda"):
        msg = f"unknown device {key.device!r}; expected 'cpu', 'cuda' or 'cuda:N'"
        raise ContractError(msg)
    dev_id = int(key.device.split(":")[1]) if ":" in key.device else 0
    available = ort.get_available_providers()
    need = ["CUDAExecutionProvider"] + (["TensorrtExecutionProvider"] if key.tensorrt else [])
    missing = [p for p in need if p not in available]
    if missing:
        msg = (
            f"device {key.device!r} requested but this onnxruntime has no {' or '.join(missing)} "
            f"(available: {available}); install e2e-coffea[gpu] (onnxruntime-gpu) on GPU workers"
        )
        raise DeviceFallbackError(msg)
    from .cuda import inference_stream

    stream = str(inference_stream(f"cuda:{dev_id}").cuda_stream)
    cuda = {"device_id": str(dev_id), "has_user_compute_stream": "1", "user_compute_stream": stream}
    providers: list[Any] = [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    if key.tensorrt:
        Path(key.tensorrt).mkdir(parents=True, exist_ok=True)
        trt = {
            **cuda,
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(key.tensorrt),
            "trt_timing_cache_enable": "True",
            "trt_fp16_enable": str(key.fp16),
        }
        providers.insert(0, ("TensorrtExecutionProvider", trt))
    return providers


def _verified_bytes(key: SessionKey) -> bytes:
    """The model's bytes, read once and hashed: the session is built from these very bytes,
    so a file swapped on the worker's disk (a planted model of the same size, or one
    changed after the upload) is refused, never run."""
    data = Path(key.path).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != key.sha256.lower():
        msg = (
            f"model file {key.path} does not match its sha256: expected {key.sha256}, "
            f"found {got}; refusing to load it"
        )
        raise ModelHashError(msg)
    return data


def _fp16_model(model: str | bytes) -> bytes:
    """Weights and arithmetic in float16, inputs and outputs kept float32: IOBinding and the
    frames stay as they are, and tensor cores do the work on a GPU."""
    import onnx
    from onnxruntime.transformers import float16

    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model)
    half = float16.convert_float_to_float16(proto, keep_io_types=True)
    return bytes(half.SerializeToString())


def get_session(
    path: str | os.PathLike[str],
    device: str = "cpu",
    threads: int | None = None,
    fp16: bool = False,
    tensorrt: str | os.PathLike[str] | None = None,
    sha256: str = "",
) -> Any:
    """The process's session for ``path`` on ``device``, built on first use.

    ``tensorrt``: a folder for TensorRT's engine cache; puts the TensorRT provider in
    front of CUDA (an error where onnxruntime has none). ``sha256``: the file's expected
    content hash; when given, the session is built only from bytes that match it
    (:class:`ModelHashError` otherwise). ``~`` is expanded where the session is built (an
    uploaded model's path names the worker's home)."""
    trt = str(Path(tensorrt).resolve()) if tensorrt is not None and device != "cpu" else None
    where = str(Path(path).expanduser().resolve())
    key = SessionKey(where, device, threads or _default_threads(), fp16, trt, sha256)
    sess = _CACHE.get(key)
    if sess is None:
        with _LOCK:
            sess = _CACHE.get(key)
            if sess is None:
                sess = _CACHE[key] = _build(key)
    return sess


def _default_threads() -> int:
    """onnxruntime's share of the worker's cores (:mod:`.threads`): the Dask worker's
    threads and the frame-building thread take the rest."""
    return thread_budget().intra_op


@dataclass(frozen=True)
class DeviceChoice:
    """Where inference runs, and why (the reason goes to the run's summary)."""

    device: str
    reason: str


_SAID: set[DeviceChoice] = set()


def choose_device(choice: str) -> DeviceChoice:
    """``auto`` -> CUDA only where torch sees a GPU *and* onnxruntime has the CUDA
    provider, else the CPU with the reason (logged once per process); ``cuda`` (or
    ``cuda:N``) without either is a :class:`DeviceFallbackError`, never a fallback. The
    processor and the worker plugin both ask here, so the session a plugin warms is the
    one the chunks use."""
    if choice == "cpu":
        return DeviceChoice("cpu", "cpu requested")
    if choice != "auto" and not re.fullmatch(r"cuda(:\d+)?", choice):
        msg = f"unknown device {choice!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
        raise ContractError(msg)
    gpus = _torch_gpus()
    providers = _ort_providers()
    has_cuda_ep = "CUDAExecutionProvider" in providers
    if choice != "auto":
        if not gpus:
            msg = f"device {choice!r} requested but torch sees no CUDA GPU on this process/worker"
            raise DeviceFallbackError(msg)
        if not has_cuda_ep:
            msg = (
                f"device {choice!r} requested but onnxruntime has no CUDAExecutionProvider "
                f"(available: {providers}); install e2e-coffea[gpu] (onnxruntime-gpu)"
            )
            raise DeviceFallbackError(msg)
        index = int(choice.split(":")[1]) if ":" in choice else 0
        if index >= gpus:
            msg = f"device {choice!r} requested but torch sees only {gpus} GPU(s) here"
            raise DeviceFallbackError(msg)
        return DeviceChoice(choice, f"{choice} requested")
    if not gpus:
        found = DeviceChoice("cpu", "auto: torch sees no CUDA GPU")
    elif not has_cuda_ep:
        found = DeviceChoice(
            "cpu",
            f"auto: torch sees {gpus} GPU(s) but onnxruntime has no CUDAExecutionProvider "
            f"(providers {providers}; install e2e-coffea[gpu], i.e. onnxruntime-gpu)",
        )
    else:
        found = DeviceChoice("cuda", "auto: torch sees a GPU and onnxruntime has CUDA")
    if found not in _SAID:
        _SAID.add(found)
        level = logging.WARNING if gpus and found.device == "cpu" else logging.INFO
        log.log(level, "inference device %s (%s)", found.device, found.reason)
    return found


def resolve_device(choice: str) -> str:
    """The device of :func:`choose_device`, without the reason."""
    return choose_device(choice).device


def _torch_gpus() -> int:
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except ImportError:  # pragma: no cover
        return 0


def _ort_providers() -> list[str]:
    try:
        return list(_import_ort().get_available_providers())
    except ImportError:  # pragma: no cover
        return []


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

    def __init__(
        self,
        model_paths: list[str],
        device: str = "auto",
        fp16: bool = False,
        sha256: list[str] | None = None,
    ) -> None:
        # "~" stays for the worker to expand (an uploaded model lies in the worker's home,
        # which need not be the client's); other relative paths are the client's
        self.model_paths = [
            p if p.startswith("~") else str(Path(p).resolve()) for p in map(str, model_paths)
        ]
        self.device = device
        self.fp16 = fp16
        self.sha256 = list(sha256) if sha256 is not None else [""] * len(self.model_paths)
        """Each model's expected content hash ("": not checked), as the chunks will ask."""

    def setup(self, worker: Any) -> None:
        device = resolve_device(self.device)
        budget = thread_budget(*worker_cores(int(worker.state.nthreads)))
        threads = 1 if device != "cpu" else budget.intra_op  # the chunks' own key
        for p, digest in zip(self.model_paths, self.sha256, strict=True):
            get_session(p, device, threads, self.fp16, sha256=digest)

    def teardown(self, worker: Any) -> None:
        clear_cache()
