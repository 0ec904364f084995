"""The main job: the processor over a fileset with coffea's Runner, every entry accounted for.

Before any chunk runs the fileset is normalised and every file opened once
(:mod:`~e2e_coffea.runner.preflight`). After the run, processed entries are compared
with the fileset's, per file, and every gap is listed with its reason
(:mod:`~e2e_coffea.runner.accounting`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, Literal

from coffea.nanoevents import BaseSchema
from coffea.processor import Runner

from ..exceptions import (
    BadInputError,
    E2EError,
    FileLayoutError,
    RunFailedError,
    UnreadableFilesError,
)
from ..frames.selection import ObjectCuts
from ..inference import Tagger, TaggerSpec
from ..inference.sessions import SessionCachePlugin
from ..io.fileset import Fileset, load_fileset
from ..io.profiles import BranchProfile
from ..processor import E2ETaggerProcessor
from .accounting import (
    ChunkFailure,
    RunResult,
    coffea_skip_notices,
    counted_twice,
    gaps,
    output_failures,
)
from .checkpoints import VerifiedCheckpointer
from .coffea_compat import failure_line, unicode_safe_hashing
from .executors import Executor, make_executor
from .preflight import default_chunksize, preflight

__all__ = ["require_complete", "run"]


def run(
    fileset: Fileset | str | os.PathLike[str],
    taggers: Sequence[str | TaggerSpec | Tagger],
    *,
    executor: Executor = "iterative",
    workers: int = 1,
    gpu_workers: int = 0,
    scheduler: str | None = None,
    client: Any = None,
    chunksize: int | None = None,
    skip_bad_files: bool = False,
    retries: int = 0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    recompute_checkpoints: bool = False,
    cuts: ObjectCuts | None = None,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    triton_url: str | None = None,
    triton_wire: str = "dense",
    precision: str = "fp32",
    branches: str | os.PathLike[str] | BranchProfile | None = None,
    lumi_fb: float | None = 1.0,
    progress: bool = True,
    processor: type[E2ETaggerProcessor] = E2ETaggerProcessor,
) -> RunResult:
    """Run the taggers over ``fileset``; the notebook-facing entry point.

    Without ``skip_bad_files`` any unreadable file or failing chunk stops the run with
    an error naming it. With it, the run goes on and :attr:`RunResult.failed` lists
    exactly what was skipped and why: unreadable files, read errors, bad hits
    (non-finite, off the grid) and inference errors alike, under every executor.
    ``chunksize`` (events per chunk) defaults to :func:`default_chunksize`.
    ``checkpoint_dir`` keeps each chunk's output (see
    :class:`~e2e_coffea.runner.checkpoints.VerifiedCheckpointer`); a directory written
    for other work is refused unless ``recompute_checkpoints`` discards its checkpoints.
    ``processor`` is the class built with the taggers and these options: a subclass that
    logs or fails chunks on purpose tests the run's accounting without patching this module.
    """
    fs = load_fileset(fileset)
    proc = processor(
        taggers, cuts=cuts, device=device, triton_url=triton_url, triton_wire=triton_wire,
        precision=precision, branches=branches,
        skip_bad_chunks=skip_bad_files, lumi_fb=lumi_fb,
    )  # fmt: skip
    if chunksize is None:
        chunksize = default_chunksize(fs, proc)
    if workers < 1 or gpu_workers < 0 or chunksize < 1 or retries < 0:
        msg = (
            f"workers must be >= 1 (got {workers}), gpu_workers >= 0 (got {gpu_workers}), "
            f"chunksize >= 1 (got {chunksize}), retries >= 0 (got {retries})"
        )
        raise BadInputError(msg)
    found = preflight(fs, proc)
    expected, failed = found.expected, found.failed
    if failed and not skip_bad_files:
        lines = "; ".join(f"{f.file}: {f.reason}" for f in failed)
        msg = f"{len(failed)} file(s) cannot be read (skip_bad_files goes on without them): {lines}"
        raise UnreadableFilesError(msg)
    good = {
        ds: {
            "files": {p: t for p, t in e["files"].items() if p in found.file_ids},
            "metadata": e["metadata"],
        }
        for ds, e in fs.items()
    }
    good = {ds: e for ds, e in good.items() if e["files"]}
    checkpointer = (
        VerifiedCheckpointer(checkpoint_dir, proc, recompute=recompute_checkpoints)
        if checkpoint_dir is not None
        else None
    )
    t0 = time.perf_counter()
    with ExitStack() as stack:
        local = triton_url is None  # with Triton, workers need no model file nor session
        models = [t.model for t in proc.taggers]  # at the run's precision
        paths, hashes = [m.path for m in models], [m.sha256 for m in models]
        plugin = SessionCachePlugin(paths, device, precision == "fp16", hashes) if local else None
        exe, pre = make_executor(
            executor, workers, gpu_workers, scheduler, client, retries, progress, plugin, stack
        )
        runner = Runner(
            executor=exe, pre_executor=pre, schema=BaseSchema, chunksize=chunksize,
            savemetrics=True, skipbadfiles=skip_bad_files, checkpointer=checkpointer,
            metadata_cache={},
        )  # fmt: skip
        # A fresh metadata cache: coffea's default one lives as long as the process and is
        # keyed by (dataset, file, tree) alone, so a rerun in the same session (a notebook
        # after fixing an xsec) would get the earlier run's dataset metadata, and weights.
        output, skipped = _run_chunks(runner, good, proc) if good else (proc.empty_output(), [])
    twice = counted_twice(output, found.file_ids)
    if twice:
        msg = f"the run counted one ROOT file under two names: {twice[0]}"
        raise RunFailedError(msg)
    known = [*failed, *output_failures(output), *skipped]
    return RunResult(
        output=output, expected=dict(expected), failed=gaps(output, expected, known),
        wall_time=time.perf_counter() - t0, chunksize=chunksize, missing_branches=found.missing,
        datasets={ds: [p for p in e["files"] if p not in found.merged] for ds, e in fs.items()},
        file_ids=dict(found.file_ids),
    )  # fmt: skip


def _run_chunks(
    runner: Any, fileset: Fileset, proc: E2ETaggerProcessor
) -> tuple[dict[str, Any], list[ChunkFailure]]:
    """coffea's Runner, its failures made into one line naming the file and entries."""
    try:
        with coffea_skip_notices() as skipped, unicode_safe_hashing():
            output, _metrics = runner(fileset, proc)
    except E2EError:
        raise
    except Exception as err:
        raise RunFailedError(failure_line(err)) from None  # coffea_compat: why text
    return output, skipped


def require_complete(result: RunResult) -> None:
    """Raise when entries are missing: for callers that must not go on with a partial result."""
    if not result.complete:
        lines = "; ".join(
            f"{f.file}[{f.entry_start}:{f.entry_stop}] {f.reason}" for f in result.failed
        )
        msg = f"processed {result.processed} of {sum(result.expected.values())} entries: {lines}"
        raise FileLayoutError(msg)
