"""Dask clients for the main job: a scheduler address, or a local CPU(+GPU-tagged) cluster.

Dask's LocalCluster gives every worker the same resources, so a heterogeneous pool
(CPU workers beside workers tagged ``GPU=1``) is built as a SpecCluster with one spec
per worker type, all joined to one scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..exceptions import BadInputError, E2EError

__all__ = ["SchedulerUnreachableError", "connect_client", "local_cluster"]


class SchedulerUnreachableError(E2EError, ConnectionError):
    """No scheduler answered at the given address in time."""


def local_cluster(workers: int, gpu_workers: int = 0, *, threads_per_worker: int = 1) -> Any:
    """``workers`` CPU workers plus ``gpu_workers`` GPU workers
    (:func:`e2e_coffea.runner.cuda_cluster.gpu_worker_specs`)."""
    from distributed import Nanny, Scheduler, SpecCluster

    if workers < 0 or gpu_workers < 0 or workers + gpu_workers == 0:
        msg = f"need at least one worker, got workers={workers}, gpu_workers={gpu_workers}"
        raise BadInputError(msg)
    quiet = {"silence_logs": logging.ERROR}  # worker processes: no INFO chatter on stderr
    specs: dict[str, Any] = {}
    for i in range(workers):
        specs[f"cpu-{i}"] = {
            "cls": Nanny,
            "options": {"nthreads": threads_per_worker, "name": f"cpu-{i}", **quiet},
        }
    if gpu_workers:  # one per GPU, pinned by CUDA_VISIBLE_DEVICES (dask-cuda's recipe)
        from .cuda_cluster import gpu_worker_specs

        specs.update(gpu_worker_specs(gpu_workers))
    # ":0": a free port for the dashboard (client.dashboard_link), so a second cluster or
    # a Jupyter server on 8787 is no clash (dask would warn and move it anyway)
    return SpecCluster(
        workers=specs,
        scheduler={"cls": Scheduler, "options": {"dashboard_address": ":0", "host": "127.0.0.1"}},
        silence_logs=logging.ERROR,
    )


@contextmanager
def connect_client(
    scheduler: str | None, workers: int, gpu_workers: int = 0, timeout: float = 10.0
) -> Iterator[Any]:
    """A client to ``scheduler``, or to a local cluster that lives as long as the context."""
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as err:
            msg = f"no Dask scheduler answered at {scheduler} within {timeout:g} s: {err}"
            raise SchedulerUnreachableError(msg) from err
        try:
            yield client
        finally:
            client.close()
        return
    cluster = local_cluster(workers, gpu_workers)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
