"""Inference in batches that halve when the device runs out of memory.

A batch size that fits one model on one GPU does not fit a bigger model, a smaller GPU or
a GPU shared with another worker. Rather than failing the chunk, the batch is halved and
the same rows are run again, down to one row; the caller counts the halvings (the
processor reports them as ``metrics["oom_halvings"]``) and keeps the size that fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import awkward as ak
import numpy as np

from ..exceptions import BadInputError, DeviceOutOfMemoryError, E2EError
from ..frames.records import ObjectSelection

__all__ = ["is_out_of_memory", "object_batches", "run_in_batches"]


_OOM_TEXT = (
    "out of memory",
    "cuda_error_out_of_memory",
    "cudaerrormemoryallocation",
    "failed to allocate memory",
    "bad_alloc",
)
"""How onnxruntime (CUDA and CPU providers, its arena) and torch word an allocation
failure; onnxruntime raises one exception class for every kind of failure."""


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocation failure (torch's OutOfMemoryError, MemoryError or
    an onnxruntime error whose message says so)."""
    if isinstance(err, MemoryError) and not isinstance(err, DeviceOutOfMemoryError):
        return True
    if type(err).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        return True
    text = str(err).lower()
    return any(t in text for t in _OOM_TEXT)


def run_in_batches(
    n: int,
    batch_size: int,
    run: Callable[[int, int, int], None],
    *,
    on_halve: Callable[[int], None] | None = None,
    is_oom: Callable[[BaseException], bool] = is_out_of_memory,
) -> int:
    """Call ``run(start, stop, batch_size)`` over ``range(n)`` in order; returns the batch
    size that worked.

    When ``run`` raises an out-of-memory error, the batch size is halved, ``on_halve`` is
    told the new size, and the same ``start`` is tried again; ``run`` must therefore leave
    nothing half-written that a retry would not overwrite. Any other error propagates;
    running out of memory with a batch of one raises :class:`DeviceOutOfMemoryError`.
    """
    if batch_size < 1:
        msg = f"batch_size must be >= 1, got {batch_size}"
        raise E2EError(msg)
    start = 0
    while start < n:
        stop = min(start + batch_size, n)
        try:
            run(start, stop, batch_size)
        except Exception as err:
            if not is_oom(err):
                raise
            if batch_size == 1:
                msg = f"out of device memory with a batch of one row (rows {start}:{stop}): {err}"
                raise DeviceOutOfMemoryError(msg) from err
            batch_size = max(1, batch_size // 2)
            if on_halve is not None:
                on_halve(batch_size)
            continue
        start = stop
    return batch_size


def object_batches(
    chunk: ak.Array, sel: ObjectSelection, limit: int
) -> Iterator[tuple[ak.Array, ObjectSelection, int]]:
    """The selection in pieces of at most ``limit`` objects, each with the slice of the
    chunk holding its events (awkward slices are views: no hit is copied) and that
    slice's first event. An empty selection still yields once, so the builders check the
    chunk's branches. The selection must be in event order (as the selection makes it)."""
    if len(sel) == 0:
        yield chunk, sel, 0
        return
    if np.any(np.diff(sel.event) < 0):
        msg = "object_batches needs the selection in event order"
        raise BadInputError(msg)
    for a in range(0, len(sel), limit):
        ev, idx = sel.event[a : a + limit], sel.index[a : a + limit]
        first, last = int(ev[0]), int(ev[-1]) + 1
        yield chunk[first:last], ObjectSelection(ev - first, idx), first
