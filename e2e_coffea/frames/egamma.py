"""e/gamma frames: 32x32 EB crystals around the most energetic crystal of the object.

The seed crystal sits at index [15, 15], so a frame spans EB rows ``seed - 15`` ..
``seed + 16`` and columns likewise, modulo 360 (phi wraps). Near the barrel ends (EB
rows outside 0..169) the frame is **zero-padded**, not shifted, exactly like jet frames;
``records.in_frame`` says whether the whole window lay inside the barrel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .. import geometry as geo
from ..exceptions import SeedRangeError
from . import _chunk
from ._fill import fill_frames, finish_frames
from .backends import FrameBackend
from .jets import check_layout, prepare_build, select_objects
from .normalisation import Normalisation
from .records import EGRecords, JetSelection

__all__ = ["EG_BRANCHES", "build_eg_frames", "eg_records"]

EG_BRANCHES: dict[str, dict[str, str]] = {
    "sparse": {
        "row": "EGamma_seedRow",
        "col": "EGamma_seedCol",
        "energy": "EGamma_energy",
        "pt": "EGamma_pt",
        "eta": "EGamma_eta",
        "label": "EGamma_label",
    },
    "e2e": {
        "row": "SC_ieta",
        "col": "SC_iphi",
        "energy": "SC_E",
        "pt": "SC_pT",
        "eta": "SC_eta",
        "label": "SC_label",
    },
}
SEED = 15  # seed index inside the 32x32 frame


def eg_records(chunk: Any, layout: str, objects: JetSelection | Any | None = None) -> EGRecords:
    check_layout(layout)
    names = EG_BRANCHES[layout]
    rj = _chunk.jagged(_chunk.branch(chunk, names["row"], layout=layout, why="e/gamma seeds"))
    cj = _chunk.jagged(_chunk.branch(chunk, names["col"], layout=layout, why="e/gamma seeds"))
    event, index = select_objects(objects, rj.counts)
    flat = rj.offsets[event] + index
    row = rj.values[flat].astype(np.int64)
    col = cj.values[flat].astype(np.int64)
    H, W = geo.EB_SHAPE
    bad = (row < 0) | (row >= H) | (col < 0) | (col >= W)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"e/gamma object {int(index[k])} of event {int(event[k])} has seed crystal "
            f"(row={int(row[k])}, col={int(col[k])}); expected EB row 0..{H - 1}, col 0..{W - 1}"
        )
        raise SeedRangeError(msg)
    have = set(_chunk.fields_of(chunk))

    def column(key: str, dtype: Any, fill: Any) -> Any:
        if names[key] not in have:
            return np.full(len(event), fill, dtype=dtype)
        return _chunk.jagged(chunk[names[key]]).values[flat].astype(dtype)

    return EGRecords(
        event=event,
        index=index,
        seed_row=row,
        seed_col=col,
        energy=column("energy", np.float32, np.nan),
        pt=column("pt", np.float32, np.nan),
        eta=column("eta", np.float32, np.nan),
        label=column("label", np.int64, -1),
        in_frame=(row - SEED >= 0) & (row - SEED + geo.EG_FRAME <= H),
        nonfinite=np.zeros(len(event), dtype=np.int64),
    )


def build_eg_frames(
    chunk: Any,
    *,
    layout: Literal["e2e", "sparse"],
    channels: Sequence[str] | str = ("eb_energy", "eb_time"),
    objects: JetSelection | Any | None = None,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    norm: Normalisation | str | None = None,
    nonfinite: Literal["raise", "mask"] = "raise",
) -> tuple[Any, EGRecords]:
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
