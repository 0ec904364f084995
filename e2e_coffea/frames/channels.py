"""Channel registry and presets: *data*, so builders, models and the CLI share one truth.

A channel is one image plane of a frame. Each entry says on which grid it lives and how
to get it from either layout: the dense e2e branch to crop, or the sparse collection,
the fields giving its grid position, and the field summed per cell (``None``: the cell
counts hits). Presets are ordered channel lists from the E2E literature; a user's own
list is used in the user's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .. import geometry as geo
from ..exceptions import ChannelError
from ..layouts import FrameKind, Layout, frame_of, tracker_image_name

__all__ = [
    "CHANNELS",
    "GRID_SHAPES",
    "PRESETS",
    "ChannelSpec",
    "Grid",
    "Preset",
    "list_channels",
    "list_presets",
    "required_branches",
    "resolve_channels",
]

Grid = Literal["ecal", "eb", "hcal"]
GRID_SHAPES: Final[dict[str, tuple[int, int]]] = {
    "ecal": geo.ECAL_SHAPE,
    "eb": geo.EB_SHAPE,
    "hcal": geo.HCAL_SHAPE,
}


@dataclass(frozen=True)
class ChannelSpec:
    """Where one channel comes from in each layout.

    ``sparse_row_offset`` maps the hit's row onto ``grid`` (EB row = ECAL row - 55);
    hits falling outside the grid after that shift are not part of the channel.
    ``position_optional``: a row of -1 means "no position" (tracks that do not reach
    the ECAL) and the hit is skipped instead of rejected.
    """

    name: str
    grid: Grid
    e2e_branch: str
    sparse_collection: str
    sparse_row: str
    sparse_col: str
    sparse_value: str | None  # None: count hits
    description: str
    sparse_layer: int | None = None
    sparse_row_offset: int = 0
    position_optional: bool = False


def _track(name: str, field: str, image: str, what: str) -> ChannelSpec:
    return ChannelSpec(
        name,
        "ecal",
        f"ECAL_tracks{image}_atECALfixIP",
        "Track",
        "row",
        "col",
        field,
        f"sum of track {what} per ECAL-face cell (fixed-IP propagation)",
        position_optional=True,
    )


def _tracker(index: int, layer: str) -> ChannelSpec:
    return ChannelSpec(
        layer,
        "ecal",
        tracker_image_name(layer),
        "TrackerHit",
        "row",
        "col",
        None,
        f"{layer} hit count per cell, projected from the PV",
        sparse_layer=index,
    )


CHANNELS: Final[dict[str, ChannelSpec]] = {
    spec.name: spec
    for spec in (
        _track("track_pt", "pt", "Pt", "pT [GeV]"),
        _track("track_d0", "d0", "D0", "d0 [cm]"),
        _track("track_dz", "dz", "Dz", "dz [cm]"),
        _track("track_d0sig", "d0sig", "D0Sig", "d0 significance"),
        _track("track_dzsig", "dzsig", "DzSig", "dz significance"),
        ChannelSpec(
            "ecal",
            "ecal",
            "ECAL_energy",
            "EcalHit",
            "row",
            "col",
            "energy",
            "ECAL crystal energy [GeV] on the stitched EE-EB-EE grid",
        ),
        ChannelSpec(
            "hcal",
            "hcal",
            "HBHE_energy",
            "HcalHit",
            "ieta",
            "iphi",
            "energy",
            "HCAL tower energy [GeV], upsampled 5x5 with 1/25 per crystal (conserved)",
        ),
        *(_tracker(i, layer) for i, layer in enumerate(geo.TRACKER_LAYERS)),
        ChannelSpec(
            "eb_energy",
            "eb",
            "EB_energy",
            "EcalHit",
            "row",
            "col",
            "energy",
            "EB crystal energy [GeV]",
            sparse_row_offset=-geo.EB_FIRST_ROW,
        ),
        ChannelSpec(
            "eb_time",
            "eb",
            "EB_time",
            "EcalHit",
            "row",
            "col",
            "time",
            "EB crystal time [ns]",
            sparse_row_offset=-geo.EB_FIRST_ROW,
        ),
    )
}
"""Every channel a frame can hold, by name."""


@dataclass(frozen=True)
class Preset:
    """A named, ordered channel list and the frame kind it was defined for."""

    name: str
    channels: tuple[str, ...]
    frame: FrameKind
    source: str


PRESETS: Final[dict[str, Preset]] = {
    p.name: p
    for p in (
        Preset(
            "qg",
            ("track_pt", "ecal", "hcal"),
            "jet",
            # Andrews et al., "End-to-end jet classification of quarks and gluons with
            # the CMS Open Data", NIM A 977 (2020) 164304, arXiv:1902.08276: Tracks pT,
            # ECAL, HCAL.
            "E2E quark-gluon, arXiv:1902.08276",
        ),
        Preset(
            "top8",
            ("track_pt", "track_d0", "track_dz", "ecal", "hcal", "bpix1", "bpix2", "bpix3"),
            "jet",
            # Andrews et al., "End-to-end jet classification of boosted top quarks with
            # the CMS Open Data", EPJ Web Conf. 251 (2021) 04030, arXiv:2104.14659:
            # pT, d0, dz, ECAL, HCAL, BPix layers 1-3.
            "E2E boosted top, arXiv:2104.14659",
        ),
        Preset(
            "tau13",
            (
                "track_pt",
                "track_dzsig",
                "track_d0sig",
                "ecal",
                "hcal",
                "bpix1",
                "bpix2",
                "bpix3",
                "bpix4",
                "tib1",
                "tib2",
                "tob1",
                "tob2",
            ),
            "jet",
            # CMS MLAnalyzer tau converter (convert_root2pq_tau_jet): X_CMSII stacks
            # pt, dzsig, d0sig, ECAL, HBHE, BPIX 1-4, TIB 1-2, TOB 1-2 in this order.
            "MLAnalyzer tau jet converter channel order",
        ),
        Preset(
            "btag",
            (
                "track_pt",
                "track_d0sig",
                "track_dzsig",
                "ecal",
                "hcal",
                "bpix1",
                "bpix2",
                "bpix3",
                "bpix4",
            ),
            "jet",
            # b tagging from images: the impact-parameter significances that CMS's b
            # taggers are built on [CMS, JINST 13 (2018) P05011, sec. 4] and the pixel
            # hits (a B hadron flying ~ 5 mm leaves hits displaced from the jet's
            # prompt tracks), with the calorimeters for the jet's shape.
            "e2e-coffea b tagging: d0/dz significance, pixels; JINST 13 (2018) P05011, arXiv:1712.07158",
        ),
        Preset(
            "eg",
            ("eb_energy", "eb_time"),
            "eg",
            # E2E electron/photon ID: EB energy and timing crops, 32x32 around the most
            # energetic crystal. Andrews et al., "End-to-end event classification of
            # high-energy physics data", J. Phys. Conf. Ser. 1085 (2018) 042022,
            # arXiv:1711.03573.
            "E2E e/gamma, arXiv:1711.03573",
        ),
    )
}


def list_channels() -> list[str]:
    return list(CHANNELS)


def list_presets() -> list[str]:
    return list(PRESETS)


def resolve_channels(
    channels: Sequence[str] | str, *, frame: str = "jet"
) -> tuple[ChannelSpec, ...]:
    """Channel specs in the user's order; a string names a preset (or one channel).

    ``frame``: the window geometry or an object kind (``fatjet`` frames are jet windows).
    ``frame="eg"`` refuses HCAL: a 32x32 crystal window is not tower-aligned.

    >>> [spec.name for spec in resolve_channels("qg")]
    ['track_pt', 'ecal', 'hcal']
    >>> resolve_channels(["ecal", "hcal"], frame="eg")
    Traceback (most recent call last):
    ...
    e2e_coffea.exceptions.ChannelError: channel 'hcal' (HCAL towers) cannot be cropped to a 32x32 e/gamma window
    """
    frame = frame_of(frame)
    if isinstance(channels, str):
        if channels in PRESETS:
            names: tuple[str, ...] = PRESETS[channels].channels
        elif channels in CHANNELS:
            names = (channels,)
        else:
            msg = (
                f"unknown channel preset {channels!r}; presets: {list_presets()}, "
                f"channels: {list_channels()}"
            )
            raise ChannelError(msg)
    else:
        names = tuple(channels)
    if not names:
        msg = f"no channels requested; choose from {list_channels()} or a preset {list_presets()}"
        raise ChannelError(msg)
    specs = []
    for name in names:
        if name not in CHANNELS:
            msg = f"unknown channel {name!r}; valid channels: {list_channels()}"
            raise ChannelError(msg)
        spec = CHANNELS[name]
        if frame == "eg" and spec.grid == "hcal":
            msg = f"channel {name!r} (HCAL towers) cannot be cropped to a 32x32 e/gamma window"
            raise ChannelError(msg)
        specs.append(spec)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        msg = f"channels {dupes} requested more than once in {list(names)}"
        raise ChannelError(msg)
    return tuple(specs)


def required_branches(
    channels: Sequence[str] | str,
    layout: Layout,
    *,
    frame: str = "jet",
) -> list[str]:
    """Branches to read for these channels, so a processor can ask uproot for no more."""
    out: list[str] = []
    for spec in resolve_channels(channels, frame=frame):
        if layout == "e2e":
            names = [spec.e2e_branch]
        else:
            c = spec.sparse_collection
            names = [f"{c}_{spec.sparse_row}", f"{c}_{spec.sparse_col}"]
            if spec.sparse_value is not None:
                names.append(f"{c}_{spec.sparse_value}")
            if spec.sparse_layer is not None:
                names.append(f"{c}_layer")
        out.extend(n for n in names if n not in out)
    return out
