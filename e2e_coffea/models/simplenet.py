"""A small, fast CNN: the baseline to beat and the model the quick tests train.

Four conv + ReLU layers with 2x2 max pools between them and a global max pool: about
60k parameters, cheap enough to train on a laptop CPU, and it works for any frame size
from 16x16 (e/gamma crops) to 125x125 (jets).
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import E2EModel, Head
from ._registry import register_model

__all__ = ["SimpleNet", "simplenet"]


class SimpleNet(E2EModel):
    """conv(16) pool conv(32) pool conv(64) pool conv(64), global max pool, head."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        width: int = 16,
        hidden: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        w = width
        chans = (in_channels, w, 2 * w, 4 * w, 4 * w)
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1), nn.ReLU(inplace=True)]
            if i < 3:
                # ceil_mode keeps odd sizes (125 -> 63 -> 32 -> 16) and tiny frames alive.
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = Head(chans[-1], n_outputs, n_scalars, hidden=hidden, dropout=dropout)

    def forward(self, x: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        out: torch.Tensor = self.head(torch.flatten(self.pool(self.features(x)), 1), scalars)
        return out


@register_model
def simplenet(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    width: int = 16,
    hidden: int = 64,
    dropout: float = 0.0,
) -> SimpleNet:
    """Small 4-layer CNN (~60k params at width 16): fast CPU baseline."""
    return SimpleNet(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        width=width,
        hidden=hidden,
        dropout=dropout,
    )
