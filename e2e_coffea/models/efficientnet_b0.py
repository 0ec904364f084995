"""EfficientNet-B0 in plain torch: MBConv blocks with squeeze-excitation.

Stage table from Tan & Le, arXiv:1905.11946, table 1 (expansion, channels, repeats,
stride, kernel); SE ratio 0.25 of the block input, SiLU activations, stochastic depth.
``width_mult`` / ``depth_mult`` scale channels (rounded to multiples of 8) and repeats
(rounded up) as in the paper's compound scaling, so ``width_mult=0.25, depth_mult=0.34``
is a ~0.1M-parameter variant that fits the small-ONNX budget.
"""

from __future__ import annotations

import math
from typing import Final

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import E2EModel, Head
from ._registry import register_model

__all__ = ["B0_STAGES", "EfficientNet", "MBConv", "efficientnet_b0"]

B0_STAGES: Final = (
    # expand, out channels, repeats, stride, kernel  [arXiv:1905.11946 table 1]
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)
_STEM, _HEAD = 32, 1280


def _round_channels(c: float, divisor: int = 8) -> int:
    """Round to a multiple of ``divisor`` without losing more than 10% (the TF reference rule)."""
    out = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * c else out


def _conv_bn(
    cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.SiLU(inplace=True))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gates from globally pooled features [Hu et al., arXiv:1709.01507]."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(F.silu(self.reduce(s))))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, SE, 1x1 project, residual if shapes match."""

    def __init__(
        self, cin: int, cout: int, expand: int, stride: int, kernel: int, drop_path: float
    ) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = _conv_bn(cin, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride=stride, groups=mid)
        self.se = SqueezeExcite(mid, max(1, int(cin * 0.25)))
        self.project = _conv_bn(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.project(self.se(self.depthwise(self.expand(x))))
        if not self.residual:
            return out
        if self.training and self.drop_path > 0:
            keep = 1.0 - self.drop_path
            mask = torch.rand(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype) < keep
            out = out * mask / keep
        return out + x


class EfficientNet(E2EModel):
    """EfficientNet with the B0 stage table and compound width/depth multipliers."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        drop_path: float = 0.2,
        dropout: float = 0.2,
        stem_stride: int = 2,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        stem = _round_channels(_STEM * width_mult)
        self.stem = _conv_bn(in_channels, stem, 3, stride=stem_stride)
        specs = [
            (e, _round_channels(c * width_mult), math.ceil(r * depth_mult), s, k)
            for e, c, r, s, k in B0_STAGES
        ]
        total = sum(spec[2] for spec in specs)
        blocks: list[nn.Module] = []
        cin, idx = stem, 0
        for e, c, r, s, k in specs:
            for i in range(r):
                # stochastic-depth rate grows linearly with block index, as in the paper
                blocks.append(MBConv(cin, c, e, s if i == 0 else 1, k, drop_path * idx / total))
                cin, idx = c, idx + 1
        self.blocks = nn.Sequential(*blocks)
        head = _round_channels(_HEAD * width_mult)
        self.conv_head = _conv_bn(cin, head, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = Head(head, n_outputs, n_scalars, dropout=dropout)

    def forward(self, x: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        x = self.conv_head(self.blocks(self.stem(x)))
        out: torch.Tensor = self.head(torch.flatten(self.pool(x), 1), scalars)
        return out


@register_model
def efficientnet_b0(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    drop_path: float = 0.2,
    dropout: float = 0.2,
    stem_stride: int = 2,
) -> EfficientNet:
    """EfficientNet-B0 (arXiv:1905.11946), ~4M params; shrink with width_mult/depth_mult."""
    return EfficientNet(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        width_mult=width_mult,
        depth_mult=depth_mult,
        drop_path=drop_path,
        dropout=dropout,
        stem_stride=stem_stride,
    )
