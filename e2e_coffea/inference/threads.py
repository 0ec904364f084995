"""How a worker's cores are shared between Dask's task threads, onnxruntime and the
frame-building thread.

Each running chunk has up to two busy parties on the CPU: onnxruntime's intra-op threads
scoring batch k, and the background thread (:mod:`.prefetch`) building batch k+1. A
Dask worker runs ``nthreads`` chunks at once. Giving every session all of the machine's
cores, as onnxruntime does by default, makes ``nthreads x (cores + 1)`` threads fight
for ``cores``: on 2 cores with 2 task threads that is 6 threads, and the context switches
cost more than the extra threads bring. :func:`split_threads` divides the cores so the
parts add up to the cores the worker owns, never more; every CPU session is built with
its ``intra_op`` (:func:`~.sessions.get_session`, the worker plugin) and the Tagger
builds frames ahead only when the split leaves a core for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..exceptions import BadInputError

__all__ = [
    "CORES_ENV",
    "PREFETCH_FROM",
    "ThreadBudget",
    "split_threads",
    "thread_budget",
    "worker_cores",
]

PREFETCH_FROM = 3
"""Cores per task from which one of them builds frames. Frames cost about 13 % of
SimpleNet's single-thread inference (1.3 s against 10 s per 10k events,
benchmarks/results/2026-12-05-2core/run_batch_threads.txt): on 2 cores, giving one core to
frames halves onnxruntime for a thread that idles most of the time (frames + inference/2
beats max(frames, inference/1)); from 3 cores the overlap wins."""

CORES_ENV = "E2E_COFFEA_WORKER_CORES"
"""Cores a worker owns when that is not its thread count (a batch slot of 8 cores running
one Dask thread): set in the job's environment, read where sessions are built."""


@dataclass(frozen=True)
class ThreadBudget:
    """The split of ``cores`` between ``tasks`` concurrent chunks, each with ``intra_op``
    onnxruntime threads and ``prefetch`` (0 or 1) frame-building threads."""

    cores: int
    tasks: int
    intra_op: int
    prefetch: int

    @property
    def total(self) -> int:
        """Threads busy at once when every task scores while building its next batch."""
        return self.tasks * (self.intra_op + self.prefetch)


def split_threads(cores: int, tasks: int = 1) -> ThreadBudget:
    """The split for a worker owning ``cores`` that runs ``tasks`` chunks at once.

    Each task gets ``cores // tasks`` cores (at least one); with :data:`PREFETCH_FROM` or
    more, one of them builds frames while the rest run onnxruntime, otherwise onnxruntime
    gets them all and frames are built in turn. More tasks than cores is the worker's own
    oversubscription (Dask's threads); nothing here adds to it."""
    checks: tuple[tuple[str, object], ...] = (("cores", cores), ("tasks", tasks))
    for name, value in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{name} must be an integer >= 1, got {value!r}"
            raise BadInputError(msg)
    per_task = max(1, cores // tasks)
    prefetch = 1 if per_task >= PREFETCH_FROM else 0
    return ThreadBudget(cores, tasks, per_task - prefetch, prefetch)


def worker_cores(nthreads: int | None = None) -> tuple[int, int]:
    """(cores owned, chunks run at once) of this process: inside a Dask worker its
    ``nthreads`` (what dask-jobqueue and the local cluster give each worker: ``cores /
    processes``), capped by the CPUs the process may run on; elsewhere those CPUs
    (``os.sched_getaffinity``: a taskset or a batch slot's cgroup), one chunk at a time.
    ``nthreads``: a worker's thread count given (a worker plugin's ``setup``, where
    ``get_worker`` does not answer yet). :data:`CORES_ENV` names the cores owned
    outright (still capped by the usable CPUs)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    usable = max(1, usable or 1)
    declared = os.environ.get(CORES_ENV, "").strip()
    if declared:
        if not declared.isdigit() or int(declared) < 1:
            msg = f"{CORES_ENV}={declared!r}: expected a whole number of cores >= 1"
            raise BadInputError(msg)
        usable = min(usable, int(declared))
    if nthreads is None:
        try:
            from distributed import get_worker

            nthreads = int(get_worker().state.nthreads)
        except (ImportError, ValueError, AttributeError):
            return usable, 1
    owned = usable if declared else min(nthreads, usable)
    return max(1, owned), max(1, nthreads)


def thread_budget(cores: int | None = None, tasks: int | None = None) -> ThreadBudget:
    """The split for this process (:func:`worker_cores`), or for the ``cores`` and
    ``tasks`` given."""
    have_cores, have_tasks = worker_cores() if cores is None or tasks is None else (cores, tasks)
    return split_threads(cores or have_cores, tasks or have_tasks)
