"""Sample production: processes x files, in parallel, written atomically, plus a fileset.

Each output file is an independent job with its own seed, so the result does not depend
on ``nproc`` and any file can be regenerated on its own.

The fileset metadata carries what event weights need: per dataset ``nevents`` and the
cross-section ``xsec_pb`` +- ``xsec_err_pb`` of its events (Pythia's ``sigmaGen`` of
each file's run, in mb -> pb, averaged over the files weighted by their Pythia events,
times the generator-filter efficiency), and per file the same numbers. A process in
pT-hat bins (``qcd``, ``qcd_em``) mixes its bins equally, so its events need a weight per
bin: by default one dataset holds all bins and its metadata gives ``xsec_pb_per_bin``
and ``nevents_per_bin`` (the bin of event number ``e`` is ``(e - 1) % n_bins``) with
``xsec_pb`` null, so that no one weights it by a single number; with
``pthat_datasets=True`` each bin is its own dataset (``qcd_pthat30to80`` ...,
``pthat_bin`` [lo, hi]) with a plain ``xsec_pb``, the usual coffea recipe
``weight = xsec_pb * lumi / nevents`` is then right per dataset. The events are the same
either way: a job's events are split by bin after generation.
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

import numpy as np

from ..exceptions import BadInputError, GenerationError
from ..io.fileset import fileset_entry, save_fileset
from ..layouts import Layout
from .generator import BinStats
from .xsec import FileSample, bin_dataset, dataset_metadata

__all__ = ["MAX_SEED", "FileJob", "Written", "generate", "plan_jobs", "validate_request"]

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
    nproc: int,
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
    for name, value in (
        ("--events", n_events),
        ("--seed", seed),
        ("--nproc", nproc),
        ("--events-per-file", events_per_file),
    ):  # 1e30 or 2.5 is no count and no seed: named as given, never cast to an int64
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            msg = f"{name} must be an integer, got {value!r}"
            raise BadInputError(msg)
    checks = [
        (n_events <= 0, f"--events must be positive, got {n_events}"),
        (not 0 <= seed <= MAX_SEED, f"--seed must be in 0..{MAX_SEED}, got {seed}"),
        (not 0 <= pileup <= 200, f"--pileup must be in 0..200, got {pileup}"),  # NaN too
        (nproc <= 0, f"--nproc must be positive, got {nproc}"),
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


@dataclass(frozen=True)
class Written:
    """One file of a job: its dataset, layout, path, events and pT-hat bin (or None)."""

    dataset: str
    layout: Layout
    path: str
    events: int
    bin: int | None


def _run_job(
    job: FileJob, folder: str, pthat_datasets: bool = False
) -> tuple[FileJob, list[Written], list[BinStats]]:
    """Simulate one file's events and write the requested layouts; runs in a worker."""
    from ..io import write_e2e, write_sparse
    from . import PROCESSES, pthat_bin_of_event, simulate_events

    stats: list[BinStats] = []
    # one minimum-bias pool per (master seed, pool size): workers build it once, files share it
    chunk = simulate_events(
        job.process,
        job.n_events,
        job.seed,
        job.pileup,
        first_event=job.first_event,
        pileup_seed=job.pileup_seed,
        generator_stats=stats,
    )
    bins = PROCESSES[job.process].pthat_bins
    parts: list[tuple[str, str, Any, int, int | None]] = []
    if pthat_datasets and bins:
        which = pthat_bin_of_event(job.process, np.asarray(chunk["event"]["event"]) - 1)
        for b, edges in enumerate(bins):
            mask = which == b
            if mask.any():
                ds = bin_dataset(job.process, edges)
                sub = {k: v[mask] for k, v in chunk.items()}
                parts.append((ds, f"{ds}_{job.index:03d}", sub, int(mask.sum()), b))
    else:
        parts.append((job.process, job.stem(), chunk, job.n_events, None))
    target = Path(folder) / job.process
    target.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    for ds, stem, part, n, which_bin in parts:
        writers: dict[Layout, Callable[..., object]] = {"sparse": write_sparse, "e2e": write_e2e}
        for lay, write in writers.items():
            if job.layout in (lay, "both"):
                p = target / f"{stem}.{lay}.root"
                write(p, part)
                written.append(Written(ds, lay, str(p), n, which_bin))
    return job, written, stats


def generate(
    processes: Sequence[str],
    n_events: int,
    out: str | os.PathLike[str],
    *,
    layout: LayoutChoice = "sparse",
    seed: int = 1,
    pileup: float = 0.0,
    nproc: int = 1,
    events_per_file: int = 500,
    progress: Callable[[int], None] | None = None,
    pthat_datasets: bool = False,
) -> dict[str, Path]:
    """Generate ``n_events`` per process into ``out``; return the fileset path per layout.

    Files are produced in a hidden staging folder and moved into place only when every
    job succeeded, so a failure leaves no partial files behind. ``pthat_datasets`` writes
    each pT-hat bin of a binned process as its own dataset (see the module doc).
    """
    out_path = Path(out)
    validate_request(
        processes,
        n_events,
        out_path,
        seed=seed,
        pileup=pileup,
        nproc=nproc,
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
        results = _execute(jobs, staging, nproc, progress, pthat_datasets)
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


Result = tuple[FileJob, list[Written], list[BinStats]]


def _execute(
    jobs: list[FileJob],
    staging: Path,
    nproc: int,
    progress: Callable[[int], None] | None,
    pthat_datasets: bool,
) -> list[Result]:
    results = []
    if nproc == 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_run_job(job, str(staging), pthat_datasets))
            if progress:
                progress(job.n_events)
        return results
    with ProcessPoolExecutor(
        max_workers=min(nproc, len(jobs)), mp_context=get_context("spawn")
    ) as ex:
        futures = [ex.submit(_run_job, job, str(staging), pthat_datasets) for job in jobs]
        for fut in as_completed(futures):
            results.append(fut.result())
            if progress:
                progress(results[-1][0].n_events)
    return sorted(results, key=lambda r: (r[0].process, r[0].index))


def _publish(results: list[Result], staging: Path, out_path: Path, seed: int) -> dict[str, Path]:
    by_layout: dict[Layout, dict[str, list[Path]]] = {}
    samples: dict[str, list[FileSample]] = {}
    jobs: dict[str, list[FileJob]] = {}
    for job, written, stats in results:
        jobs.setdefault(job.process, []).append(job)
        for w in written:
            final = out_path / Path(w.path).relative_to(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(w.path, final)
            by_layout.setdefault(w.layout, {}).setdefault(w.dataset, []).append(final)
            if w.layout == written[0].layout:  # one sample entry per file, not per layout
                stem = final.name.split(".")[0]
                samples.setdefault(w.dataset, []).append(
                    FileSample(stem, w.events, w.bin, tuple(stats))
                )
    meta: dict[str, dict[str, object]] = {}
    for ds, files in samples.items():
        process = ds.split("_pthat")[0]
        meta[ds] = {
            "process": process,
            "seed": seed,
            "pileup": jobs[process][0].pileup,
            "file_seeds": [j.seed for j in jobs[process]],
            **dataset_metadata(process, files),
        }
    paths: dict[str, Path] = {}
    for lay, datasets in by_layout.items():
        fs = {
            ds: fileset_entry(fl, lay, meta[ds], relative_to=out_path)
            for ds, fl in sorted(datasets.items())
        }  # paths relative to the JSON: the sample folder can be moved or shared
        paths[lay] = save_fileset(fs, out_path / f"fileset.{lay}.json")
    default = "sparse" if "sparse" in paths else "e2e"
    shutil.copyfile(paths[default], out_path / "fileset.json")
    paths["default"] = out_path / "fileset.json"
    return paths
