"""Zero-copy access to the branches of a chunk, whatever produced it.

A chunk is what ``uproot``'s ``tree.arrays()`` or coffea's ``BaseSchema`` returns: a
record-like awkward Array indexable by flat branch name. Tests and callers may also pass
a plain ``dict`` of awkward/numpy arrays. The builders only ever need, per branch, the
flat content plus per-event offsets, so that is all this module hands out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, FileLayoutError, MissingBranchError

__all__ = [
    "Jagged",
    "branch",
    "dense_images",
    "entries_from",
    "entry_of",
    "fields_of",
    "hit_cells",
    "integer_values",
    "jagged",
    "n_events",
    "require",
]


_FIRST_ENTRY: ContextVar[int] = ContextVar("e2e_coffea_first_entry", default=0)


@contextmanager
def entries_from(first_entry: int) -> Iterator[None]:
    """Within the block, messages about a chunk's events name the file's entry numbers:
    the chunk's event ``e`` is entry ``first_entry + e`` (a context variable, so threads
    and Dask tasks each see their own)."""
    token = _FIRST_ENTRY.set(int(first_entry))
    try:
        yield
    finally:
        _FIRST_ENTRY.reset(token)


def entry_of(event: int) -> int:
    """The file entry number of the current chunk's event ``event`` (see :func:`entries_from`)."""
    return _FIRST_ENTRY.get() + int(event)


@dataclass(frozen=True)
class Jagged:
    """A jagged branch as flat ``values`` and ``offsets`` (length n_events + 1, from 0)."""

    offsets: npt.NDArray[np.int64]
    values: npt.NDArray[Any]

    @property
    def counts(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    def event_of(self) -> npt.NDArray[np.int64]:
        """Event index of every flat entry."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), self.counts)


def fields_of(chunk: Any) -> list[str]:
    """Branch names a chunk holds (awkward record array, NanoEvents or mapping)."""
    fields = getattr(chunk, "fields", None)
    if fields is not None:
        return list(fields)
    if hasattr(chunk, "keys"):
        return list(chunk.keys())
    msg = f"a chunk must be an awkward record array or a mapping of branches, got {type(chunk).__name__}"
    raise FileLayoutError(msg)


def require(chunk: Any, names: Iterable[str], *, layout: str, why: str) -> None:
    """Raise MissingBranchError naming the first branch of ``names`` the chunk lacks."""
    have = set(fields_of(chunk))
    for name in names:
        if name not in have:
            msg = (
                f"branch {name!r} (needed for {why}) is not in this {layout}-layout chunk; "
                f"it holds {len(have)} branches, e.g. {sorted(have)[:8]}"
            )
            raise MissingBranchError(msg)


def branch(chunk: Any, name: str, *, layout: str, why: str) -> Any:
    require(chunk, (name,), layout=layout, why=why)
    return chunk[name]


def n_events(chunk: Any) -> int:
    """Events in a chunk; for a mapping of branches, the length of its first branch."""
    if getattr(chunk, "fields", None) is not None:
        return len(chunk)
    for value in chunk.values():
        return len(value)
    return 0


def jagged(array: Any) -> Jagged:
    """Flat values + offsets of a ``var * T`` array, without copying when possible."""
    if isinstance(array, np.ndarray) and array.ndim == 2:  # regular, e.g. from a dict
        n, k = array.shape
        return Jagged(np.arange(n + 1, dtype=np.int64) * k, array.reshape(-1))
    layout = ak.to_layout(array)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        offsets = np.asarray(layout.offsets.data, dtype=np.int64)
        values = np.asarray(layout.content.data)
        if offsets[0] != 0 or offsets[-1] != len(values):
            values = values[offsets[0] : offsets[-1]]
            offsets = offsets - offsets[0]
        return Jagged(offsets, values)
    if isinstance(layout, ak.contents.RegularArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        n, k = layout.length, layout.size
        return Jagged(
            np.arange(n + 1, dtype=np.int64) * k, np.asarray(layout.content.data)[: n * k]
        )
    # sliced/indexed arrays: one copy through awkward
    counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Jagged(offsets, ak.to_numpy(ak.flatten(array, axis=1)))


def dense_images(chunk: Any, name: str, shape: tuple[int, int], *, why: str) -> npt.NDArray[Any]:
    """An e2e image branch as an (n_events, H, W) view of the flat per-event vectors."""
    j = jagged(branch(chunk, name, layout="e2e", why=why))
    size = shape[0] * shape[1]
    counts = j.counts
    bad = np.flatnonzero(counts != size)
    if len(bad):
        msg = (
            f"e2e image {name!r} of entry {entry_of(int(bad[0]))} has {int(counts[bad[0]])} values, "
            f"expected {shape[0]}x{shape[1]} = {size}"
        )
        raise FileLayoutError(msg)
    return j.values.reshape(len(counts), shape[0], shape[1])


def integer_values(values: npt.NDArray[Any], name: str, what: str) -> npt.NDArray[np.integer[Any]]:
    """``values`` unchanged if integer-typed; else a FileLayoutError naming the branch."""
    if values.dtype.kind not in "iu":
        msg = f"branch {name!r} holds {values.dtype} values; {what} must be integers"
        raise FileLayoutError(msg)
    return values


def hit_cells(
    chunk: Any,
    coll: str,
    rname: str,
    cname: str,
    shape: tuple[int, int],
    *,
    why: str,
    optional: bool = False,
) -> tuple[
    Jagged, npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]], npt.NDArray[np.bool_]
]:
    """Row and column of every hit of a sparse collection, checked against its grid.

    Returns the row jagged (offsets), rows, cols (the file's integer type, not copied)
    and which hits are placed; with ``optional`` a negative row means "not placed" (a
    track missing the ECAL)."""
    rj = jagged(branch(chunk, f"{coll}_{rname}", layout="sparse", why=why))
    cj = jagged(branch(chunk, f"{coll}_{cname}", layout="sparse", why=why))
    if not np.array_equal(rj.offsets, cj.offsets):
        msg = f"branches '{coll}_{rname}' and '{coll}_{cname}' disagree on the number of hits per event"
        raise FileLayoutError(msg)
    row = integer_values(rj.values, f"{coll}_{rname}", "hit positions")
    col = integer_values(cj.values, f"{coll}_{cname}", "hit positions")
    placed = row >= 0 if optional else np.ones(len(row), dtype=bool)
    bad = placed & ((row < 0) | (row >= shape[0]) | (col < 0) | (col >= shape[1]))
    if bad.any():
        h = int(np.flatnonzero(bad)[0])
        event = int(np.searchsorted(rj.offsets, h, side="right") - 1)
        msg = (
            f"{coll} hit {h - int(rj.offsets[event])} of entry {entry_of(event)} sits at "
            f"({rname}={row[h]}, {cname}={col[h]}), outside the {shape[0]}x{shape[1]} grid"
        )
        raise BadInputError(msg)
    return rj, row, col, placed
