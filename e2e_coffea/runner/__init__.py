"""Run the processor over a fileset on an executor, and account for every entry."""

from __future__ import annotations

from ..exceptions import RunFailedError, UnreadableFilesError
from .accounting import ChunkFailure, RunResult
from .executors import GPUDaskExecutor, QuietIterativeExecutor
from .job import require_complete, run
from .preflight import DEFAULT_CHUNKSIZE, DENSE_CHUNK_BYTES, default_chunksize, preflight

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "DENSE_CHUNK_BYTES",
    "ChunkFailure",
    "GPUDaskExecutor",
    "QuietIterativeExecutor",
    "RunFailedError",
    "RunResult",
    "UnreadableFilesError",
    "default_chunksize",
    "preflight",
    "require_complete",
    "run",
]
