"""Frames: jet and e/gamma images and jet point clouds, from either file layout.

One convention, two layouts, two backends: frames from the sparse hits and frames
cropped from the dense e2e images are bitwise identical on the numpy backend, and the
torch backend builds the same numbers on the device where the model runs.

>>> frames, jets = build_jet_frames(chunk, layout="sparse", channels="qg")  # doctest: +SKIP
>>> frames.shape  # (n_jets, 3, 125, 125)  # doctest: +SKIP
"""

from __future__ import annotations

from ..layouts import Layout, ObjectKind
from .channels import (
    CHANNELS,
    PRESETS,
    ChannelSpec,
    Preset,
    list_channels,
    list_presets,
    required_branches,
    resolve_channels,
)
from .egamma import build_eg_frames
from .frame_backend import BACKENDS, get_backend
from .jets import build_fatjet_frames, build_jet_frames
from .model_inputs import BuiltInputs, ModelInputs
from .normalisation import ChannelNorm, Normalisation, list_norm_presets, load_norm
from .objects import object_records
from .pointcloud import FEATURES, PointCloudSpec, build_point_clouds, point_cloud_branches
from .records import (
    EGRecords,
    JetRecords,
    JetSelection,
    ObjectRecords,
    ObjectSelection,
    PointClouds,
)
from .selection import (
    JetCuts,
    KinematicRange,
    ObjectCuts,
    Selected,
    ValidityRangeWarning,
    cut_steps,
    select_objects,
)

__all__ = [
    "BACKENDS",
    "CHANNELS",
    "FEATURES",
    "PRESETS",
    "BuiltInputs",
    "ChannelNorm",
    "ChannelSpec",
    "EGRecords",
    "JetCuts",
    "JetRecords",
    "JetSelection",
    "KinematicRange",
    "ModelInputs",
    "Normalisation",
    "ObjectCuts",
    "ObjectRecords",
    "ObjectSelection",
    "PointCloudSpec",
    "PointClouds",
    "Preset",
    "Selected",
    "ValidityRangeWarning",
    "build_eg_frames",
    "build_fatjet_frames",
    "build_jet_frames",
    "build_point_clouds",
    "cut_steps",
    "get_backend",
    "list_channels",
    "list_norm_presets",
    "list_presets",
    "load_norm",
    "object_branches",
    "object_records",
    "point_cloud_branches",
    "required_branches",
    "resolve_channels",
    "select_objects",
]


def object_branches(channels: list[str] | str, layout: Layout, kind: ObjectKind) -> list[str]:
    """Every branch frames of ``kind`` objects may read: the channels' and the objects'.

    The channels' branches and the seeds are required; the other object quantities are
    optional (see :mod:`e2e_coffea.frames.objects`)."""
    from .objects import check_kind, check_layout, object_table

    need = required_branches(channels, check_layout(layout), frame=check_kind(kind))
    return list(dict.fromkeys([*need, *object_table(layout, kind).values()]))
