"""Model zoo: a timm-style registry and one architecture per module.

Every model takes ``forward(x, scalars=None)`` and returns raw outputs (logits or
regressed values). Image models accept any frame size; ``particle_gnn`` and
``point_transformer`` take zero-padded point clouds (B, N, F) and ignore the padding.
``load_contract`` and ``check_channels`` are re-exported from :mod:`e2e_coffea.export`
so that a processor can check a model file without importing the exporter by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import (  # registers the models
    efficientnet_b0,
    particle_gnn,
    point_transformer,
    resnet15,
    simplenet,
    vit,
)
from ._layers import TASKS, E2EModel, Head, Task
from ._point_layers import MaskedBatchNorm, PointModel, masked_mean
from ._registry import InputKind, ModelEntry, create_model, list_models, model_entry, register_model

if TYPE_CHECKING:
    from ..export.contract import Contract

__all__ = [
    "TASKS",
    "E2EModel",
    "Head",
    "InputKind",
    "MaskedBatchNorm",
    "ModelEntry",
    "PointModel",
    "Task",
    "check_channels",
    "count_parameters",
    "create_model",
    "efficientnet_b0",
    "list_models",
    "load_contract",
    "masked_mean",
    "model_entry",
    "particle_gnn",
    "point_transformer",
    "register_model",
    "resnet15",
    "simplenet",
    "vit",
]


def count_parameters(model: Any) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_contract(path: Any) -> Contract:
    """Read the e2e_coffea contract of an ONNX file (see :func:`e2e_coffea.export.load_contract`)."""
    from ..export.contract import load_contract as _load

    return _load(path)


def check_channels(contract: Contract, n_channels: int) -> None:
    """Raise ChannelError unless ``n_channels`` matches the contract's channel list."""
    from ..export.contract import check_channels as _check

    _check(contract, n_channels)
