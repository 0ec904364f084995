"""Whole-event images on the 280x360 ECAL grid, one event at a time, from either layout.

The event display needs the full detector picture of a single event (to outline the jet
windows in it), not a batch of crops, so this reads one event's hits or dense images and
puts every channel on the ECAL grid: EB rows go to 55..224, HCAL towers are spread over
their 5x5 crystals with 1/25 of the energy each, the convention of the jet frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError
from ..frames import CHANNELS, ChannelSpec, required_branches
from ..frames.channels import GRID_SHAPES
from ..io import dense_image
from ..layouts import Layout

__all__ = ["available_channels", "event_images", "to_ecal_grid"]


def available_channels(
    chunk: Any, layout: Layout, channels: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(channels whose branches the chunk has, channels it lacks), both in request order."""
    have = set(ak.fields(chunk)) if isinstance(chunk, ak.Array) else set(chunk)
    ok: list[str] = []
    missing: list[str] = []
    for name in channels:
        need = required_branches([name], layout)
        (ok if all(b in have for b in need) else missing).append(name)
    return ok, missing


def to_ecal_grid(plane: npt.NDArray[Any], grid: str) -> npt.NDArray[np.float32]:
    """A channel's plane on its own grid (ECAL, EB or HCAL) placed on the 280x360 ECAL grid."""
    p = np.asarray(plane, dtype=np.float32)
    if grid == "ecal":
        return p
    if grid == "eb":
        out = np.zeros(geo.ECAL_SHAPE, np.float32)
        out[geo.EB_FIRST_ROW : geo.EB_FIRST_ROW + geo.EB_SHAPE[0]] = p
        return out
    if grid == "hcal":
        f = geo.HCAL_TO_ECAL
        return np.kron(p, np.full((f, f), 1.0 / (f * f), np.float32)).astype(np.float32)
    msg = f"unknown grid {grid!r}; expected ecal, eb or hcal"
    raise BadInputError(msg)


def _values(chunk: Any, name: str, event: int) -> npt.NDArray[Any]:
    return np.asarray(ak.to_numpy(ak.Array(chunk[name])[event]))


def _sparse_plane(chunk: Any, spec: ChannelSpec, event: int) -> npt.NDArray[np.float32]:
    """Scatter one event's hits of ``spec`` onto its grid, as the frame builders do."""
    c = spec.sparse_collection
    raw_row = _values(chunk, f"{c}_{spec.sparse_row}", event).astype(np.int64)
    col = _values(chunk, f"{c}_{spec.sparse_col}", event).astype(np.int64)
    if spec.sparse_value is None:
        val = np.ones(len(raw_row), np.float32)
    else:
        val = _values(chunk, f"{c}_{spec.sparse_value}", event).astype(np.float32)
    keep = np.ones(len(raw_row), bool)
    if spec.position_optional:
        keep &= raw_row >= 0
    if spec.sparse_layer is not None:
        keep &= _values(chunk, f"{c}_layer", event).astype(np.int64) == spec.sparse_layer
    shape = GRID_SHAPES[spec.grid]
    row = raw_row + spec.sparse_row_offset
    keep &= (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    plane = np.zeros(shape, np.float32)
    np.add.at(plane, (row[keep], col[keep]), val[keep])
    return plane


def event_images(
    chunk: Any, layout: Layout, channels: Sequence[str], event: int
) -> npt.NDArray[np.float32]:
    """(C, 280, 360) images of event ``event`` of ``chunk``, raw values, on the ECAL grid."""
    if layout not in ("sparse", "e2e"):
        msg = f"unknown layout {layout!r}; expected 'sparse' or 'e2e'"
        raise BadInputError(msg)
    n = len(chunk)
    if not 0 <= event < n:
        msg = f"event {event} is not in the chunk (it holds {n} events)"
        raise BadInputError(msg)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        msg = f"unknown channel(s) {unknown}; valid channels: {list(CHANNELS)}"
        raise BadInputError(msg)
    out = np.zeros((len(channels), *geo.ECAL_SHAPE), np.float32)
    for i, name in enumerate(channels):
        spec = CHANNELS[name]
        if layout == "e2e":
            plane = dense_image(chunk[event : event + 1], spec.e2e_branch)[0]
        else:
            plane = _sparse_plane(chunk, spec, event)
        out[i] = to_ecal_grid(plane, spec.grid)
    return out
