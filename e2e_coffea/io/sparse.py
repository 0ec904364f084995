"""The sparse-hit layout: NanoAOD-style jagged collections, tree ``Events``."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import awkward as ak
import numpy as np

from ..exceptions import FileLayoutError
from ..layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES, SPARSE_TREE
from .files import SPARSE_COMPRESSION, write_tree

__all__ = ["SimChunk", "flatten_collections", "sparse_branches", "write_sparse"]

SimChunk = Mapping[str, ak.Array]
"""Collections of :data:`~e2e_coffea.layouts.SPARSE_COLLECTIONS` plus ``"event"``."""


def sparse_branches() -> list[str]:
    """Every branch a conforming sparse file holds, counters included."""
    out: list[str] = []
    for coll, fields in SPARSE_COLLECTIONS.items():
        out.append(f"n{coll}")
        out += [f"{coll}_{f}" for f in fields]
    return out + list(SPARSE_EVENT_BRANCHES)


def _check_chunk(chunk: SimChunk) -> int:
    missing = [k for k in (*SPARSE_COLLECTIONS, "event") if k not in chunk]
    if missing:
        msg = f"sparse chunk lacks collections {missing}"
        raise FileLayoutError(msg)
    n = len(chunk["event"])
    for coll, fields in SPARSE_COLLECTIONS.items():
        arr = chunk[coll]
        if len(arr) != n:
            msg = f"collection {coll} has {len(arr)} events, the chunk has {n}"
            raise FileLayoutError(msg)
        have = set(ak.fields(arr))
        if have != set(fields):
            msg = f"collection {coll} has fields {sorted(have)}, expected {list(fields)}"
            raise FileLayoutError(msg)
    return n


def flatten_collections(chunk: SimChunk) -> ak.Array:
    """The chunk as it reads back from disk: flat branch names (``EcalHit_row``) and counters."""
    n = _check_chunk(chunk)
    cols: dict[str, Any] = {}
    for coll, fields in SPARSE_COLLECTIONS.items():
        arr = chunk[coll]
        cols[f"n{coll}"] = ak.values_astype(ak.num(arr, axis=1), np.int32)
        for f in fields:
            cols[f"{coll}_{f}"] = arr[f]
    ev = chunk["event"]
    for b in SPARSE_EVENT_BRANCHES:
        cols[b] = ev[b]
    out = ak.zip(cols, depth_limit=1)
    if len(out) != n:  # pragma: no cover - zip keeps the length
        msg = "internal: flattened chunk length changed"
        raise FileLayoutError(msg)
    return out


def write_sparse(
    path: str | os.PathLike[str], chunks: list[SimChunk] | SimChunk, *, compression: Any = None
) -> int:
    """Write one or more chunks to ``path`` as tree ``Events``; returns the entries written."""
    chunk_list = [chunks] if isinstance(chunks, Mapping) else list(chunks)

    def batches() -> Iterator[dict[str, Any]]:
        for chunk in chunk_list:
            _check_chunk(chunk)
            data: dict[str, Any] = {coll: chunk[coll] for coll in SPARSE_COLLECTIONS}
            data.update({b: np.asarray(chunk["event"][b]) for b in SPARSE_EVENT_BRANCHES})
            yield data

    comp = compression if compression is not None else SPARSE_COMPRESSION
    return write_tree(
        path, SPARSE_TREE, batches(), compression=comp, title="e2e-coffea sparse hits"
    )
