"""The CPU batch size, chosen by measurement and remembered per model and machine.

Memory sets an upper bound on a batch, not its best size: on the 2-core machine
SimpleNet ran 971 jets/s at batch 64 and 243 at batch 256 (issue 25), because a batch
that outgrows the caches costs more per object. The best size depends on the model, the
CPU and the threads onnxruntime gets, so it is measured: on the first batch of a run
with enough objects, each candidate size scores the same objects, the fastest per
object wins, and the answer is kept in a small JSON file in the user's cache folder
keyed by (model sha256, CPU model, intra-op threads, the candidates the frame budget
allows). Later runs (and the other workers of the machine) read it instead of
measuring. Each size is timed :data:`REPEATS` times, in rounds, and its fastest time
counts: one timing per size picked noise under load (32, 512, 128 on the loaded 2-core
machine), because a single stall of the one run of the best size loses it the race.
"""

from __future__ import annotations

import os
import platform
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import E2EError
from ..io.jsonfiles import read_json, write_json

__all__ = [
    "CACHE_ENV",
    "CANDIDATES",
    "DEFAULT_BATCH",
    "REPEATS",
    "BatchChoice",
    "BatchSizeCache",
    "CalibrationCacheWarning",
    "batch_report",
    "calibrate",
    "cpu_model",
    "default_cache",
    "tuned_infer",
]

CANDIDATES: Final = (16, 32, 64, 128, 256, 512)
"""Batch sizes tried, each bounded by the objects the frame budget lets a batch hold."""
REPEATS: Final = 2
"""Timings per candidate; the fastest counts (a stall only ever adds time)."""
DEFAULT_BATCH: Final = 256
"""The batch on GPUs, on Triton, and on the CPU before a batch large enough to measure."""
CACHE_ENV: Final = "E2E_COFFEA_CACHE_DIR"
"""A folder for the cache other than ``$XDG_CACHE_HOME/e2e-coffea`` (``~/.cache/...``)."""
_VERSION: Final = 1


class CalibrationCacheWarning(UserWarning):
    """The batch-size cache could not be read or written; the run measures instead."""


@dataclass(frozen=True)
class BatchChoice:
    """The batch size a tagger scores with and how it came about: ``fixed`` (given by
    the user), ``calibrated`` (measured here), ``cached`` (measured before on this
    machine) or ``default`` (GPU, Triton, or no batch large enough to measure yet)."""

    size: int
    how: str
    seconds_per_object: Mapping[int, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.how}:{self.size}"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


class BatchSizeCache:
    """Measured batch sizes in one JSON file, ``{"version": 1, "entries": {key: size}}``;
    a file that is not exactly that is ignored with a :class:`CalibrationCacheWarning`
    (and replaced on the next write), never trusted and never a crash. Sizes are also
    kept in memory, so the chunks of one process read the file once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._memory: dict[str, int] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def key(
        sha256: str, threads: int, cpu: str | None = None, candidates: tuple[int, ...] = CANDIDATES
    ) -> str:
        """The entry of a model on a CPU with ``threads`` intra-op threads, measured
        among ``candidates`` (the sizes a frame budget allows): a smaller budget, a
        different candidate list, measures again instead of reading a size it never
        compared (or one that no longer fits)."""
        sizes = ",".join(str(c) for c in candidates)
        return f"{sha256}|{cpu if cpu is not None else cpu_model()}|threads={threads}|sizes={sizes}"

    def get(self, key: str) -> int | None:
        with self._lock:
            return self._entries().get(key)

    def put(self, key: str, size: int) -> None:
        with self._lock:
            entries = {**self._entries(), key: int(size)}
            self._memory = entries
            try:
                write_json(self.path, {"version": _VERSION, "entries": entries})
            except OSError as err:
                msg = (
                    f"batch-size cache {self.path} not written ({err}); the next run measures again"
                )
                warnings.warn(msg, CalibrationCacheWarning, stacklevel=2)

    def _entries(self) -> dict[str, int]:
        if self._memory is None:
            self._memory = self._read()
        return self._memory

    def _read(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        try:
            doc = read_json(self.path, what="batch-size cache")
            if not isinstance(doc, dict) or doc.get("version") != _VERSION:
                msg = f"{self.path}: not a version-{_VERSION} batch-size cache"
                raise E2EError(msg)
            entries = doc.get("entries")
            if not isinstance(entries, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in entries.values()
            ):
                msg = f"{self.path}: entries must map keys to batch sizes >= 1"
                raise E2EError(msg)
        except (OSError, E2EError) as err:
            msg = f"batch-size cache ignored: {err}"
            warnings.warn(msg, CalibrationCacheWarning, stacklevel=4)
            return {}
        return dict(entries)


_DEFAULT: dict[Path, BatchSizeCache] = {}


def default_cache() -> BatchSizeCache:
    """The process's cache of ``$E2E_COFFEA_CACHE_DIR`` or ``$XDG_CACHE_HOME`` (else
    ``~/.cache``) ``/e2e-coffea/batch_sizes.json``."""
    root = os.environ.get(CACHE_ENV) or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "e2e-coffea"
    )
    path = Path(root).expanduser() / "batch_sizes.json"
    if path not in _DEFAULT:
        _DEFAULT[path] = BatchSizeCache(path)
    return _DEFAULT[path]


Infer = Callable[[Mapping[str, Any], int], npt.NDArray[np.float32]]
"""Score the inputs in batches of the given size; return the first output."""

_timer = time.perf_counter
"""The clock of :func:`calibrate` (a test's fake clock replaces it)."""

_MEASURING = threading.Lock()
"""One measurement at a time in a process: two task threads timing at once would each
measure the other's load."""


def calibrate(
    infer: Infer,
    inputs: Mapping[str, Any],
    *,
    candidates: tuple[int, ...] = CANDIDATES,
    timer: Callable[[], float] | None = None,
    repeats: int = REPEATS,
) -> tuple[npt.NDArray[np.float32], BatchChoice]:
    """Score ``inputs`` while timing each candidate size on the same first objects.

    The candidates larger than the inputs are dropped (so the frame budget, which bounds
    the inputs, bounds them too); after one untimed warm-up batch, each one scores the
    first ``max(kept)`` objects in batches of its size, ``repeats`` rounds over all
    sizes (a drift in load hits every size alike), and the size whose fastest round is
    fastest per object wins. Returns the outputs of every input (the sample's from the
    last timing pass, the rest scored at the chosen size) and the choice,
    ``calibrated``, with each size's best seconds per object."""
    timer = timer or _timer
    n = len(next(iter(inputs.values())))
    sizes = [c for c in candidates if c <= n] or [max(1, n)]
    sample = max(sizes)
    head = {k: v[:sample] for k, v in inputs.items()}
    with _MEASURING:
        infer({k: v[: sizes[0]] for k, v in head.items()}, sizes[0])  # warm-up: arenas, caches
        per: dict[int, float] = {}
        out = np.zeros((0, 1), np.float32)
        for _ in range(max(1, repeats)):
            for size in sizes:
                t0 = timer()
                out = infer(head, size)
                t = (timer() - t0) / sample
                per[size] = min(t, per.get(size, t))
    best = min(per, key=lambda s: (per[s], s))
    if n > sample:
        rest = infer({k: v[sample:] for k, v in inputs.items()}, best)
        out = np.concatenate([out, rest])
    return out, BatchChoice(best, "calibrated", per)


def batch_report(counts: Mapping[str, int | float]) -> dict[str, Any]:
    """``summary.json``'s ``batch_size`` of a tagger from the processor's per-chunk
    counts of ``how:size`` labels: the size most chunks ran at, how it was chosen, and
    the counts themselves when the chunks disagree (workers on different machines)."""
    if not counts:
        return {}
    label = max(counts, key=lambda k: (counts[k], k))
    how, _, size = label.rpartition(":")
    report: dict[str, Any] = {"size": int(size), "how": how}
    if len(counts) > 1:
        report["chunks"] = dict(counts)
    return report


def tuned_infer(
    backend: Any,
    inputs: Mapping[str, Any],
    model: Any,
    full: int,
    *,
    cache: BatchSizeCache | None = None,
) -> tuple[npt.NDArray[np.float32], BatchChoice | None]:
    """``backend.infer(inputs)`` (an :class:`~.runtimes.OnnxBackend` on the CPU) at the
    cached batch size for this ``model`` (a session model: its sha256, else its file's),
    machine, thread count and candidate sizes (those up to ``full``, the most a batch
    can hold within the frame budget), else calibrated on these inputs when they hold
    the largest candidate, else at the backend's size for now (no choice yet: a later,
    fuller batch measures)."""
    from ..export.inspect import file_sha256
    from .threads import thread_budget

    candidates = tuple(c for c in CANDIDATES if c <= full)
    if len(candidates) < 2:  # a frame budget too small to compare sizes
        return backend.infer(inputs), BatchChoice(backend.batch_size, "default")
    cache = cache or default_cache()
    threads = backend.threads or thread_budget().intra_op
    key = cache.key(model.sha256 or file_sha256(model.path), threads, candidates=candidates)
    cached = cache.get(key)
    if cached is not None:
        backend.batch_size = cached
        return backend.infer(inputs), BatchChoice(cached, "cached")
    n = len(next(iter(inputs.values())))
    if n < max(candidates):
        return backend.infer(inputs), None

    def infer(x: Mapping[str, Any], size: int) -> npt.NDArray[np.float32]:
        backend.batch_size = size
        return np.asarray(backend.infer(x), dtype=np.float32)

    out, choice = calibrate(infer, inputs, candidates=candidates)
    backend.batch_size = choice.size
    cache.put(key, choice.size)
    return out, choice
