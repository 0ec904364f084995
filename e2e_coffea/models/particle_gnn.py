"""ParticleNet-style EdgeConv network on point clouds [Qu & Gouskos, arXiv:1902.08570].

Input: points ``(B, N, F)`` whose first ``n_coords`` features are the coordinates used
for the first k-NN (e.g. deta, dphi to the jet axis), plus a validity mask ``(B, N)``.
When the mask is omitted, a point is valid unless all its features are zero: the
zero-padding convention of our point builders, which also makes the ONNX graph need only
the points tensor.

Padding never matters: padded points are never neighbours, are excluded from pooling,
and every normalisation (:class:`MaskedBatchNorm`) sees only real points (the input
norm) or real edges (centre and neighbour both real), so a jet padded to 32 or 128
points gets the same score and contributes the same batch statistics in training.

k-NN is plain torch and ONNX-exportable: squared distances from one batched matmul
(``|a|^2 + |b|^2 - 2 a.b``, numerically the same ranking as ``torch.cdist``, which the
TorchScript ONNX exporter does not support), then ``topk``. Self and padded points get a
large distance; if a point has fewer than ``k`` valid neighbours the extra ones (padded
points, or the point itself) are masked out of the mean.
"""

from __future__ import annotations

from typing import Final

import torch
from torch import nn

from ..exceptions import BadInputError
from ._layers import Head, tracing
from ._point_layers import MaskedBatchNorm, PointModel, masked_mean
from ._registry import register_model

__all__ = ["PARTICLENET_SIZES", "EdgeConv", "ParticleGNN", "knn_indices", "particle_gnn"]

PARTICLENET_SIZES: Final[dict[str, tuple[int, tuple[tuple[int, ...], ...], int]]] = {
    # k, EdgeConv channels per block, fc width  [arXiv:1902.08570 sec. IV.B]
    "lite": (7, ((32, 32, 32), (64, 64, 64)), 128),
    "full": (16, ((64, 64, 64), (128, 128, 128), (256, 256, 256)), 256),
}
_FAR: Final = 1.0e9


def knn_indices(coords: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, N, k) of each point's k nearest valid other points; coords (B, N, D)."""
    c = coords.float()
    sq = (c * c).sum(-1)  # (B, N)
    d2 = sq.unsqueeze(2) + sq.unsqueeze(1) - 2.0 * torch.bmm(c, c.transpose(1, 2))
    n = c.shape[1]
    ar = torch.arange(n, device=c.device)
    self_pair = (ar.unsqueeze(0) == ar.unsqueeze(1)).unsqueeze(0)
    invalid = self_pair | ~mask.unsqueeze(1)
    d2 = d2 + invalid.to(d2.dtype) * _FAR
    return d2.topk(k, dim=-1, largest=False).indices


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (B, N, C), idx (B, N, k) -> (B, N, k, C) without advanced-index broadcasting."""
    b, n, c = x.shape
    k = idx.shape[-1]
    base = torch.arange(b, device=x.device).view(-1, 1, 1) * n
    flat = (idx + base).reshape(-1)
    return x.reshape(b * n, c)[flat].reshape(b, n, k, c)


class EdgeConv(nn.Module):
    """h_i = ReLU(shortcut(x_i) + mean_j MLP([x_i, x_j - x_i])) over the k nearest real j."""

    def __init__(self, cin: int, channels: tuple[int, ...], k: int) -> None:
        super().__init__()
        self.k = k
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        prev = 2 * cin
        for c in channels:
            self.linears.append(nn.Linear(prev, c, bias=False))
            self.norms.append(MaskedBatchNorm(c))
            prev = c
        self.shortcut = nn.Linear(cin, prev, bias=False)
        self.shortcut_norm = MaskedBatchNorm(prev)

    def forward(self, coords: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """coords (B, N, D), x (B, N, C), mask (B, N) bool -> (B, N, C_out), 0 on padding."""
        k = self.k if tracing() else min(self.k, x.shape[1] - 1)
        idx = knn_indices(coords, mask, k)
        nbr = _gather(x, idx)  # (B, N, k, C)
        centre = x.unsqueeze(2).expand_as(nbr)
        h = torch.cat([centre, nbr - centre], -1)
        # an edge counts if both ends are real and distinct: with fewer than k real
        # neighbours, top-k fills up with padded points *or the point itself* (all tie at
        # the large distance), and which ones it picks may change with N or the runtime
        real_nbr = _gather(mask.unsqueeze(-1).to(x.dtype), idx).squeeze(-1) > 0.5
        not_self = idx != torch.arange(x.shape[1], device=idx.device).view(1, -1, 1)
        edge_ok = real_nbr & not_self & mask.unsqueeze(-1)  # (B, N, k)
        for linear, norm in zip(self.linears, self.norms, strict=True):
            h = torch.relu(norm(linear(h), edge_ok))
        out = torch.relu(masked_mean(h, edge_ok, 2) + self.shortcut_norm(self.shortcut(x), mask))
        return out * mask.unsqueeze(-1).to(out.dtype)


class ParticleGNN(PointModel):
    """Masked input BN, EdgeConv blocks (k-NN in coords, then in features), masked mean, head."""

    def __init__(
        self,
        in_channels: int,
        n_outputs: int = 1,
        *,
        n_scalars: int = 0,
        task: str = "classification",
        size: str = "lite",
        n_coords: int = 2,
        k: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(in_channels, n_outputs, n_scalars, task)
        if size not in PARTICLENET_SIZES:
            msg = f"unknown particle_gnn size {size!r}; expected one of {sorted(PARTICLENET_SIZES)}"
            raise BadInputError(msg)
        if not 1 <= n_coords <= in_channels:
            msg = f"n_coords must be in 1..{in_channels} (the feature count), got {n_coords}"
            raise BadInputError(msg)
        k0, blocks, fc = PARTICLENET_SIZES[size]
        self.k, self.n_coords = k or k0, n_coords
        self.input_norm = MaskedBatchNorm(in_channels)
        convs: list[nn.Module] = []
        cin = in_channels
        for chans in blocks:
            convs.append(EdgeConv(cin, chans, self.k))
            cin = chans[-1]
        self.convs = nn.ModuleList(convs)
        self.head = Head(cin, n_outputs, n_scalars, hidden=fc, dropout=dropout)

    def forward(
        self, x: torch.Tensor, scalars: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        valid = self.valid_points(x, mask)
        if not tracing() and x.shape[1] < 2:
            msg = f"a point cloud needs at least 2 points for k-NN, got shape {tuple(x.shape)}"
            raise BadInputError(msg)
        coords = torch.where(valid.unsqueeze(-1), x[..., : self.n_coords], 0.0)
        h = self.input_norm(x, valid)
        for conv in self.convs:
            h = conv(coords, h, valid)
            coords = h
        out: torch.Tensor = self.head(masked_mean(h, valid, 1), scalars)
        return out


@register_model(input_kind="points")
def particle_gnn(
    in_channels: int,
    n_outputs: int = 1,
    *,
    n_scalars: int = 0,
    task: str = "classification",
    size: str = "lite",
    n_coords: int = 2,
    k: int | None = None,
    dropout: float = 0.1,
) -> ParticleGNN:
    """ParticleNet-style EdgeConv GNN on (B, N, F) points; 'lite' (k=7) or 'full' (k=16)."""
    return ParticleGNN(
        in_channels,
        n_outputs,
        n_scalars=n_scalars,
        task=task,
        size=size,
        n_coords=n_coords,
        k=k,
        dropout=dropout,
    )
