"""e/gamma frames: 32x32 EB crystals around the most energetic crystal of the object.

The seed crystal sits at index [15, 15], so a frame spans EB rows ``seed - 15`` ..
``seed + 16`` and columns likewise, modulo 360 (phi wraps). Near the barrel ends (EB
rows outside 0..169) the frame is **zero-padded**, not shifted, exactly like jet frames;
``records.in_frame`` says whether the whole window lay inside the barrel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .. import geometry as geo
from ..layouts import Layout
from ._fill import fill_frames, finish_frames
from .frame_backend import FrameBackend
from .jets import prepare_build
from .normalisation import Normalisation
from .objects import check_layout, object_records
from .records import ObjectRecords, ObjectSelection

__all__ = ["build_eg_frames", "eg_records"]

SEED = 15  # seed index inside the 32x32 frame


def eg_records(
    chunk: Any,
    layout: Layout,
    objects: ObjectSelection | Any | None = None,
    *,
    entry_offset: int = 0,
) -> ObjectRecords:
    """Records of the selected e/gamma candidates (default: all), seeds checked against EB."""
    return object_records(chunk, check_layout(layout), "eg", objects, entry_offset=entry_offset)


def build_eg_frames(
    chunk: Any,
    *,
    layout: Layout,
    channels: Sequence[str] | str = ("eb_energy", "eb_time"),
    objects: ObjectSelection | Any | None = None,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    norm: Normalisation | str | None = None,
    nonfinite: Literal["raise", "mask"] = "raise",
) -> tuple[Any, ObjectRecords]:
    """(n_objects, C, 32, 32) frames around each e/gamma seed crystal, zero-padded past
    the barrel ends; ECAL-grid channels (tracks, tracker) are allowed, HCAL is not."""
    specs, nrm, be = prepare_build(
        chunk,
        "eg",
        layout=layout,
        channels=channels,
        backend=backend,
        device=device,
        dtype=dtype,
        norm=norm,
        nonfinite=nonfinite,
    )
    rec = eg_records(chunk, layout, objects)
    r0 = rec.seed_row - SEED + geo.EB_FIRST_ROW  # on the ECAL grid
    c0 = (rec.seed_col - SEED) % geo.ECAL_SHAPE[1]
    filled = fill_frames(be, chunk, layout, specs, rec.event, r0, c0, geo.EG_FRAME)
    frames, masked = finish_frames(
        be,
        filled,
        specs,
        rec.event,
        rec.index,
        "e/gamma object",
        nonfinite=nonfinite,
        norm=nrm,
        dtype=dtype,
    )
    rec.nonfinite[:] = masked
    return frames, rec
