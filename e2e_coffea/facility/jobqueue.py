"""dask-jobqueue clusters from a facility config: one cluster object per worker type.

A jobqueue cluster gives every job the same resources, so CPU and GPU workers cannot
share one cluster object. The first pool's cluster owns the scheduler; every other pool
is its own cluster object whose jobs start workers pointed at that scheduler's address
(its own scheduler stays idle on 127.0.0.1). The alternative, one run per worker type
on separate clusters, needs no such joining but splits the output.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Final

import dask

from ..exceptions import ClusterConfigError
from ..runner.https import https_config, https_env
from .batch import slurm_test_submit
from .config import ClusterConfig, PoolConfig
from .tls import make_security, remove_with

__all__ = [
    "build_jobqueue_clusters",
    "cluster_class",
    "job_kwargs",
    "job_script",
    "pinned_job_class",
    "thread_prologue",
]

_CLASSES: Final = {
    "local": ("dask_jobqueue.local", "LocalCluster", "pip install 'e2e-coffea[facility]'"),
    "htcondor": ("dask_jobqueue", "HTCondorCluster", "pip install 'e2e-coffea[facility]'"),
    "slurm": ("dask_jobqueue", "SLURMCluster", "pip install 'e2e-coffea[facility]'"),
    "coffea-casa": (
        "coffea_casa",
        "CoffeaCasaCluster",
        "pip install coffea-casa (preinstalled in coffea-casa's JupyterLab image)",
    ),
}
_CLUSTER_ONLY: Final = (
    "shared_temp_directory",
    "silence_logs",
    "scheduler_cls",
    "loop",
    "asynchronous",
)
PLACEHOLDER_ADDRESS: Final = "tcp://<scheduler-address>:8786"
LOOPBACK: Final = "127.0.0.1"
_LISTEN_ARGS: Final = ("--host", "--interface", "--listen-address", "--dashboard-address")
THREAD_VARS: Final = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to each worker's threads in batch jobs: a shared node must not see every library
start one thread per core of the node (onnxruntime takes the worker's thread count)."""


def cluster_class(facility: str) -> Any:
    """The jobqueue cluster class of ``facility``, imported only now (with an install hint)."""
    if facility not in _CLASSES:
        msg = f"facility {facility!r} does not submit jobqueue jobs; expected one of {sorted(_CLASSES)}"
        raise ClusterConfigError(msg)
    module, name, hint = _CLASSES[facility]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as err:
        msg = f"facility {facility!r} needs {module}.{name}, which is not installed: {hint}"
        raise ImportError(msg) from err


def job_kwargs(config: ClusterConfig, pool: PoolConfig) -> dict[str, Any]:
    """Keyword arguments of the pool's jobqueue cluster/job: resources, GPU request, image."""
    f, env = config.facility, config.environment
    kw: dict[str, Any] = {"cores": pool.cores, "memory": pool.memory, "processes": pool.processes}
    if pool.disk is not None:
        kw["disk"] = pool.disk
    listed = f in ("local", "slurm")
    directives: Any = (
        list(pool.job_extra_directives or []) if listed else dict(pool.job_extra_directives or {})
    )
    args = list(pool.worker_extra_args)
    if f == "local" and not any(a.split("=")[0] in _LISTEN_ARGS for a in args):
        # the jobs run on this machine: nanny, worker and its HTTP endpoint on loopback
        args += ["--host", LOOPBACK, "--dashboard-address", f"{LOOPBACK}:0"]
    if pool.gpus:
        # the Dask resource steers the chunk tasks; the batch request gets the job a GPU
        args += ["--resources", f"GPU={pool.gpus}"]
        if f in ("htcondor", "coffea-casa"):
            directives.setdefault("request_gpus", str(pool.gpus))
        elif f == "slurm" and not any(d.startswith(("--gres", "--gpus")) for d in directives):
            directives.append(f"--gres=gpu:{pool.gpus}")
    python = pool.python
    if env.image:
        if f == "htcondor":
            directives.setdefault("+SingularityImage", f'"{env.image}"')
            python = python or "python3"  # the image's, not the client's interpreter
        elif f == "coffea-casa":
            kw["worker_image"] = env.image
        elif python is None:  # SLURM, local: the worker command runs inside the image
            nv = " --nv" if pool.gpus else ""
            python = f"{env.container_runtime} exec{nv} {env.image} python3"
    if python is not None:
        kw["python"] = python
    kw["job_extra_directives"] = directives
    kw["worker_extra_args"] = args
    threads = thread_prologue(pool) if f in ("slurm", "htcondor") else []
    kw["job_script_prologue"] = threads + list(pool.job_script_prologue)
    kw.update(pool.options)
    return kw


def thread_prologue(pool: PoolConfig) -> list[str]:
    """``export OMP_NUM_THREADS=n`` (and BLAS's) for the job's worker threads, unless the
    pool's own prologue sets the variable (``local`` jobs have no shell to run it)."""
    threads = max(1, pool.cores // pool.processes)
    own = " ".join(pool.job_script_prologue)
    return [f"export {v}={threads}" for v in THREAD_VARS if f"{v}=" not in own]


def pinned_job_class(job_cls: Any, address: str) -> Any:
    """A subclass of ``job_cls`` whose workers join ``address`` whatever the cluster says."""

    class PinnedJob(job_cls):  # type: ignore[misc]
        def __init__(self, scheduler: Any = None, name: Any = None, **kwargs: Any) -> None:
            super().__init__(scheduler=address, name=name, **kwargs)

    PinnedJob.__name__ = PinnedJob.__qualname__ = f"Pinned{job_cls.__name__}"
    return PinnedJob


def job_script(config: ClusterConfig, worker_type: str) -> str:
    """The job script ``worker_type``'s jobs would run, rendered without submitting anything."""
    if config.facility not in _CLASSES:
        msg = (
            f"facility {config.facility!r} has no job scripts (only {sorted(_CLASSES)} submit "
            f"batch jobs)"
        )
        raise ClusterConfigError(msg)
    pool = config.pool(worker_type)
    job_cls = cluster_class(config.facility).job_cls
    kw = {k: v for k, v in job_kwargs(config, pool).items() if k not in _CLUSTER_ONLY}
    return str(job_cls(PLACEHOLDER_ADDRESS, name=f"{pool.name}-0", **kw).job_script())


def build_jobqueue_clusters(config: ClusterConfig) -> list[Any]:
    """Start one cluster per pool, all workers on the first pool's scheduler, and submit."""
    cls = cluster_class(config.facility)
    security, private_dir = make_security(config.security)
    tls = {} if security is None else {"security": security}
    # the scheduler's HTTP endpoint (health checks, and the dashboard when not asked for)
    # listens on loopback: port 0 keeps it off 8787, 127.0.0.1 keeps it off the network
    quiet = {"dashboard": False, "dashboard_address": f"{LOOPBACK}:0"}
    https = _https_files(security)
    clusters: list[Any] = []
    try:
        for i, pool in enumerate(config.pools):
            kw = {**job_kwargs(config, pool), **tls}
            if https and config.facility == "local":  # the jobs' workers: HTTPS as well
                env = " ".join(f"{k}={v}" for k, v in https_env(*https).items())
                kw["python"] = f"env {env} {kw.get('python') or sys.executable}"
            # the scheduler (started here) serves its HTTP endpoints over TLS
            with dask.config.set(https_config(*https) if https else {}):
                if i == 0:
                    user = dict(config.scheduler_options)
                    sched = {**({} if "dashboard_address" in user else quiet), **user}
                    if config.facility == "local":
                        sched.setdefault("host", LOOPBACK)
                    clusters.append(cls(name=pool.name, scheduler_options=sched, **kw))
                    remove_with(clusters[0], private_dir)
                else:
                    idle = {**quiet, "host": LOOPBACK, "port": 0}
                    job_cls = pinned_job_class(cls.job_cls, clusters[0].scheduler_address)
                    clusters.append(
                        cls(name=pool.name, job_cls=job_cls, scheduler_options=idle, **kw)
                    )
        for cluster, pool in zip(clusters, config.pools, strict=True):
            if pool.jobs and config.facility == "slurm":
                slurm_test_submit(cluster.job_script(), pool)
        for cluster, pool in zip(clusters, config.pools, strict=True):
            if pool.jobs and pool.adaptive:
                # a job that ends (walltime, preemption, scancel) is submitted again once
                # its worker has been gone distributed.deploy.lost-worker-timeout (15 s)
                cluster.adapt(minimum_jobs=pool.jobs, maximum_jobs=pool.jobs)
            elif pool.jobs:
                cluster.scale(jobs=pool.jobs)
    except BaseException:
        for c in reversed(clusters):
            c.close()
        raise
    return clusters


def _https_files(security: Any) -> tuple[str, str, str] | None:
    """The run's certificate, key and CA files, for the HTTP endpoints (None: no TLS)."""
    if security is None:
        return None
    return (security.tls_scheduler_cert, security.tls_scheduler_key, security.tls_ca_file)
