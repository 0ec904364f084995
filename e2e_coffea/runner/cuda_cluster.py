"""Local GPU workers: one process per visible GPU, pinned by ``CUDA_VISIBLE_DEVICES``.

dask-cuda's :func:`dask_cuda.worker_spec.worker_spec` is the recipe (its ``LocalCUDACluster``
is built from the same pieces, but it cannot also hold CPU workers): a Nanny per GPU whose
``CUDA_VISIBLE_DEVICES`` lists that GPU first (so ``cuda`` in the worker is its own GPU),
with dask-cuda's CPU-affinity plugin and CUDA context created at start. We add a name,
the loopback address and the ``GPU`` resource, and :func:`e2e_coffea.runner.cluster.local_cluster`
puts these specs beside its CPU workers under one scheduler (a ``SpecCluster``).

Work split. A GPU worker runs ``threads`` threads (default :data:`GPU_THREADS`) so that one
chunk is read, selected and framed while another is in inference; the inference itself
is serialised by a per-device lock (:func:`e2e_coffea.inference.cuda.device_lock`). Dask
runs as many ``GPU=1`` tasks on a worker at once as the worker has ``GPU`` resource, so a
worker offers ``GPU=threads`` task slots (not "threads GPUs"): with ``GPU=1`` its extra
threads would idle. The alternative, a CPU pool that prepares frames and ships them to a
GPU worker that only infers, moves every frame between processes (tens of MB per chunk)
and needs two task kinds per chunk; it is described in docs, not built.

Without a visible GPU (CI, laptops) the GPU workers are plain processes with the same
names and resources: ``device="auto"`` then runs them on the CPU and says so in the
run's metrics, ``device="cuda"`` fails when the worker starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Final

from ..exceptions import BadInputError, E2EError
from .worker_logs import worker_log_level

__all__ = ["GPU_THREADS", "LOOPBACK", "gpu_worker_specs", "visible_gpus"]

GPU_THREADS: Final = 2
"""Threads (and GPU task slots) per GPU worker: one frames while the other infers."""

LOOPBACK: Final = "127.0.0.1"

log = logging.getLogger(__name__)


def visible_gpus() -> list[int]:
    """GPU ordinals this process may hand to workers (``CUDA_VISIBLE_DEVICES`` order).

    Counted by torch without creating a CUDA context in the client; entries that are not
    ordinals (GPU or MIG UUIDs) are an error, since the workers are pinned by ordinal."""
    import torch

    count = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None or not env.strip():
        return list(range(count))
    entries = [e.strip() for e in env.split(",") if e.strip()][:count]
    if not all(e.isdigit() for e in entries):
        msg = f"CUDA_VISIBLE_DEVICES={env!r}: GPU workers are pinned by ordinal; list ordinals"
        raise BadInputError(msg)
    return [int(e) for e in entries]


def _dask_cuda_worker_spec() -> Callable[..., dict[Any, dict[str, Any]]]:
    try:
        from dask_cuda.worker_spec import worker_spec
    except ImportError as err:
        msg = (
            "GPU workers on a machine with GPUs need dask-cuda (one worker per GPU, each "
            "pinned by CUDA_VISIBLE_DEVICES): pip install 'e2e-coffea[gpu]'"
        )
        raise E2EError(msg) from err
    return worker_spec  # type: ignore[no-any-return]


def gpu_worker_specs(n: int | None = None, *, threads: int = GPU_THREADS) -> dict[str, Any]:
    """SpecCluster worker specs ``gpu-0`` ... for ``n`` GPUs (None: every visible GPU).

    Each is bound to the loopback address and offers ``GPU=threads`` task slots. With no
    visible GPU, ``n`` plain workers of the same shape (a warning says they use the CPU).
    """
    if threads < 1 or (n is not None and n < 0):
        msg = f"need n >= 0 GPU workers with threads >= 1, got n={n}, threads={threads}"
        raise BadInputError(msg)
    devices = visible_gpus()
    common = {
        "nthreads": threads,
        "resources": {"GPU": threads},
        "host": LOOPBACK,
        "dashboard_address": f"{LOOPBACK}:0",
        "silence_logs": worker_log_level(),
    }
    if not devices:
        if n:
            log.warning("no GPU visible: the %d GPU-tagged worker(s) will run on the CPU", n)
        from distributed import Nanny

        return {
            f"gpu-{i}": {"cls": Nanny, "options": {**common, "name": f"gpu-{i}"}}
            for i in range(n or 0)
        }
    n = len(devices) if n is None else n
    if n > len(devices):
        msg = f"asked for {n} GPU workers but {len(devices)} GPU(s) are visible: {devices}"
        raise BadInputError(msg)
    raw = _dask_cuda_worker_spec()(
        CUDA_VISIBLE_DEVICES=devices[:n],
        threads_per_worker=threads,
        protocol="tcp",
        dashboard_address=common["dashboard_address"],
        silence_logs=worker_log_level(),
    )
    specs: dict[str, Any] = {}
    for i, spec in enumerate(raw.values()):
        options = {k: v for k, v in spec["options"].items() if k != "interface"}
        specs[f"gpu-{i}"] = {
            "cls": spec["cls"],
            "options": {**options, **common, "name": f"gpu-{i}"},
        }
    return specs
