"""Model zoo: a timm-style registry and one architecture per module.

Every model takes ``forward(x, scalars=None)`` and returns raw outputs (logits or
regressed values). Image models accept any frame size; ``particle_gnn`` and
``point_transformer`` take zero-padded point clouds (B, N, F) and ignore the padding.
A model's contract lives in :mod:`e2e_coffea.export` (the stage below inference), not here.
"""

from __future__ import annotations

from typing import Any

from . import (  # registers the models
    efficientnet_b0,
    particle_gnn,
    point_transformer,
    resnet15,
    simplenet,
    vit,
)
from ._layers import HEAD_TASKS, E2EModel, Head, HeadTask
from ._point_layers import MaskedBatchNorm, PointModel, masked_mean
from ._registry import InputKind, ModelEntry, create_model, list_models, model_entry, register_model
from .pretrained import read_pretrained, save_pretrained

__all__ = [
    "HEAD_TASKS",
    "E2EModel",
    "Head",
    "HeadTask",
    "InputKind",
    "MaskedBatchNorm",
    "ModelEntry",
    "PointModel",
    "count_parameters",
    "create_model",
    "efficientnet_b0",
    "list_models",
    "masked_mean",
    "model_entry",
    "particle_gnn",
    "point_transformer",
    "read_pretrained",
    "register_model",
    "resnet15",
    "save_pretrained",
    "simplenet",
    "vit",
]


def count_parameters(model: Any) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
