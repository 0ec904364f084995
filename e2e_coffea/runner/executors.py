"""The chunk executors of the main job: iterative, a process pool, or Dask (CPU and GPU)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Literal

from coffea import processor

from ..exceptions import BadInputError
from ..inference.sessions import SessionCachePlugin

__all__ = [
    "Executor",
    "GPUDaskExecutor",
    "QuietFuturesExecutor",
    "QuietIterativeExecutor",
    "make_executor",
]

Executor = Literal["iterative", "futures", "dask"]
EXECUTORS = ("iterative", "futures", "dask")


def make_executor(
    kind: Executor,
    workers: int,
    gpu_workers: int,
    scheduler: str | None,
    client: Any,
    retries: int,
    progress: bool,
    plugin: SessionCachePlugin | None,
    stack: ExitStack,
) -> tuple[Any, Any]:
    """The chunk executor and the (metadata) pre-executor. ``plugin`` warms the workers'
    session caches (None when no local session is needed, e.g. with Triton).

    The pre-executor is always in-process: coffea's metadata step hashes file names in
    ASCII (see :mod:`~e2e_coffea.runner.coffea_compat`), which only this process can
    fix, and the preflight has just opened every file here anyway."""
    if kind not in EXECUTORS:
        msg = f"unknown executor {kind!r}; expected one of {list(EXECUTORS)}"
        raise BadInputError(msg)
    if kind == "iterative":
        if gpu_workers:
            msg = "gpu_workers needs the dask executor"
            raise BadInputError(msg)
        # coffea's executors retry a failing chunk 3 times unless told otherwise
        exe = QuietIterativeExecutor(status=progress, retries=retries)
        return exe, exe
    if kind == "futures":
        # one process pool for every chunk: each new pool re-imports the stack (coffea,
        # numba kernels, onnxruntime) in every worker process
        from loky import ProcessPoolExecutor

        pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
        exe = QuietFuturesExecutor(pool=pool, workers=workers, status=progress, retries=retries)
        return exe, QuietIterativeExecutor(status=False, retries=retries)
    from .cluster import connect_client

    client = client or stack.enter_context(connect_client(scheduler, workers, gpu_workers))
    if plugin is not None:
        client.register_plugin(plugin, name=SessionCachePlugin.name)
    pre = QuietIterativeExecutor(status=False, retries=retries)
    if gpu_workers or _has_gpu_workers(client):
        return GPUDaskExecutor(client=client, status=progress, retries=retries), pre
    return processor.DaskExecutor(client=client, status=progress, retries=retries), pre


def _has_gpu_workers(client: Any) -> bool:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return any(w.get("resources", {}).get("GPU", 0) > 0 for w in workers.values())


@dataclass
class QuietIterativeExecutor(processor.IterativeExecutor):  # type: ignore[misc]
    """IterativeExecutor that honours ``status=False``.

    coffea 2026.9 hands ``disable=not status`` to rich's ``Progress.add_task``, which
    takes unknown keywords as display fields: the bars were drawn regardless (the
    futures and dask executors check ``status`` themselves)."""

    def __call__(self, items: Any, function: Any, accumulator: Any) -> Any:
        if self.status or len(items) == 0:
            return super().__call__(items, function, accumulator)
        return processor.accumulate(map(function, items), accumulator), 0


@dataclass
class QuietFuturesExecutor(processor.FuturesExecutor):  # type: ignore[misc]
    """FuturesExecutor that does not print the worker's whole traceback on a failure.

    coffea's futures executor calls ``traceback.print_exc()`` before re-raising, which
    put ~150 lines of a remote traceback above the one-line error the run reports. Its
    stderr is held back while chunks run and replayed only when the run succeeds (its
    warnings) or when ``E2E_COFFEA_DEBUG`` is set (``--debug``)."""

    def __call__(self, items: Any, function: Any, accumulator: Any) -> Any:
        import io
        import os
        import sys
        from contextlib import redirect_stderr

        held = io.StringIO()
        try:
            with redirect_stderr(held):
                result = super().__call__(items, function, accumulator)
        except BaseException:
            if os.environ.get("E2E_COFFEA_DEBUG"):
                sys.stderr.write(held.getvalue())
            raise
        sys.stderr.write(held.getvalue())
        return result


@dataclass
class GPUDaskExecutor(processor.DaskExecutor):  # type: ignore[misc]
    """DaskExecutor whose chunk tasks ask for ``GPU=1``: only GPU-tagged workers take them."""

    def __call__(self, items: Any, function: Any, accumulator: Any) -> Any:
        from dask.base import annotate  # dask.annotate is an implicit re-export of this

        with annotate(resources={"GPU": 1}):
            return super().__call__(items, function, accumulator)
