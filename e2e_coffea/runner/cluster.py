"""Dask clients for the main job: a scheduler address, or a local CPU(+GPU-tagged) cluster.

Dask's LocalCluster gives every worker the same resources, so a heterogeneous pool
(CPU workers beside workers tagged ``GPU=1``) is built as a SpecCluster with one spec
per worker type, all joined to one scheduler.

A local cluster listens on 127.0.0.1 only and speaks TLS with a temporary certificate,
so neither the network nor another user of the machine can reach it.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..exceptions import BadInputError, SchedulerUnreachableError
from .cuda_cluster import LOOPBACK
from .https import https_config, write_temporary_pems
from .worker_logs import quiet_dask, worker_log_level

__all__ = ["connect_client", "local_cluster", "local_security"]


def local_security() -> Any:
    """A throw-away certificate authority for one local cluster (``Security.temporary``).

    Loopback keeps the network out, but not the other users of a shared login node: any
    of them can connect to a port on 127.0.0.1, and a Dask scheduler or worker runs the
    code it is sent. With TLS and the in-memory certificate, only this process and the
    worker processes it starts can connect."""
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError as err:
        msg = f"a local Dask cluster uses TLS, which needs the cryptography package: pip install cryptography ({err})"
        raise ImportError(msg) from err


def local_cluster(
    workers: int, gpu_workers: int = 0, *, threads_per_worker: int = 1, tls: bool = True
) -> Any:
    """``workers`` CPU workers plus ``gpu_workers`` GPU workers
    (:func:`e2e_coffea.runner.cuda_cluster.gpu_worker_specs`).

    Every socket (scheduler, nannies, workers' comms and HTTP endpoints, dashboard)
    listens on 127.0.0.1 only, and with ``tls`` (the default) all Dask traffic needs the
    cluster's temporary certificate (:func:`local_security`); ``Client(cluster)`` picks
    it up from the cluster. The HTTP endpoints then speak HTTPS with the same
    certificate (:mod:`.https`): no port answers plain HTTP.
    """
    import dask
    from distributed import Nanny, Scheduler, SpecCluster

    if workers < 0 or gpu_workers < 0 or workers + gpu_workers == 0:
        msg = f"need at least one worker, got workers={workers}, gpu_workers={gpu_workers}"
        raise BadInputError(msg)
    security = local_security() if tls else None
    tls_options = {} if security is None else {"security": security, "protocol": "tls://"}
    common: dict[str, Any] = {
        "silence_logs": worker_log_level(),  # worker processes: failed tasks are the run's line
        "host": LOOPBACK,  # the nanny's and its worker's comm sockets
        "dashboard_address": f"{LOOPBACK}:0",  # the worker's HTTP endpoint (health, metrics)
    }
    specs: dict[str, Any] = {}
    for i in range(workers):
        specs[f"cpu-{i}"] = {
            "cls": Nanny,
            "options": {"nthreads": threads_per_worker, "name": f"cpu-{i}", **common},
        }
    if gpu_workers:  # one per GPU, pinned by CUDA_VISIBLE_DEVICES (dask-cuda's recipe)
        from .cuda_cluster import gpu_worker_specs

        specs.update(gpu_worker_specs(gpu_workers))
    for spec in specs.values():
        spec["options"] = {**spec["options"], **tls_options}
    # port 0: a free port for the dashboard (client.dashboard_link), so a second cluster
    # or a Jupyter server on 8787 is no clash
    scheduler = {"dashboard_address": f"{LOOPBACK}:0", "host": LOOPBACK, **tls_options}
    # the HTTP endpoints too: TLS with the cluster's certificate (read when each starts;
    # the nannies carry this config to the worker processes they start and restart)
    pems, folder = write_temporary_pems(security) if security is not None else (None, None)
    with dask.config.set(https_config(*pems) if pems else {}):
        cluster = SpecCluster(
            workers=specs,
            scheduler={"cls": Scheduler, "options": scheduler},
            security=security,
            silence_logs=worker_log_level(),
        )
    if folder is not None:
        weakref.finalize(cluster, shutil.rmtree, folder, True)
    return cluster


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
    with quiet_dask():  # its scheduler runs here, and stops here
        cluster = local_cluster(workers, gpu_workers)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
