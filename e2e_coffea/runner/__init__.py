"""Run the processor over a fileset on an executor, and account for every entry."""

from __future__ import annotations

from .job import (
    DEFAULT_CHUNKSIZE,
    DENSE_CHUNK_BYTES,
    ChunkFailure,
    GPUDaskExecutor,
    QuietIterativeExecutor,
    RunFailedError,
    RunResult,
    default_chunksize,
    preflight,
    require_complete,
    run,
)

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "DENSE_CHUNK_BYTES",
    "ChunkFailure",
    "GPUDaskExecutor",
    "QuietIterativeExecutor",
    "RunFailedError",
    "RunResult",
    "default_chunksize",
    "preflight",
    "require_complete",
    "run",
]
