"""Sparse hits of a chunk as flat scatter jobs, validated once per collection.

A job is everything a backend's ``scatter`` needs for one collection and channel:
per-event offsets and, per hit, its row/col, its value and the output channel it goes
to (a track that misses the ECAL, or an endcap crystal for an EB channel, goes to none).
All tracker layers share one job: one pass over the hits. Jobs share arrays rather
than copy them (building the copies cost a sparse build a fifth of its time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, FileLayoutError
from ..io import arrays
from .channels import ChannelSpec

__all__ = ["FlatHits", "ScatterJob", "combine", "scatter_jobs"]

_Positions = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int32]]
"""A collection's per-event offsets and its hits' rows and columns."""


@dataclass(frozen=True)
class ScatterJob:
    """One collection's hits into one output channel, without copying what channels
    share: the three track channels hold the same ``row``/``col`` arrays.

    ``offsets`` (n_events + 1) index ``row``/``col`` (int32, the file's grid) and ``val``
    (float32; None: 1 per hit). ``channel`` is the output channel, or -1 when it depends
    on the hit: then ``ch`` gives it per hit (tracker layers; -1: none). ``row_offset``
    is added to the rows (endcap rows onto the EB grid); hits whose shifted row leaves
    the grid's rows (or is negative: a track that misses the ECAL) are not scattered."""

    offsets: npt.NDArray[np.int64]
    row: npt.NDArray[np.int32]
    col: npt.NDArray[np.int32]
    val: npt.NDArray[np.float32] | None
    channel: int
    ch: npt.NDArray[np.int32] | None = None
    row_offset: int = 0


@dataclass(frozen=True)
class FlatHits:
    """Jobs concatenated: ``offsets`` is (K, n_events + 1), K jobs one after the other,
    each with absolute per-event offsets into the flat arrays; rows shifted, ``ch`` -1
    for hits off the grid (the form of the vectorised numpy and torch scatters)."""

    offsets: npt.NDArray[np.int64]
    row: npt.NDArray[np.int32]
    col: npt.NDArray[np.int32]
    val: npt.NDArray[np.float32]
    ch: npt.NDArray[np.int32]


def combine(jobs: Sequence[ScatterJob], grid_rows: int) -> FlatHits:
    """The jobs as one flat set of hits (copies every job's arrays)."""
    sizes = np.cumsum([0] + [len(j.row) for j in jobs[:-1]])
    rows, vals, chs = [], [], []
    for j in jobs:
        row = j.row + np.int32(j.row_offset) if j.row_offset else j.row
        ch = np.full(len(row), j.channel, np.int32) if j.ch is None else j.ch.copy()
        ch[(row < 0) | (row >= grid_rows)] = -1
        rows.append(row)
        chs.append(ch)
        vals.append(np.ones(len(row), np.float32) if j.val is None else j.val)
    return FlatHits(
        np.stack([j.offsets + s for j, s in zip(jobs, sizes, strict=True)]),
        np.concatenate(rows),
        np.concatenate([j.col for j in jobs]),
        np.concatenate(vals),
        np.concatenate(chs),
    )


def _source_shape(spec: ChannelSpec) -> tuple[int, int]:
    return geo.HCAL_SHAPE if spec.grid == "hcal" else geo.ECAL_SHAPE


def _positions(chunk: Any, spec: ChannelSpec, cache: dict[str, _Positions]) -> _Positions:
    """Offsets, rows, cols of a collection, checked against its grid (cached per call)."""
    coll = spec.sparse_collection
    key = f"{coll}:{spec.sparse_row}:{spec.sparse_col}"
    if key in cache:
        return cache[key]
    rj, raw_row, raw_col, _ = arrays.hit_cells(
        chunk,
        coll,
        spec.sparse_row,
        spec.sparse_col,
        _source_shape(spec),
        why=f"channel {spec.name!r}",
        optional=spec.position_optional,
    )
    row, col = raw_row.astype(np.int32), raw_col.astype(np.int32)
    cache[key] = (rj.offsets, row, col)
    return rj.offsets, row, col


def _values(chunk: Any, spec: ChannelSpec, n: int) -> npt.NDArray[np.float32] | None:
    if spec.sparse_value is None:
        return None
    name = f"{spec.sparse_collection}_{spec.sparse_value}"
    vj = arrays.jagged(arrays.branch(chunk, name, layout="sparse", why=f"channel {spec.name!r}"))
    if len(vj.values) != n:
        msg = f"branch {name!r} has {len(vj.values)} hits, its row branch {n}"
        raise FileLayoutError(msg)
    return vj.values.astype(np.float32, copy=False)


def scatter_jobs(
    chunk: Any,
    channels: Sequence[tuple[ChannelSpec, int]],
    cache: dict[str, _Positions] | None = None,
) -> list[ScatterJob]:
    """Jobs filling output channel ``c`` with ``spec`` for each ``(spec, c)``; all specs
    must share one grid (the caller groups them)."""
    cache = {} if cache is None else cache
    jobs: list[ScatterJob] = []
    tracker = [(s, c) for s, c in channels if s.sparse_layer is not None]
    for spec, c in channels:
        if spec.sparse_layer is not None:
            continue
        offsets, row, col = _positions(chunk, spec, cache)
        val = _values(chunk, spec, len(row))
        jobs.append(ScatterJob(offsets, row, col, val, c, row_offset=spec.sparse_row_offset))
    if tracker:
        spec0 = tracker[0][0]
        offsets, row, col = _positions(chunk, spec0, cache)
        lname = f"{spec0.sparse_collection}_layer"
        layer = arrays.integer_values(
            arrays.jagged(
                arrays.branch(chunk, lname, layout="sparse", why=f"channel {spec0.name!r}")
            ).values,
            lname,
            "tracker layers",
        )
        if len(layer) and (layer.min() < 0 or layer.max() >= len(geo.TRACKER_LAYERS)):
            h = int(np.flatnonzero((layer < 0) | (layer >= len(geo.TRACKER_LAYERS)))[0])
            msg = f"{lname}[{h}] = {layer[h]} is not a tracker layer index 0..{len(geo.TRACKER_LAYERS) - 1}"
            raise BadInputError(msg)
        lut = np.full(len(geo.TRACKER_LAYERS), -1, dtype=np.int32)
        for spec, c in tracker:
            lut[spec.sparse_layer] = c
        jobs.append(ScatterJob(offsets, row, col, None, -1, lut[layer]))
    return jobs
