"""Compute the next item while the caller works on the current one.

The main job's time per chunk is frame building plus inference. Both release the GIL (the
frame kernels are ``nogil`` numba, onnxruntime runs its own threads), so building batch
k+1 in one background thread while batch k is being scored hides most of the frame time
behind the model's, on the CPU as on a Triton client waiting for its server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")
R = TypeVar("R")


def prefetched(fn: Callable[[T], R], items: Iterable[T], *, ahead: bool = True) -> Iterator[R]:
    """``map(fn, items)``, with ``fn`` of the next item running in a background thread
    while the caller holds the current result (``ahead=False``: plain ``map``). The
    generator keeps at most two results alive, the one handed out and the one being
    computed; a caller still holding the previous one while asking for the next makes
    three for a moment.
    Exceptions of ``fn`` come out in order, where ``map`` would raise them."""
    if not ahead:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="e2e-prefetch") as pool:
        it = iter(items)

        def submit_next() -> Future[R] | None:
            for item in it:
                return pool.submit(fn, item)
            return None

        pending = submit_next()
        while pending is not None:
            current = pending.result()
            pending = submit_next()
            yield current
