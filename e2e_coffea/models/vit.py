"""Vision Transformer for detector frames [Dosovitskiy et al., arXiv:2010.11929].

A 125x125 jet frame cut into 5x5 patches gives 25x25 = 625 tokens, one per HCAL tower
(a tower is 5x5 ECAL crystals, see :mod:`e2e_coffea.geometry`), so each token sees
exactly one tower's worth of every channel. A 32x32 e/gamma crop uses 4x4 patches.
Sizes follow DeiT [Touvron et al., arXiv:2012.12877]: tiny = 192 wide, 12 deep, 3 heads;
small = 384, 12, 6. ``dim``/``depth``/``heads`` override them for smaller variants.
Frames of another size than ``img_size`` work: the position table is resized bicubically.
"""

from __future__ import annotations

from typing import Final

import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import BadInputError
from ._layers import E2EModel, Head, tracing
from ._registry import register_model

__all__ = ["VIT_SIZES", "VisionTransformer", "vit", "vit_small", "vit_tiny"]

VIT_SIZES: Final[dict[str, tuple[int, int, int]]] = {
    # width, depth, heads  [DeiT, arXiv:2012.12877 table 1]
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
}


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        proj: torch.Tensor = self.proj(out.transpose(1, 2).reshape(b, n, d))
        return proj


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        out: torch.Tensor = x + self.mlp(self.norm2(x))
        return out


def _pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


class VisionTransformer(E2EModel):
    """Patch embedding, class token, learned positions, pre-norm blocks, class-token head."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        size: str = "tiny",
        img_size: int | tuple[int, int] = 125,
        patch_size: int | None = None,
        dim: int | None = None,
        depth: int | None = None,
        heads: int | None = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        if size not in VIT_SIZES:
            msg = f"unknown ViT size {size!r}; expected one of {sorted(VIT_SIZES)}"
            raise BadInputError(msg)
        d0, l0, h0 = VIT_SIZES[size]
        dim, depth, heads = dim or d0, depth or l0, heads or h0
        if dim % heads:
            msg = f"ViT width {dim} is not divisible by its {heads} heads"
            raise BadInputError(msg)
        h, w = _pair(img_size)
        p = patch_size or (5 if h % 5 == 0 and w % 5 == 0 else 4)
        if p < 1 or p > min(h, w):
            msg = f"patch_size {p} does not fit a {h}x{w} frame"
            raise BadInputError(msg)
        self.img_size, self.patch_size, self.grid = (h, w), p, (h // p, w // p)
        self.patch = nn.Conv2d(in_channels, dim, p, stride=p)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 1 + self.grid[0] * self.grid[1], dim) * 0.02)
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = Head(dim, n_outputs, n_scalars)

    def _positions(self, gh: int, gw: int) -> torch.Tensor:
        if (gh, gw) == self.grid:
            return self.pos
        d = self.pos.shape[-1]
        table = self.pos[:, 1:].reshape(1, *self.grid, d).permute(0, 3, 1, 2)
        table = F.interpolate(table, size=(gh, gw), mode="bicubic", align_corners=False)
        return torch.cat([self.pos[:, :1], table.permute(0, 2, 3, 1).reshape(1, gh * gw, d)], 1)

    def forward(self, x: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        if not tracing() and min(x.shape[-2:]) < self.patch_size:
            msg = f"frame {tuple(x.shape[-2:])} is smaller than one {self.patch_size}x{self.patch_size} patch"
            raise BadInputError(msg)
        tokens = self.patch(x)  # (B, dim, gh, gw)
        # while tracing for ONNX the grid is the built one: export_onnx demands img_size frames
        gh, gw = self.grid if tracing() else tokens.shape[-2:]
        tokens = tokens.flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], 1)
        tokens = self.norm(self.blocks(tokens + self._positions(int(gh), int(gw))))
        out: torch.Tensor = self.head(tokens[:, 0], scalars)
        return out


@register_model
def vit(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    size: str = "tiny",
    img_size: int | tuple[int, int] = 125,
    patch_size: int | None = None,
    dim: int | None = None,
    depth: int | None = None,
    heads: int | None = None,
    mlp_ratio: float = 4.0,
    dropout: float = 0.0,
) -> VisionTransformer:
    """ViT with 5x5 patches on 125x125 (625 tokens); size 'tiny' (5.5M) or 'small' (21M)."""
    return VisionTransformer(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        size=size,
        img_size=img_size,
        patch_size=patch_size,
        dim=dim,
        depth=depth,
        heads=heads,
        mlp_ratio=mlp_ratio,
        dropout=dropout,
    )


@register_model
def vit_tiny(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    img_size: int | tuple[int, int] = 125,
    patch_size: int | None = None,
    depth: int | None = None,
) -> VisionTransformer:
    """ViT-Tiny (DeiT-Ti sizes: 192 wide, 12 deep, 3 heads)."""
    return vit(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        size="tiny",
        img_size=img_size,
        patch_size=patch_size,
        depth=depth,
    )


@register_model
def vit_small(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    img_size: int | tuple[int, int] = 125,
    patch_size: int | None = None,
    depth: int | None = None,
) -> VisionTransformer:
    """ViT-Small (DeiT-S sizes: 384 wide, 12 deep, 6 heads)."""
    return vit(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        size="small",
        img_size=img_size,
        patch_size=patch_size,
        depth=depth,
    )
