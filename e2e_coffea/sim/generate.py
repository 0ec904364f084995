"""Sample production: processes x files, in parallel, written atomically, plus a fileset.

Each output file is an independent job with its own seed, so the result does not depend
on ``workers`` and any file can be regenerated on its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from ..exceptions import BadInputError, GenerationError
from ..io.fileset import fileset_entry, save_fileset
from ..layouts import Layout

__all__ = ["MAX_SEED", "FileJob", "generate", "plan_jobs", "validate_request"]

MAX_SEED = 900_000_000
"""Pythia's ``Random:seed`` accepts 0..900 000 000."""

LayoutChoice = Literal["sparse", "e2e", "both"]


@dataclass(frozen=True)
class FileJob:
    """One output file's worth of events."""

    process: str
    index: int
    n_events: int
    first_event: int
    seed: int
    pileup: float
    layout: LayoutChoice
    pileup_seed: int = 1

    def stem(self) -> str:
        return f"{self.process}_{self.index:03d}"


def file_seed(seed: int, process: str, index: int) -> int:
    """A distinct, reproducible Pythia seed per (seed, process, file)."""
    mix = (seed * 1_000_003 + zlib.crc32(process.encode()) * 7_919 + index * 104_729) % MAX_SEED
    return mix + 1  # 0 would mean "seed from the clock" to Pythia


def validate_request(
    processes: Sequence[str],
    n_events: int,
    out: Path,
    *,
    seed: int,
    pileup: float,
    workers: int,
    events_per_file: int,
    layout: str,
) -> None:
    """Every bad argument fails here, before any file is touched."""
    from . import PROCESSES

    if not processes:
        msg = "no --process given; choose from " + ", ".join(sorted(PROCESSES))
        raise BadInputError(msg)
    unknown = [p for p in processes if p not in PROCESSES]
    if unknown:
        msg = f"unknown process {unknown[0]!r}; choose from {', '.join(sorted(PROCESSES))}"
        raise BadInputError(msg)
    if len(set(processes)) != len(processes):
        msg = f"process listed twice: {list(processes)}"
        raise BadInputError(msg)
    checks = [
        (n_events <= 0, f"--events must be positive, got {n_events}"),
        (not 0 <= seed <= MAX_SEED, f"--seed must be in 0..{MAX_SEED}, got {seed}"),
        (pileup < 0 or pileup > 200, f"--pileup must be in 0..200, got {pileup}"),
        (workers <= 0, f"--workers must be positive, got {workers}"),
        (events_per_file <= 0, f"--events-per-file must be positive, got {events_per_file}"),
        (
            layout not in ("sparse", "e2e", "both"),
            f"--layout must be sparse, e2e or both, got {layout!r}",
        ),
    ]
    for bad, msg in checks:
        if bad:
            raise BadInputError(msg)
    _check_writable(out)


def _check_writable(out: Path) -> None:
    """Probe with a real file: permission bits alone say nothing for root or odd mounts."""
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a folder"
        raise BadInputError(msg)
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("/"))
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        msg = f"--out {out}: folder {parent} is not writable ({err.strerror})"
        raise BadInputError(msg) from err


def plan_jobs(
    processes: Sequence[str],
    n_events: int,
    *,
    seed: int,
    pileup: float,
    events_per_file: int,
    layout: LayoutChoice,
) -> list[FileJob]:
    """Split each process's events into files of at most ``events_per_file``."""
    jobs = []
    for proc in processes:
        for index, start in enumerate(range(0, n_events, events_per_file)):
            n = min(events_per_file, n_events - start)
            jobs.append(
                FileJob(
                    proc,
                    index,
                    n,
                    start,
                    file_seed(seed, proc, index),
                    pileup,
                    layout,
                    pileup_seed=file_seed(seed, "minbias", 0),
                )
            )
    return jobs


def _run_job(job: FileJob, folder: str) -> tuple[FileJob, dict[Layout, str]]:
    """Simulate one file's events and write the requested layouts; runs in a worker."""
    from ..io import write_e2e, write_sparse
    from . import simulate_events

    # one minimum-bias pool per (master seed, pool size): workers build it once, files share it
    chunk = simulate_events(
        job.process,
        job.n_events,
        job.seed,
        job.pileup,
        first_event=job.first_event,
        pileup_seed=job.pileup_seed,
    )
    written: dict[Layout, str] = {}
    target = Path(folder) / job.process
    target.mkdir(parents=True, exist_ok=True)
    if job.layout in ("sparse", "both"):
        p = target / f"{job.stem()}.sparse.root"
        write_sparse(p, chunk)
        written["sparse"] = str(p)
    if job.layout in ("e2e", "both"):
        p = target / f"{job.stem()}.e2e.root"
        write_e2e(p, chunk)
        written["e2e"] = str(p)
    return job, written


def generate(
    processes: Sequence[str],
    n_events: int,
    out: str | os.PathLike[str],
    *,
    layout: LayoutChoice = "sparse",
    seed: int = 1,
    pileup: float = 0.0,
    workers: int = 1,
    events_per_file: int = 500,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Path]:
    """Generate ``n_events`` per process into ``out``; return the fileset path per layout.

    Files are produced in a hidden staging folder and moved into place only when every
    job succeeded, so a failure leaves no partial files behind.
    """
    out_path = Path(out)
    validate_request(
        processes,
        n_events,
        out_path,
        seed=seed,
        pileup=pileup,
        workers=workers,
        events_per_file=events_per_file,
        layout=layout,
    )
    jobs = plan_jobs(
        processes,
        n_events,
        seed=seed,
        pileup=pileup,
        events_per_file=events_per_file,
        layout=layout,
    )
    created = not out_path.exists()
    out_path.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_path))
    try:
        results = _execute(jobs, staging, workers, progress)
        fileset_paths = _publish(results, staging, out_path, seed)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out_path, ignore_errors=True)
        if isinstance(err, (BadInputError, KeyboardInterrupt)):
            raise
        msg = f"generation failed, nothing was written: {type(err).__name__}: {err}"
        raise GenerationError(msg) from err
    shutil.rmtree(staging, ignore_errors=True)
    return fileset_paths


def _execute(
    jobs: list[FileJob], staging: Path, workers: int, progress: Callable[[int], None] | None
) -> list[tuple[FileJob, dict[Layout, str]]]:
    results: list[tuple[FileJob, dict[Layout, str]]] = []
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_run_job(job, str(staging)))
            if progress:
                progress(job.n_events)
        return results
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=get_context("spawn")
    ) as ex:
        futures = [ex.submit(_run_job, job, str(staging)) for job in jobs]
        for fut in as_completed(futures):
            job, written = fut.result()
            results.append((job, written))
            if progress:
                progress(job.n_events)
    return sorted(results, key=lambda r: (r[0].process, r[0].index))


def _publish(
    results: list[tuple[FileJob, dict[Layout, str]]], staging: Path, out_path: Path, seed: int
) -> dict[str, Path]:
    by_layout: dict[Layout, dict[str, list[Path]]] = {}
    meta: dict[str, dict[str, Any]] = {}  # JSON metadata of each dataset
    for job, written in results:
        for lay, tmp in written.items():
            final = out_path / Path(tmp).relative_to(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            by_layout.setdefault(lay, {}).setdefault(job.process, []).append(final)
        m = meta.setdefault(
            job.process,
            {
                "process": job.process,
                "seed": seed,
                "events": 0,
                "pileup": job.pileup,
                "file_seeds": [],
            },
        )
        m["events"] += job.n_events
        m["file_seeds"].append(job.seed)
    paths: dict[str, Path] = {}
    for lay, datasets in by_layout.items():
        fs = {
            proc: fileset_entry(files, lay, meta[proc]) for proc, files in sorted(datasets.items())
        }
        paths[lay] = save_fileset(fs, out_path / f"fileset.{lay}.json")
    default = "sparse" if "sparse" in paths else "e2e"
    shutil.copyfile(paths[default], out_path / "fileset.json")
    paths["default"] = out_path / "fileset.json"
    return paths
