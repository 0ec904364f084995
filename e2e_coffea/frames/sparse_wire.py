"""Objects as their own hits: the sparse wire format, and frames rebuilt from it.

A dense frame is mostly zeros (97.8-99.7 % for E2E jets), so a client that sends each
object's hits instead of its frame sends far fewer bytes; the server then builds the
frames next to the model with this same frame code. The format, per batch of ``B``
objects (sparse layout only):

* ``seeds`` int32 ``[B, 2]``: each object's seed (row, col) on its seed grid;
* per sparse collection the channels read (``EcalHit``, ``HcalHit``, ``Track``,
  ``TrackerHit``): ``<coll>_count`` int32 ``[B]``, the hits each object sends, and one
  flat ``[N]`` tensor per branch the channels read (``<coll>_row``, ``EcalHit_energy``,
  ...): positions and tracker layers int16, values float32, object after object.

Only hits inside the object's window on the collection's grid are sent: the scatter drops
every other hit, so leaving them out changes no pixel, and the kept hits keep their order
(every cell sums its hits in file order, bit for bit). :func:`frames_from_hits` rebuilds a
chunk with one object per event and calls :func:`build_jet_frames` or
:func:`build_eg_frames` on it: the frames equal the local ones bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, FileLayoutError
from ..io import arrays
from ..layouts import ObjectKind, frame_of
from .channels import resolve_channels
from .egamma import SEED, build_eg_frames
from .jets import build_jet_frames, jet_windows
from .normalisation import Normalisation
from .numpy_backend import object_hit_pairs
from .objects import object_records, object_table
from .records import ObjectRecords, ObjectSelection

__all__ = [
    "SEEDS",
    "WireCollection",
    "frames_from_hits",
    "object_hits",
    "wire_collections",
    "wire_tensors",
]

SEEDS: Final = "seeds"
"""The seeds tensor: int32 ``[B, 2]``."""
Kind = ObjectKind


@dataclass(frozen=True)
class WireCollection:
    """One sparse collection on the wire: the branches the channels read from it."""

    name: str
    hcal: bool
    """Positions are HCAL towers (else ECAL crystals)."""
    row: str
    col: str
    values: tuple[str, ...]
    layer: bool
    optional: bool
    """A negative row means "not placed" (tracks missing the ECAL)."""

    @property
    def count(self) -> str:
        return f"{self.name}_count"

    @property
    def integer_fields(self) -> tuple[str, ...]:
        return (self.row, self.col, *(("layer",) if self.layer else ()))

    def branch(self, field: str) -> str:
        return f"{self.name}_{field}"


def wire_collections(channels: Sequence[str] | str, kind: Kind) -> tuple[WireCollection, ...]:
    """The collections ``channels`` read, in the order they first appear."""
    specs = resolve_channels(channels, frame=frame_of(kind))
    out: dict[str, WireCollection] = {}
    for s in specs:
        c = out.get(s.sparse_collection)
        values = (s.sparse_value,) if s.sparse_value is not None else ()
        new = WireCollection(s.sparse_collection, s.grid == "hcal", s.sparse_row, s.sparse_col,
                             values, s.sparse_layer is not None, s.position_optional)  # fmt: skip
        if c is None:
            out[s.sparse_collection] = new
            continue
        if (c.row, c.col, c.hcal) != (new.row, new.col, new.hcal):  # pragma: no cover - registry
            msg = f"channels read collection {c.name!r} on two grids"
            raise BadInputError(msg)
        out[c.name] = WireCollection(
            c.name, c.hcal, c.row, c.col, tuple(dict.fromkeys((*c.values, *values))),
            c.layer or new.layer, c.optional and new.optional,
        )  # fmt: skip
    return tuple(out.values())


def wire_tensors(channels: Sequence[str] | str, kind: Kind) -> list[tuple[str, str, int]]:
    """``(name, numpy dtype, ndim)`` of every tensor of the format, in wire order."""
    out = [(SEEDS, "int32", 2)]
    for c in wire_collections(channels, kind):
        out.append((c.count, "int32", 1))
        out += [(c.branch(f), "int16", 1) for f in c.integer_fields]
        out += [(c.branch(f), "float32", 1) for f in c.values]
    return out


def _windows(
    kind: Kind, rec: ObjectRecords
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Top-left ECAL pixel and side of each object's window (as the builders place it)."""
    if frame_of(kind) == "jet":
        r0, c0 = jet_windows(rec.seed_row, rec.seed_col)
        return r0, c0, geo.JET_FRAME
    r0 = rec.seed_row - SEED + geo.EB_FIRST_ROW
    return r0, (rec.seed_col - SEED) % geo.ECAL_SHAPE[1], geo.EG_FRAME


def object_hits(
    chunk: Any,
    kind: Kind,
    channels: Sequence[str] | str,
    objects: ObjectSelection | Any | None = None,
) -> tuple[dict[str, npt.NDArray[Any]], ObjectRecords]:
    """The wire tensors of the selected objects (default: all) of a sparse-layout chunk,
    and their records (the ones the frame builders give)."""
    colls = wire_collections(channels, kind)
    rec = object_records(chunk, "sparse", kind, objects)
    r0, c0, size = _windows(kind, rec)
    out: dict[str, npt.NDArray[Any]] = {
        SEEDS: np.stack([rec.seed_row, rec.seed_col], axis=1).astype(np.int32).reshape(-1, 2)
    }
    for c in colls:
        shape = geo.HCAL_SHAPE if c.hcal else geo.ECAL_SHAPE
        why = f"collection {c.name!r} of the sparse wire"
        rj, row, col, placed = arrays.hit_cells(
            chunk, c.name, c.row, c.col, shape, why=why, optional=c.optional
        )
        f = geo.HCAL_TO_ECAL if c.hcal else 1
        side, top, left = size // f, r0 // f, c0 // f  # the scatter's window on this grid
        obj, hit = object_hit_pairs(rec.event, rj.offsets)
        i = row[hit].astype(np.int64) - top[obj]
        keep = placed[hit] & (i >= 0) & (i < side) & ((col[hit] - left[obj]) % shape[1] < side)
        obj, hit = obj[keep], hit[keep]
        out[c.count] = np.bincount(obj, minlength=len(rec)).astype(np.int32)
        out[c.branch(c.row)] = row[hit].astype(np.int16)
        out[c.branch(c.col)] = col[hit].astype(np.int16)
        if c.layer:
            out[c.branch("layer")] = _layers(chunk, c, len(row), why)[hit].astype(np.int16)
        for v in c.values:
            out[c.branch(v)] = _values(chunk, c, v, len(row), why)[hit].astype(np.float32)
    return out, rec


def _values(chunk: Any, c: WireCollection, field: str, n: int, why: str) -> npt.NDArray[Any]:
    name = c.branch(field)
    values = arrays.jagged(arrays.branch(chunk, name, layout="sparse", why=why)).values
    if len(values) != n:
        msg = f"branch {name!r} has {len(values)} hits, its row branch {n}"
        raise FileLayoutError(msg)
    return np.asarray(values)


def _layers(chunk: Any, c: WireCollection, n: int, why: str) -> npt.NDArray[Any]:
    """Every hit's tracker layer, checked as the local scatter checks it (all hits)."""
    name = c.branch("layer")
    layer = arrays.integer_values(_values(chunk, c, "layer", n, why), name, "tracker layers")
    bad = (layer < 0) | (layer >= len(geo.TRACKER_LAYERS))
    if bad.any():
        h = int(np.flatnonzero(bad)[0])
        msg = f"{name}[{h}] = {layer[h]} is not a tracker layer index 0..{len(geo.TRACKER_LAYERS) - 1}"
        raise BadInputError(msg)
    return layer


def frames_from_hits(
    tensors: Mapping[str, npt.NDArray[Any]],
    kind: Kind,
    channels: Sequence[str] | str,
    *,
    norm: Normalisation | None = None,
) -> npt.NDArray[np.float32]:
    """``(B, C, H, W)`` frames of the objects in ``tensors`` (the format above), built by
    the same builders as local frames on a chunk of one object per event."""
    import awkward as ak

    names = [n for n, _, _ in wire_tensors(channels, kind)]
    missing = [n for n in names if n not in tensors]
    if missing:
        msg = f"sparse wire: tensors {missing} missing (got {sorted(tensors)})"
        raise BadInputError(msg)
    seeds = np.asarray(tensors[SEEDS])
    if seeds.ndim != 2 or seeds.shape[1] != 2:
        msg = f"sparse wire: {SEEDS} must be [B, 2], got {list(seeds.shape)}"
        raise BadInputError(msg)
    n = len(seeds)
    table = object_table("sparse", kind)

    def jagged(values: npt.NDArray[Any], offsets: npt.NDArray[np.int64]) -> Any:
        content = ak.contents.NumpyArray(np.ascontiguousarray(values))
        return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))

    one = np.arange(n + 1, dtype=np.int64)
    chunk: dict[str, Any] = {
        table["seed_row"]: jagged(seeds[:, 0].astype(np.int64), one),
        table["seed_col"]: jagged(seeds[:, 1].astype(np.int64), one),
    }
    for c in wire_collections(channels, kind):
        counts = np.asarray(tensors[c.count]).astype(np.int64)
        if counts.shape != (n,) or (counts < 0).any():
            msg = f"sparse wire: {c.count} must be {n} counts >= 0 (one per seed), got shape {list(counts.shape)}"
            raise BadInputError(msg)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for f in (*c.integer_fields, *c.values):
            flat = np.asarray(tensors[c.branch(f)])
            if flat.shape != (int(offsets[-1]),):
                msg = f"sparse wire: {c.branch(f)} holds {list(flat.shape)} hits, {c.count} sums to {int(offsets[-1])}"
                raise BadInputError(msg)
            chunk[c.branch(f)] = jagged(flat, offsets)
    if kind != "eg":  # R = 0.4 and R = 0.8 jets share the jet window
        frames, _ = build_jet_frames(
            chunk, layout="sparse", channels=channels, norm=norm, kind=kind
        )
    else:
        frames, _ = build_eg_frames(chunk, layout="sparse", channels=channels, norm=norm)
    return np.asarray(frames, dtype=np.float32)
