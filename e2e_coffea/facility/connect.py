"""From a facility config to a Dask client the main job can use, and back down again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ClusterConfigError, SchedulerUnreachableError, WorkersMissingError
from ..inference.shipped import TaggerSpec, resolve_tagger
from ..runner.worker_logs import quiet_dask
from .batch import (
    JoinWatch,
    drop_unstarted,
    job_ids,
    quiet_submit_failures,
    require_submit_command,
    slurm_end_states,
)
from .config import ClusterConfig, load_cluster_config, require_gpu
from .plugins import GPUResourcePlugin, register_environment, ship_models
from .tls import make_security

__all__ = [
    "Connection",
    "WorkerReport",
    "build_clusters",
    "connect",
    "gpu_workers",
    "run_on_cluster",
    "watch_workers",
]

ConfigLike = ClusterConfig | str | os.PathLike[str]


def _config(config: ConfigLike) -> ClusterConfig:
    return config if isinstance(config, ClusterConfig) else load_cluster_config(config)


def build_clusters(config: ConfigLike) -> list[Any]:
    """One started cluster object per worker type (jobs submitted); ``[]`` for ``scheduler``.

    The first cluster owns the scheduler every worker joins. The caller closes them;
    :func:`connect` does all of that (and the waiting) for you.
    """
    cfg = _config(config)
    if cfg.facility == "scheduler":
        return []
    if cfg.facility == "gateway":
        from .gateway import build_gateway_cluster

        return build_gateway_cluster(cfg)
    from .jobqueue import build_jobqueue_clusters

    return build_jobqueue_clusters(cfg)


def close_clusters(cfg: ClusterConfig, clusters: list[Any]) -> None:
    """Close clusters last to first (their jobs are cancelled), quietly where a library
    would otherwise print a traceback at a clean shutdown."""
    for c in reversed(clusters):
        drop_unstarted(c)
        if cfg.facility == "gateway":
            from .gateway import close_gateway_cluster

            close_gateway_cluster(c)
        else:
            c.close()


@dataclass
class Connection:
    """A client plus the clusters behind it. A context manager; ``client, cleanup = conn``
    also works where a ``with`` block does not fit (notebooks)."""

    client: Any
    clusters: list[Any]
    config: ClusterConfig

    def close(self) -> None:
        """Close the client, then every cluster (cancels their batch jobs)."""
        try:
            self.client.close()
        finally:
            close_clusters(self.config, self.clusters)

    def prepare_taggers(self, taggers: Sequence[str | TaggerSpec]) -> list[TaggerSpec]:
        """Taggers as the workers will find them: uploaded if ``models.ship: upload``."""
        if self.config.models.ship == "upload":
            return ship_models(self.client, taggers, self.config.models.worker_dir)
        return [t if isinstance(t, TaggerSpec) else resolve_tagger(t) for t in taggers]

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.client, self.close))


def connect(config: ConfigLike) -> Connection:
    """Start (or join) the facility's workers, wait for them, and prepare their software."""
    from distributed import Client

    cfg = _config(config)
    clusters: list[Any] = []
    if cfg.facility == "scheduler":
        timeout = cfg.wait_timeout or 10.0
        security, _ = make_security(cfg.security)
        try:
            client = Client(cfg.address, timeout=timeout, security=security)
        except (OSError, TimeoutError) as err:
            msg = f"no Dask scheduler answered at {cfg.address} within {timeout:g} s: {err}"
            raise SchedulerUnreachableError(msg) from err
    else:
        require_submit_command(cfg)
        quiet_submit_failures()
        clusters = build_clusters(cfg)
        try:
            client = clusters[0].get_client() if cfg.facility == "gateway" else Client(clusters[0])
        except BaseException:
            close_clusters(cfg, clusters)
            raise
    conn = Connection(client, clusters, cfg)
    try:
        _wait(conn)
        register_environment(client, cfg.environment)
        if cfg.facility == "gateway" and cfg.pools[0].gpus:
            client.register_plugin(
                GPUResourcePlugin(cfg.pools[0].gpus), name=GPUResourcePlugin.name
            )
        if cfg.device == "cuda" and not gpu_workers(client):
            msg = (
                f"{cfg._where()}device 'cuda' was requested but no worker at "
                f"{client.scheduler_info().get('address', '?')} has a GPU resource"
            )
            raise ClusterConfigError(msg)
    except BaseException:
        conn.close()
        raise
    return conn


def _wait(conn: Connection) -> None:
    """Wait for the workers, bounded: ``wait_timeout`` in all, ``join_timeout`` for a job
    that runs while its worker stays away (a scheduler the compute nodes cannot reach)."""
    cfg = conn.config
    want = cfg.total_workers if cfg.min_workers is None else cfg.min_workers
    if not want or not cfg.wait_timeout:
        return
    watch = JoinWatch(cfg, conn.clusters, worker_address(conn))
    deadline = time.monotonic() + cfg.wait_timeout
    while True:
        names = _worker_names(conn.client)
        if len(names) >= want:
            return
        if time.monotonic() > deadline:
            break
        watch.check(names)
        time.sleep(0.5)
    pools = {p.name: p.workers for p in cfg.pools}
    msg = (
        f"{cfg._where()}only {len(names)} of {want} workers joined the scheduler at "
        f"{watch.address} within {cfg.wait_timeout:g} s (pools {pools}){watch.pending_line()}; "
        f"check the batch queue and the job logs, or lower min_workers"
    )
    raise WorkersMissingError(msg)


def _worker_names(client: Any) -> set[str]:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return {str(w.get("name")) for w in workers.values()}


def worker_address(conn: Connection) -> str:
    """The scheduler address the jobs' workers were given (jobqueue's contact address)."""
    if not conn.clusters:
        return str(conn.client.scheduler.address)
    sched = getattr(conn.clusters[0], "scheduler", None)
    addr = getattr(sched, "contact_address", None) or getattr(sched, "address", None)
    return str(addr or conn.client.scheduler.address)


def gpu_workers(client: Any) -> list[str]:
    """Names of the workers that offer a GPU resource."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return [
        str(w.get("name")) for w in workers.values() if w.get("resources", {}).get("GPU", 0) > 0
    ]


@dataclass
class WorkerReport:
    """Workers seen during a run, and the ones lost while it ran (their tasks re-ran elsewhere)."""

    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"workers": self.workers, "lost_workers": self.lost, "joined_workers": self.joined}


def _snapshot(client: Any) -> dict[str, dict[str, Any]]:
    info = client.scheduler_info(n_workers=-1).get("workers", {})
    return {
        addr: {
            "name": str(w.get("name")),
            "nthreads": w.get("nthreads"),
            "resources": dict(w.get("resources", {})),
        }
        for addr, w in info.items()
    }


@contextmanager
def watch_workers(client: Any) -> Iterator[WorkerReport]:
    """Record lost and joined workers from the scheduler's event log while the block runs."""
    t0 = time.time()
    report = WorkerReport(workers=_snapshot(client))
    try:
        yield report
    finally:
        report.workers.update(_snapshot(client))
        for ts, ev in client.get_events("all"):
            if ts < t0 or not isinstance(ev, dict):
                continue
            addr = str(ev.get("worker"))
            if ev.get("action") == "remove-worker":
                report.lost.append(
                    {
                        "worker": addr,
                        "name": report.workers.get(addr, {}).get("name"),
                        "processing_tasks": len(ev.get("processing-tasks", ())),
                        "lost_computed_tasks": len(ev.get("lost-computed-tasks", ())),
                        "expected": bool(ev.get("expected", False)),
                    }
                )
            elif ev.get("action") == "add-worker":
                report.joined.append(str(addr))


def _memory_hint(cfg: ClusterConfig, run_kwargs: dict[str, Any]) -> str:
    """What to change when workers die on a chunk: their limits, and the chunk size."""
    from dask.utils import format_bytes, parse_bytes

    limits = ", ".join(
        f"{p.name} {format_bytes(parse_bytes(p.memory) // p.processes)}" for p in cfg.pools
    )
    chunk = run_kwargs.get("chunksize")
    now = f"{chunk} events" if chunk else "the default size"
    return (
        f"workers are stopped at 95% of their memory limit ({limits} per worker process): "
        f"give the pools more memory in {cfg.source or 'the config'}, or pass a smaller "
        f"--chunksize (chunks were {now})"
    )


def _job_of(worker: str, jobs: dict[str, str]) -> str | None:
    """The job a worker ran in: workers are named after their job (``cpu-0``, ``cpu-0-1``)."""
    return next((j for n, j in jobs.items() if worker == n or worker.startswith(f"{n}-")), None)


def run_on_cluster(
    config: ConfigLike,
    fileset: Any,
    taggers: Sequence[str | TaggerSpec],
    *,
    gpu_requested: bool = False,
    **run_kwargs: Any,
) -> tuple[Any, dict[str, Any]]:
    """The main job at a facility: connect, ship the models, run, report, clean up.

    Returns the :class:`~e2e_coffea.runner.RunResult` and a JSON-ready facility report
    (pools, workers, lost workers, entries per worker).
    """
    from ..exceptions import RunFailedError
    from ..runner import run

    cfg = _config(config)
    if gpu_requested:
        require_gpu(cfg)
    if run_kwargs.get("device", "auto") == "auto":  # the config's choice unless the caller made one
        run_kwargs["device"] = cfg.device
    # a jobqueue scheduler runs in this process: its logs of failed tasks and of feeds
    # cancelled at shutdown stay out of the run's one line (back under --debug)
    with quiet_dask(), connect(cfg) as conn:
        specs = conn.prepare_taggers(taggers)
        started = job_ids(conn.clusters)
        with watch_workers(conn.client) as report:
            try:
                result = run(fileset, specs, executor="dask", client=conn.client, **run_kwargs)
            except RunFailedError as err:
                if "KilledWorker" not in str(err):
                    raise
                msg = f"{err}; {_memory_hint(cfg, run_kwargs)}"
                raise RunFailedError(msg) from None
        jobs = {**started, **job_ids(conn.clusters)}  # a replaced job: its successor
    for lost in report.lost:  # which batch job each lost worker was (the first under its name)
        lost["job_id"] = _job_of(str(lost["name"]), started) or _job_of(str(lost["name"]), jobs)
    if cfg.facility == "slurm":  # why: TIMEOUT (the walltime), CANCELLED, PREEMPTED, ...
        ended = slurm_end_states(sorted({str(w["job_id"]) for w in report.lost if w["job_id"]}))
        for lost in report.lost:
            if lost["job_id"] in ended:
                lost["job_state"] = ended[lost["job_id"]]
    info = {
        "facility": cfg.facility,
        "config": cfg.source,
        "pools": {
            p.name: {"jobs": p.jobs, "workers": p.workers, "gpus": p.gpus} for p in cfg.pools
        },
        "jobs": jobs,
        **report.to_dict(),
        "entries_per_worker": dict(result.output.get("metrics", {}).get("worker", {})),
    }
    return result, info
