"""Frame arrays reused from batch to batch of a chunk, never while anyone holds them.

A chunk is framed in pieces of up to the frame budget (hundreds of MB). A new array per
piece costs its page faults (on the 2-core machine, with transparent huge pages on
request, faulting fresh frames took longer than scattering the hits into them, and
varied 5x with the memory's fragmentation), so a chunk's pieces are built into a few
arrays kept for the chunk. An array is handed out again only when no reference to it or
to a view of it is left (CPython's reference count: the frames a caller still holds,
e.g. the previous batch, or a list of every batch, are never overwritten).
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

__all__ = ["FrameBuffers"]


class FrameBuffers:
    """Up to ``keep`` float32 arrays, each handed out (as a leading slice of the shape
    asked for) only when nothing else references it. One per chunk and per builder
    thread: the arrays go with it, so memory stays what the pieces need at once."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self._kept: list[npt.NDArray[np.float32]] = []

    def get(self, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
        """A C-contiguous float32 array of ``shape`` (contents undefined): a kept
        array nobody holds, else a new one (kept while fewer than ``keep`` are)."""
        n, tail = shape[0], tuple(shape[1:])
        for i in range(len(self._kept)):
            buf = self._kept[i]
            if buf.shape[1:] == tail and len(buf) >= n:
                del buf  # only the list's reference, and getrefcount's argument, remain
                if sys.getrefcount(self._kept[i]) == 2:
                    return self._kept[i][:n]
        new = np.empty(shape, np.float32)
        if len(self._kept) < self.keep:
            self._kept.append(new)
        return new
