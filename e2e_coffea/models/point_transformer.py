"""A small Particle-Transformer-style model on hit clouds [Qu, Li & Qian, arXiv:2202.03772].

Per-point embedding (masked input BN, then a 2-layer MLP), ``depth`` pre-norm
self-attention blocks over the points, ``class_depth`` class-attention blocks in which
a learned class token attends to itself and the points (CaiT [Touvron et al.,
arXiv:2103.17239], as ParT does), then the shared :class:`Head` on the class token.

As in ParT, each attention score gets an optional pairwise bias ``U_ij`` (one per
head) from a small MLP; with hits instead of particles the only pair feature is
``ln(dR_ij^2 + 1e-6)`` from the first ``n_coords`` features (deta, dphi), computed once
and shared by every point block. No positional encoding: the model is invariant to the
order of the real points.

Padded points never matter: they are masked out as attention keys (their score is the
dtype's most negative number, so ``exp`` gives exactly 0, and a jet without any point
gets a uniform, finite average instead of NaN), excluded from the input batch norm, and
the class token only reads real points. Attention is written by hand (matmul, masked
fill, softmax) so that it exports to ONNX opset 17 with a dynamic batch axis.
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import BadInputError
from ._layers import Head
from ._point_layers import MaskedBatchNorm, PointModel
from ._registry import register_model

__all__ = ["PointTransformer", "masked_attention", "point_transformer"]

_PAIR_EPS = 1e-6  # dR^2 floor of the pair feature: well below one ECAL crystal (0.0174^2)


def masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_ok: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v over the keys where ``key_ok`` (B, Nk) is True.

    q (B, H, Nq, d), k and v (B, H, Nk, d), bias broadcastable to (B, H, Nq, Nk).
    """
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)
    if bias is not None:
        scores = scores + bias
    scores = scores.masked_fill(~key_ok[:, None, None, :], torch.finfo(scores.dtype).min)
    out: torch.Tensor = scores.softmax(-1) @ v
    return out


class _Attention(nn.Module):
    """Multi-head attention of queries ``x`` on keys/values ``kv`` with a key mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, kv: torch.Tensor, key_ok: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        b, nq, d = x.shape
        hd = d // self.heads
        q = self.q(x).reshape(b, nq, self.heads, hd).transpose(1, 2)
        k_v = self.kv(kv).reshape(b, -1, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        out = masked_attention(q, k_v[0], k_v[1], key_ok, bias)
        proj: torch.Tensor = self.proj(out.transpose(1, 2).reshape(b, nq, d))
        return proj


class _Block(nn.Module):
    """Pre-norm block: x + attn(LN(x), keys), x + MLP(LN(x)); keys default to x itself."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        key_ok: torch.Tensor,
        bias: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.norm1(x)
        kv = h if keys is None else self.norm1(keys)
        x = x + self.drop(self.attn(h, kv, key_ok, bias))
        out: torch.Tensor = x + self.drop(self.mlp(self.norm2(x)))
        return out


class _PairBias(nn.Module):
    """ParT-style interaction bias U (B, heads, N, N) from ln dR^2 of every point pair."""

    def __init__(self, n_coords: int, heads: int, hidden: int = 8) -> None:
        super().__init__()
        self.n_coords = n_coords
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.GELU(), nn.Linear(hidden, heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x[..., : self.n_coords].float()
        d2 = ((c.unsqueeze(2) - c.unsqueeze(1)) ** 2).sum(-1, keepdim=True)  # (B, N, N, 1)
        u: torch.Tensor = self.mlp(torch.log(d2 + _PAIR_EPS))
        return u.permute(0, 3, 1, 2).to(x.dtype)


class PointTransformer(PointModel):
    """Masked input BN, point MLP, self-attention blocks, class-token attention, head."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        dim: int = 64,
        depth: int = 3,
        heads: int = 4,
        class_depth: int = 1,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        pair_features: bool = True,
        n_coords: int = 2,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        if dim < 1 or heads < 1 or dim % heads:
            msg = f"point_transformer width {dim} must be a positive multiple of its {heads} heads"
            raise BadInputError(msg)
        if depth < 0 or class_depth < 1:
            msg = f"need depth >= 0 and class_depth >= 1, got depth={depth}, class_depth={class_depth}"
            raise BadInputError(msg)
        if pair_features and not 1 <= n_coords <= in_channels:
            msg = f"n_coords must be in 1..{in_channels} (the feature count), got {n_coords}"
            raise BadInputError(msg)
        self.input_norm = MaskedBatchNorm(in_channels)
        self.embed = nn.Sequential(nn.Linear(in_channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.pair = _PairBias(n_coords, heads) if pair_features else None
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.class_blocks = nn.ModuleList(
            _Block(dim, heads, mlp_ratio, dropout) for _ in range(class_depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = Head(dim, n_outputs, n_scalars)

    def forward(
        self, x: torch.Tensor, scalars: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        valid = self.valid_points(x, mask)
        h = self.embed(self.input_norm(x, valid))
        bias = None
        if self.pair is not None:
            bias = self.pair(torch.where(valid.unsqueeze(-1), x, 0.0))
        for block in self.blocks:
            h = block(h, valid, bias)
        cls = self.cls.expand(x.shape[0], -1, -1).to(h.dtype)
        key_ok = torch.cat([torch.ones_like(valid[:, :1]), valid], 1)  # the token + real points
        for block in self.class_blocks:
            cls = block(cls, key_ok, keys=torch.cat([cls, h], 1))
        out: torch.Tensor = self.head(self.norm(cls[:, 0]), scalars)
        return out


@register_model(input_kind="points")
def point_transformer(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    dim: int = 64,
    depth: int = 3,
    heads: int = 4,
    class_depth: int = 1,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
    pair_features: bool = True,
    n_coords: int = 2,
) -> PointTransformer:
    """ParT-style transformer on (B, N, F) points: masked attention + class token (~0.14M)."""
    return PointTransformer(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        dim=dim,
        depth=depth,
        heads=heads,
        class_depth=class_depth,
        mlp_ratio=mlp_ratio,
        dropout=dropout,
        pair_features=pair_features,
        n_coords=n_coords,
    )
