"""Run the processor over a fileset with coffea's Runner and account for every entry.

Before any chunk runs, every file is opened once: missing files, damaged files and
branches the taggers need but the files lack are reported up front. After the run,
processed entries are compared with the fileset's, per file, and the gaps are listed.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import uproot
from coffea import processor
from coffea.nanoevents import BaseSchema

from ..exceptions import BadInputError, E2EError, FileLayoutError, MissingBranchError
from ..frames.selection import ObjectCuts
from ..inference import Tagger, TaggerSpec
from ..inference.sessions import SessionCachePlugin
from ..io.columns import plan_columns
from ..io.fileset import Fileset, load_fileset
from ..io.profiles import BranchProfile
from ..layouts import E2E_IMAGES, layout_of_tree
from ..processor import E2ETaggerProcessor

__all__ = ["ChunkFailure", "RunFailedError", "RunResult", "default_chunksize", "preflight", "run"]

Executor = Literal["iterative", "futures", "dask"]


class RunFailedError(E2EError, RuntimeError):
    """Chunks failed and ``skip_bad_files`` was not given; the message lists them."""


@dataclass(frozen=True)
class ChunkFailure:
    """A file or entry range that was not processed, and why."""

    file: str
    entry_start: int | None
    entry_stop: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "entry_start": self.entry_start,
            "entry_stop": self.entry_stop,
            "reason": self.reason,
        }


@dataclass
class RunResult:
    """The merged output plus the bookkeeping that proves nothing was lost."""

    output: dict[str, Any]
    expected: dict[str, int]
    failed: list[ChunkFailure] = field(default_factory=list)
    wall_time: float = 0.0
    chunksize: int = 0
    missing_branches: dict[str, list[str]] = field(default_factory=dict)
    """Optional branches each dataset's files lack (what the run did instead is in the
    output's ``notes``)."""

    @property
    def processed(self) -> int:
        return int(sum(self.output.get("entries", {}).values()))

    @property
    def complete(self) -> bool:
        return self.processed == sum(self.expected.values()) and not self.failed


DEFAULT_CHUNKSIZE: Final = 10_000
DENSE_CHUNK_BYTES: Final = 1 << 30


def default_chunksize(fileset: Fileset, proc: E2ETaggerProcessor) -> int:
    """Events per chunk when the caller names none: 10k, except for e2e-layout files,
    where a chunk holds as many events as fit 1 GiB of the dense images the taggers
    read (~200 events for tau13's 13 images of 5 MB per event; 10k would be 50 GB)."""
    trees = {str(tree) for entry in fileset.values() for tree in entry["files"].values()}
    if not any(layout_of_tree(t) == "e2e" for t in trees):
        return DEFAULT_CHUNKSIZE
    per_event = sum(
        4 * math.prod(E2E_IMAGES[b].shape) for b in proc.branches("e2e")[0] if b in E2E_IMAGES
    )
    return min(DEFAULT_CHUNKSIZE, max(1, DENSE_CHUNK_BYTES // max(per_event, 1)))


def preflight(
    fileset: Fileset, proc: E2ETaggerProcessor
) -> tuple[dict[str, int], list[ChunkFailure], dict[str, list[str]]]:
    """Open every file: entries per file, plus the files that cannot be read at all.

    A missing branch or tree is a configuration error (the model wants channels the
    files lack, or the fileset names the other layout's tree) and raises at once, before
    any chunk runs, with or without ``skip_bad_files``. Optional branches a dataset's
    files lack are returned per dataset (the third item), for the summary.
    """
    expected: dict[str, int] = {}
    failed: list[ChunkFailure] = []
    missing_optional: dict[str, set[str]] = {}
    for dataset, entry in fileset.items():
        for path, tree in entry["files"].items():
            try:
                with uproot.open(path) as f:
                    if tree not in f:
                        # the file reads but holds another tree: the fileset names the
                        # wrong layout, a configuration error like a missing branch
                        trees = [k.split(";")[0] for k, v in f.classnames().items() if v == "TTree"]
                        msg = (
                            f"dataset {dataset!r}, file {path}: no tree {tree!r} (it holds "
                            f"{trees}); does the fileset name the wrong layout?"
                        )
                        raise MissingBranchError(msg)
                    t = f[tree]
                    meta = {"treename": tree, **entry.get("metadata", {})}
                    layout = proc.layout_for(meta)
                    req, opt = proc.branches(layout)
                    plan = plan_columns(
                        t.keys(), req, opt, proc.profile_for(meta),
                        where=f"dataset {dataset!r}, file {path} (layout {layout})",
                    )  # fmt: skip
                    if plan.missing:
                        missing_optional.setdefault(dataset, set()).update(plan.missing)
                    expected[path] = int(t.num_entries)
            except MissingBranchError:
                raise
            except Exception as err:  # missing, damaged, not ROOT, no such tree
                failed.append(ChunkFailure(path, None, None, f"{type(err).__name__}: {err}"))
    return expected, failed, {ds: sorted(v) for ds, v in missing_optional.items()}


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
    cuts: ObjectCuts | None = None,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    triton_url: str | None = None,
    fp16: bool = False,
    branches: str | os.PathLike[str] | BranchProfile | None = None,
    progress: bool = True,
) -> RunResult:
    """Run the taggers over ``fileset``; the notebook-facing entry point.

    Without ``skip_bad_files`` any unreadable file or failing chunk stops the run with
    an error naming it. With it, the run continues and :attr:`RunResult.failed` lists
    exactly what was skipped and why. ``chunksize`` (events per chunk) defaults to
    :func:`default_chunksize`.
    """
    import time

    fs = load_fileset(fileset) if not isinstance(fileset, Mapping) else dict(fileset)
    if executor not in ("iterative", "futures", "dask"):
        msg = f"unknown executor {executor!r}; expected iterative, futures or dask"
        raise BadInputError(msg)
    proc = E2ETaggerProcessor(
        taggers, cuts=cuts, device=device, triton_url=triton_url, fp16=fp16, branches=branches
    )
    specs = proc.specs
    if chunksize is None:
        chunksize = default_chunksize(fs, proc)
    if workers < 1 or gpu_workers < 0 or chunksize < 1 or retries < 0:
        msg = (
            f"workers must be >= 1 (got {workers}), gpu_workers >= 0 (got {gpu_workers}), "
            f"chunksize >= 1 (got {chunksize}), retries >= 0 (got {retries})"
        )
        raise BadInputError(msg)
    expected, failed, missing_optional = preflight(fs, proc)
    if failed and not skip_bad_files:
        lines = "; ".join(f"{f.file}: {f.reason}" for f in failed)
        msg = f"{len(failed)} file(s) cannot be read (use skip_bad_files to go on without them): {lines}"
        raise RunFailedError(msg)
    good = {
        ds: {
            "files": {p: t for p, t in e["files"].items() if p in expected},
            "metadata": e.get("metadata", {}),
        }
        for ds, e in fs.items()
    }
    good = {ds: e for ds, e in good.items() if e["files"]}
    t0 = time.perf_counter()
    with ExitStack() as stack:
        # with Triton the server holds the models: workers build no onnxruntime session
        plugin = None if triton_url else SessionCachePlugin([s.path for s in specs], device, fp16)
        exe, pre = _executor(
            executor, workers, gpu_workers, scheduler, client, retries, progress, plugin, stack
        )
        runner = processor.Runner(
            executor=exe,
            pre_executor=pre,
            schema=BaseSchema,
            chunksize=chunksize,
            savemetrics=True,
            skipbadfiles=skip_bad_files,
            checkpointer=_checkpointer(checkpoint_dir),
        )
        try:
            with _coffea_skip_notices() as skipped:
                output, _metrics = runner(good, proc)
        except E2EError:
            raise
        except Exception as err:
            msg = f"the run failed: {type(err).__name__}: {err}"
            raise RunFailedError(msg) from err
    result = RunResult(
        output=output,
        expected=dict(expected),
        failed=failed,
        wall_time=time.perf_counter() - t0,
        chunksize=chunksize,
        missing_branches=missing_optional,
    )
    result.failed += _gaps(output, expected, skipped)
    return result


_SKIP_NOTICE = "Skipping bad file after"
_RETRY_NOTICE = "Performed attempt"
_WORK_ITEM = re.compile(r"filename='(?P<file>[^']*)'.*?entrystart=(?P<a>\d+), entrystop=(?P<b>\d+)")


@contextmanager
def _coffea_skip_notices() -> Iterator[list[ChunkFailure]]:
    """Turn coffea's in-process "Skipping bad file ..." warnings into ChunkFailures.

    coffea reports a chunk it skipped (``skipbadfiles``) only as a UserWarning; caught
    here, its reason reaches :attr:`RunResult.failed` instead of being lost, and a
    ``-W error`` environment (pytest) does not turn the skip into a crash. Its "Performed
    attempt" retry notices are dropped; every other warning is re-emitted unchanged.
    Executors that run chunks in other processes (futures, dask) warn there; their
    skipped chunks still show up as gaps, with a generic reason.
    """
    found: list[ChunkFailure] = []
    with warnings.catch_warnings(record=True) as caught:
        for notice in (_SKIP_NOTICE, _RETRY_NOTICE):
            warnings.filterwarnings("always", message=notice, category=UserWarning)
        try:
            yield found
        finally:
            others = []
            for w in caught:
                text = str(w.message)
                if text.startswith(_RETRY_NOTICE):
                    continue
                m = _WORK_ITEM.search(text) if text.startswith(_SKIP_NOTICE) else None
                if m is None:
                    others.append(w)
                    continue
                reason = text.split("The error was:", 1)[-1].strip().rstrip(".") or text
                found.append(ChunkFailure(m["file"], int(m["a"]), int(m["b"]), reason))
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _gaps(
    output: Mapping[str, Any], expected: Mapping[str, int], known: Sequence[ChunkFailure] = ()
) -> list[ChunkFailure]:
    """Known chunk failures, plus any other range of a file that no chunk covered."""
    done: dict[str, list[tuple[int, int]]] = {}
    for chunk_id in output.get("chunks", {}):
        path, _, span = chunk_id.rpartition(":")
        a, _, b = span.partition("-")
        done.setdefault(path, []).append((int(a), int(b)))
    for f in known:
        done.setdefault(f.file, []).append((f.entry_start or 0, f.entry_stop or 0))
    gaps = list(known)
    for path, n in expected.items():
        covered, pos = sorted(done.get(path, [])), 0
        for a, b in covered:
            if a > pos:
                gaps.append(ChunkFailure(path, pos, a, "chunk not processed"))
            pos = max(pos, b)
        if pos < n:
            gaps.append(ChunkFailure(path, pos, n, "chunk not processed"))
    return gaps


def _checkpointer(path: str | os.PathLike[str] | None) -> Any:
    if path is None:
        return None
    Path(path).mkdir(parents=True, exist_ok=True)
    return processor.SimpleCheckpointer(checkpoint_dir=str(path), verbose=False)


def _executor(
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
    """The chunk executor and the (metadata) pre-executor."""
    if kind == "iterative":
        if gpu_workers:
            msg = "gpu_workers needs the dask executor"
            raise BadInputError(msg)
        # coffea's executors retry a failing chunk 3 times unless told otherwise
        exe = QuietIterativeExecutor(status=progress, retries=retries)
        return exe, exe
    if kind == "futures":
        # one process pool for preprocessing and processing: each new pool re-imports
        # the stack (coffea, numba kernels, onnxruntime) in every worker process
        from loky import ProcessPoolExecutor

        pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
        exe = processor.FuturesExecutor(
            pool=pool, workers=workers, status=progress, retries=retries
        )
        return exe, exe
    from .cluster import connect_client

    client = client or stack.enter_context(connect_client(scheduler, workers, gpu_workers))
    if plugin is not None:
        client.register_plugin(plugin, name=SessionCachePlugin.name)
    pre = processor.DaskExecutor(client=client, status=False, retries=retries)
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
class GPUDaskExecutor(processor.DaskExecutor):  # type: ignore[misc]
    """DaskExecutor whose chunk tasks ask for ``GPU=1``: only GPU-tagged workers take them."""

    def __call__(self, items: Any, function: Any, accumulator: Any) -> Any:
        import dask

        with dask.annotate(resources={"GPU": 1}):
            return super().__call__(items, function, accumulator)


def require_complete(result: RunResult) -> None:
    """Raise when entries are missing: for callers that must not go on with a partial result."""
    if not result.complete:
        lines = "; ".join(
            f"{f.file}[{f.entry_start}:{f.entry_stop}] {f.reason}" for f in result.failed
        )
        msg = f"processed {result.processed} of {sum(result.expected.values())} entries: {lines}"
        raise FileLayoutError(msg)
