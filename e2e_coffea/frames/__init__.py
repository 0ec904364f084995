"""Frames: jet and e/gamma images and jet point clouds, from either file layout.

One convention, two layouts, two backends: frames from the sparse hits and frames
cropped from the dense e2e images are bitwise identical on the numpy backend, and the
torch backend builds the same numbers on the device where the model runs.

>>> frames, jets = build_jet_frames(chunk, layout="sparse", channels="qg")  # doctest: +SKIP
>>> frames.shape  # (n_jets, 3, 125, 125)  # doctest: +SKIP
"""

from __future__ import annotations

from .backends import BACKENDS, get_backend
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
from .jets import build_jet_frames
from .normalisation import ChannelNorm, Normalisation, list_norm_presets, load_norm
from .pointcloud import FEATURES, PointCloudSpec, build_point_clouds
from .records import EGRecords, JetRecords, JetSelection, PointClouds

__all__ = [
    "BACKENDS",
    "CHANNELS",
    "FEATURES",
    "PRESETS",
    "ChannelNorm",
    "ChannelSpec",
    "EGRecords",
    "JetRecords",
    "JetSelection",
    "Normalisation",
    "PointCloudSpec",
    "PointClouds",
    "Preset",
    "build_eg_frames",
    "build_jet_frames",
    "build_point_clouds",
    "get_backend",
    "list_channels",
    "list_norm_presets",
    "list_presets",
    "load_norm",
    "required_branches",
    "resolve_channels",
]
