"""Jet frames with the E2E crop convention, from either layout.

Convention (CMS MLAnalyzer ``RecHitAnalyzer`` jet images and the ``crop_jet`` of its
converters): a 125x125 window of the 280x360 ECAL grid centred on row
``5 * jetSeed_ieta + 2`` and column ``5 * jetSeed_iphi + 2`` (the centre crystal of the
seed HCAL tower), spanning +-62 pixels. Columns wrap modulo 360; rows outside 0..279
are zero-padded, never clipped or shifted. The window is tower-aligned
(rows ``5 * (ieta - 12)`` .. ``5 * (ieta + 12) + 4``), so HCAL is the 25x25 tower window
upsampled 5x5 with 1/25 of the tower per crystal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import awkward as ak
import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, SeedRangeError
from . import _chunk
from ._fill import fill_frames, finish_frames
from .backends import FrameBackend, check_dtype, get_backend
from .channels import ChannelSpec, required_branches, resolve_channels
from .normalisation import Normalisation, resolve_norm
from .records import JetRecords, JetSelection

__all__ = [
    "JET_BRANCHES",
    "build_jet_frames",
    "check_layout",
    "check_nonfinite",
    "jet_records",
    "jet_windows",
    "require_channels",
    "select_objects",
]

JET_BRANCHES: dict[str, dict[str, str]] = {
    "sparse": {
        "ieta": "Jet_seedIeta",
        "iphi": "Jet_seedIphi",
        "pt": "Jet_pt",
        "eta": "Jet_eta",
        "phi": "Jet_phi",
        "label": "Jet_label",
    },
    "e2e": {
        "ieta": "jetSeed_ieta",
        "iphi": "jetSeed_iphi",
        "pt": "jet_Pt",
        "eta": "jet_Eta",
        "phi": "jet_Phi",
        "label": "jet_label",
    },
}
HALF = geo.JET_FRAME // 2  # 62


def check_layout(layout: str) -> None:
    if layout not in JET_BRANCHES:
        msg = f"unknown layout {layout!r}; valid layouts: {sorted(JET_BRANCHES)}"
        raise BadInputError(msg)


def check_nonfinite(mode: str) -> None:
    if mode not in ("raise", "mask"):
        msg = f"nonfinite must be 'raise' or 'mask', got {mode!r}"
        raise BadInputError(msg)


def _check_mask_shape(mask: Any, counts: npt.NDArray[np.int64]) -> None:
    """A jagged mask must have one entry per object of every event."""
    got = np.asarray(ak.num(ak.Array(mask), axis=1), dtype=np.int64)
    if len(got) != len(counts):
        msg = f"the selection mask is not shaped like the objects of the chunk ({len(got)} events vs {len(counts)})"
        raise BadInputError(msg)
    bad = np.flatnonzero(got != counts)
    if len(bad):
        e = int(bad[0])
        msg = (
            f"the selection mask is not shaped like the objects of the chunk "
            f"(event {e}: {int(got[e])} vs {int(counts[e])})"
        )
        raise BadInputError(msg)


def select_objects(
    jets: JetSelection | Any | None, counts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if jets is None:
        event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        return event, np.arange(len(event), dtype=np.int64) - first
    if isinstance(jets, JetSelection):
        sel = jets
    else:
        sel = JetSelection.from_mask(jets)  # checks it is a jagged boolean array
        _check_mask_shape(jets, counts)
    event = np.asarray(sel.event, dtype=np.int64)
    jet = np.asarray(sel.jet, dtype=np.int64)
    if len(event) != len(jet):
        msg = f"JetSelection has {len(event)} events but {len(jet)} jet indices"
        raise BadInputError(msg)
    bad = (event < 0) | (event >= len(counts))
    bad[~bad] = (jet[~bad] < 0) | (jet[~bad] >= counts[event[~bad]])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        have = int(counts[event[k]]) if 0 <= event[k] < len(counts) else 0
        msg = (
            f"selected jet {int(jet[k])} of event {int(event[k])} does not exist "
            f"(chunk has {len(counts)} events, that event {have} jets)"
        )
        raise BadInputError(msg)
    return event, jet


def jet_records(chunk: Any, layout: str, jets: JetSelection | Any | None = None) -> JetRecords:
    """Records of the selected jets (default: all), seeds checked against the HCAL grid."""
    check_layout(layout)
    names = JET_BRANCHES[layout]
    ieta_j = _chunk.jagged(_chunk.branch(chunk, names["ieta"], layout=layout, why="jet seeds"))
    iphi_j = _chunk.jagged(_chunk.branch(chunk, names["iphi"], layout=layout, why="jet seeds"))
    counts = ieta_j.counts
    event, jet = select_objects(jets, counts)
    flat = ieta_j.offsets[event] + jet
    ieta = ieta_j.values[flat].astype(np.int64)
    iphi = iphi_j.values[flat].astype(np.int64)
    bad = (ieta < 0) | (ieta >= geo.HCAL_SHAPE[0]) | (iphi < 0) | (iphi >= geo.HCAL_SHAPE[1])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"jet {int(jet[k])} of event {int(event[k])} has seed (ieta={int(ieta[k])}, "
            f"iphi={int(iphi[k])}); expected ieta in 0..{geo.HCAL_SHAPE[0] - 1} and "
            f"iphi in 0..{geo.HCAL_SHAPE[1] - 1}"
        )
        raise SeedRangeError(msg)
    have = set(_chunk.fields_of(chunk))

    def column(key: str, dtype: Any, fill: Any) -> npt.NDArray[Any]:
        if names[key] not in have:  # kinematics are optional: frames do not need them
            return np.full(len(event), fill, dtype=dtype)
        return _chunk.jagged(chunk[names[key]]).values[flat].astype(dtype)

    r0 = geo.HCAL_TO_ECAL * ieta - HALF + 2
    return JetRecords(
        event=event,
        jet=jet,
        ieta=ieta,
        iphi=iphi,
        pt=column("pt", np.float32, np.nan),
        eta=column("eta", np.float32, np.nan),
        phi=column("phi", np.float32, np.nan),
        label=column("label", np.int64, -1),
        in_frame=(r0 >= 0) & (r0 + geo.JET_FRAME <= geo.ECAL_SHAPE[0]),
        nonfinite=np.zeros(len(event), dtype=np.int64),
    )


def jet_windows(
    ieta: npt.NDArray[np.int64], iphi: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Top-left ECAL pixel (row may be negative; column in 0..359) of each jet window."""
    f = geo.HCAL_TO_ECAL
    return f * ieta + 2 - HALF, (f * iphi + 2 - HALF) % geo.ECAL_SHAPE[1]


def build_jet_frames(
    chunk: Any,
    *,
    layout: Literal["e2e", "sparse"],
    channels: Sequence[str] | str,
    jets: JetSelection | Any | None = None,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    norm: Normalisation | str | None = None,
    smooth_endcap: bool = False,
    nonfinite: Literal["raise", "mask"] = "raise",
) -> tuple[Any, JetRecords]:
    """(n_jets, C, 125, 125) frames of the selected jets and their records.

    ``channels``: names in the order wanted, or a preset name (``qg``, ``top8``,
    ``tau13``). ``jets``: a :class:`JetSelection` or jagged boolean mask; default all.
    Frames are a numpy array (``backend="numpy"``) or a torch tensor on ``device``.
    Windows leaving the eta acceptance are zero-padded and flagged
    ``records.in_frame == False``, never dropped. Non-finite pixels raise
    :class:`NonFiniteInputError` or, with ``nonfinite="mask"``, become 0 and are
    counted in ``records.nonfinite``.
    """
    specs, nrm, be = prepare_build(
        chunk,
        "jet",
        layout=layout,
        channels=channels,
        backend=backend,
        device=device,
        dtype=dtype,
        norm=norm,
        nonfinite=nonfinite,
    )
    rec = jet_records(chunk, layout, jets)
    r0, c0 = jet_windows(rec.ieta, rec.iphi)
    filled = fill_frames(
        be, chunk, layout, specs, rec.event, r0, c0, geo.JET_FRAME, smooth_endcap=smooth_endcap
    )
    frames, masked = finish_frames(
        be, filled, specs, rec.event, rec.jet, "jet", nonfinite=nonfinite, norm=nrm, dtype=dtype
    )
    rec.nonfinite[:] = masked
    return frames, rec


def prepare_build(
    chunk: Any,
    frame: Literal["jet", "eg"],
    *,
    layout: str,
    channels: Sequence[str] | str,
    backend: str | FrameBackend,
    device: str,
    dtype: str,
    norm: Normalisation | str | None,
    nonfinite: str,
) -> tuple[list[ChannelSpec], Normalisation | None, FrameBackend]:
    """Every argument check of a frame builder, before any work: channels, layout,
    options, normalisation for these channels, backend, and the chunk's branches."""
    specs = resolve_channels(channels, frame=frame)
    check_layout(layout)
    check_nonfinite(nonfinite)
    check_dtype(dtype)
    nrm = resolve_norm(norm)
    if nrm is not None:
        nrm.vectors([s.name for s in specs])  # unknown channels fail before any work
    be = get_backend(backend, device)
    require_channels(chunk, layout, specs)
    return specs, nrm, be


def require_channels(chunk: Any, layout: str, specs: Sequence[ChannelSpec]) -> None:
    """MissingBranchError naming branch and channel up front, even for an empty chunk."""
    for spec in specs:
        _chunk.require(
            chunk,
            required_branches([spec.name], layout),
            layout=layout,
            why=f"channel {spec.name!r}",
        )
