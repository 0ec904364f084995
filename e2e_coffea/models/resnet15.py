"""The E2E ResNet-15 of CMS's end-to-end jet and photon studies.

Architecture [Andrews et al., arXiv:1902.08276 (quark/gluon), arXiv:2104.14659 (a -> gg);
public ML4SCI code ``ResNet(in_channels, nblocks=3, fmaps=[16, 32])``]:
conv0 7x7 -> 16 maps; 3 ResBlocks at 16 maps; one ResBlock 16 -> 32 with stride 2 and a
1x1 shortcut; 3 ResBlocks at 32 maps; global max-pool; linear head, with the seed
ieta/iphi (or other per-jet scalars) concatenated before it. That is 1 + 6 + 2 + 6 = 15
convolutions. No batch norm, as in the original: frames are sparse and batch statistics
of mostly-empty images are noisy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import E2EModel, Head
from ._registry import register_model

__all__ = ["ResBlock", "ResNet15", "resnet15"]


class ResBlock(nn.Module):
    """Two 3x3 convs with an identity (or strided 1x1) shortcut."""

    def __init__(self, in_maps: int, out_maps: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_maps, out_maps, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_maps, out_maps, 3, padding=1)
        self.shortcut: nn.Module = (
            nn.Conv2d(in_maps, out_maps, 1, stride=stride)
            if stride != 1 or in_maps != out_maps
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + self.shortcut(x))


class ResNet15(E2EModel):
    """ResNet-15: 16- and 32-map stages, global max pool, scalars before the head."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        maps: Sequence[int] = (16, 32),
        blocks: int = 3,
        stem_stride: int = 1,
        hidden: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        m0, m1 = maps  # (stem/stage-1 maps, stage-2 maps); ValueError for another length
        # padding=1 on the 7x7 stem follows the ML4SCI code (125 -> 121 at stride 1).
        self.conv0 = nn.Conv2d(in_channels, m0, 7, stride=stem_stride, padding=1)
        self.stage1 = nn.Sequential(*(ResBlock(m0, m0) for _ in range(blocks)))
        self.down = ResBlock(m0, m1, stride=2)
        self.stage2 = nn.Sequential(*(ResBlock(m1, m1) for _ in range(blocks)))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = Head(m1, n_outputs, n_scalars, hidden=hidden, dropout=dropout)

    def forward(self, x: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        x = F.relu(self.conv0(x))
        x = self.stage2(self.down(self.stage1(x)))
        out: torch.Tensor = self.head(torch.flatten(self.pool(x), 1), scalars)
        return out


@register_model
def resnet15(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    maps: Sequence[int] = (16, 32),
    blocks: int = 3,
    stem_stride: int = 1,
    hidden: int = 0,
    dropout: float = 0.0,
) -> ResNet15:
    """E2E ResNet-15 (arXiv:1902.08276): the reference jet/photon tagger, ~86k params at 3 channels."""
    return ResNet15(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        maps=tuple(maps),
        blocks=blocks,
        stem_stride=stem_stride,
        hidden=hidden,
        dropout=dropout,
    )
