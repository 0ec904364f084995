"""Jet frames with the E2E crop convention, from either layout, for R = 0.4 jets and
R = 0.8 FatJets alike (one builder: a FatJet's frame is the jet window on its seed).

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

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError
from ..io import arrays
from ..layouts import FrameKind, Layout
from ._fill import fill_frames, finish_frames
from .channels import ChannelSpec, required_branches, resolve_channels
from .frame_backend import FrameBackend, check_dtype, get_backend
from .normalisation import Normalisation, resolve_norm
from .objects import check_layout, object_records
from .records import ObjectRecords, ObjectSelection

__all__ = [
    "build_fatjet_frames",
    "build_jet_frames",
    "check_layout",
    "check_nonfinite",
    "jet_records",
    "jet_windows",
    "prepare_build",
    "require_channels",
]

HALF = geo.JET_FRAME // 2  # 62


def check_nonfinite(mode: str) -> None:
    if mode not in ("raise", "mask"):
        msg = f"nonfinite must be 'raise' or 'mask', got {mode!r}"
        raise BadInputError(msg)


JetKind = Literal["jet", "fatjet"]


def jet_records(
    chunk: Any,
    layout: Layout,
    jets: ObjectSelection | Any | None = None,
    *,
    entry_offset: int = 0,
    kind: JetKind = "jet",
) -> ObjectRecords:
    """Records of the selected jets (default: all; ``kind="fatjet"``: the R = 0.8 FatJets),
    seeds checked against the HCAL grid."""
    if kind not in ("jet", "fatjet"):
        msg = f"jet frames are for kind 'jet' or 'fatjet', got {kind!r}"
        raise BadInputError(msg)
    return object_records(chunk, check_layout(layout), kind, jets, entry_offset=entry_offset)


def jet_windows(
    ieta: npt.NDArray[np.int64], iphi: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Top-left ECAL pixel (row may be negative; column in 0..359) of each jet window."""
    f = geo.HCAL_TO_ECAL
    return f * ieta + 2 - HALF, (f * iphi + 2 - HALF) % geo.ECAL_SHAPE[1]


def build_jet_frames(
    chunk: Any,
    *,
    layout: Layout,
    channels: Sequence[str] | str,
    jets: ObjectSelection | Any | None = None,
    backend: Literal["numpy", "torch"] | FrameBackend = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    norm: Normalisation | str | None = None,
    smooth_endcap: bool = False,
    nonfinite: Literal["raise", "mask"] = "raise",
    kind: JetKind = "jet",
    out: npt.NDArray[np.float32] | None = None,
) -> tuple[Any, ObjectRecords]:
    """(n_jets, C, 125, 125) frames of the selected jets and their records.

    ``kind="fatjet"`` takes the R = 0.8 FatJets instead (:func:`build_fatjet_frames`):
    the same window, on the seed tower of the FatJet axis.

    ``channels``: names in the order wanted, or a preset name (``qg``, ``top8``,
    ``tau13``). ``jets``: a :class:`ObjectSelection` or jagged boolean mask; default all.
    Frames are a numpy array (``backend="numpy"``) or a torch tensor on ``device``.
    Windows leaving the eta acceptance are zero-padded and flagged
    ``records.in_frame == False``, never dropped. Non-finite pixels raise
    :class:`~e2e_coffea.exceptions.NonFiniteInputError` or, with ``nonfinite="mask"``, become 0 and are
    counted in ``records.nonfinite``.

    ``out``: a float32 numpy array of the frames' shape (numpy backend) to build into
    and return (with ``dtype="float32"``), instead of a new one each call: a loop that
    builds batch after batch into the same array skips allocating and page-faulting
    the frames' memory, which took more time than scattering the hits.
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
    rec = jet_records(chunk, layout, jets, kind=kind)
    r0, c0 = jet_windows(rec.seed_row, rec.seed_col)
    filled = fill_frames(
        be, chunk, layout, specs, rec.event, r0, c0, geo.JET_FRAME, smooth_endcap=smooth_endcap,
        out=out,
    )  # fmt: skip
    frames, masked = finish_frames(
        be, filled, specs, rec.event, rec.index, "jet", nonfinite=nonfinite, norm=nrm, dtype=dtype
    )
    rec.nonfinite[:] = masked
    return frames, rec


def build_fatjet_frames(
    chunk: Any,
    *,
    layout: Layout,
    channels: Sequence[str] | str,
    fatjets: ObjectSelection | Any | None = None,
    **options: Any,
) -> tuple[Any, ObjectRecords]:
    """(n_fatjets, C, 125, 125) frames of the selected R = 0.8 FatJets and their records:
    :func:`build_jet_frames` with ``kind="fatjet"`` (same options)."""
    return build_jet_frames(
        chunk, layout=layout, channels=channels, jets=fatjets, kind="fatjet", **options
    )


def prepare_build(
    chunk: Any,
    frame: FrameKind,
    *,
    layout: Layout,
    channels: Sequence[str] | str,
    backend: str | FrameBackend,
    device: str,
    dtype: str,
    norm: Normalisation | str | None,
    nonfinite: str,
) -> tuple[tuple[ChannelSpec, ...], Normalisation | None, FrameBackend]:
    """Every argument check of a frame builder, before any work: channels, layout,
    options, normalisation for these channels, backend, and the chunk's branches."""
    specs = resolve_channels(channels, frame=frame)
    checked = check_layout(layout)
    check_nonfinite(nonfinite)
    check_dtype(dtype)
    nrm = resolve_norm(norm)
    if nrm is not None:
        nrm.vectors([s.name for s in specs])  # unknown channels fail before any work
    be = get_backend(backend, device)
    require_channels(chunk, checked, specs)
    return specs, nrm, be


def require_channels(chunk: Any, layout: Layout, specs: Sequence[ChannelSpec]) -> None:
    """MissingBranchError naming branch and channel up front, even for an empty chunk."""
    for spec in specs:
        arrays.require(
            chunk,
            required_branches([spec.name], layout),
            layout=layout,
            why=f"channel {spec.name!r}",
        )
