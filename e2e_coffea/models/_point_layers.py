"""Pieces every point-cloud model shares: the validity mask and layers that honour it.

Point clouds are zero-padded to a fixed ``N`` (:class:`e2e_coffea.frames.PointCloudSpec`).
Nothing a model computes for a real point may depend on how many padded points follow
it: not the output in eval mode, and not the batch statistics in training mode (a
``nn.BatchNorm1d`` over all ``N`` points would count the zeros and drift with ``N``).
:class:`MaskedBatchNorm` normalises over real points only; :func:`masked_mean` pools
over them. The mask comes from the caller or, as for an exported ONNX model that only
receives the points tensor, from "any feature non-zero": every real point carries one
hit-kind flag, so it is never all zero.
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import BadInputError
from ._layers import E2EModel, tracing

__all__ = ["MaskedBatchNorm", "PointModel", "masked_mean"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` (..., C) over axis ``dim`` counting only entries where ``mask``;
    0 where no entry is valid (an empty jet), never NaN."""
    w = mask.unsqueeze(-1).to(x.dtype)
    return (x * w).sum(dim) / w.sum(dim).clamp(min=1.0)


class MaskedBatchNorm(nn.Module):
    """BatchNorm over the last axis that only sees entries where ``mask`` is True.

    Same parameters, buffers and update rule as ``nn.BatchNorm1d`` (batch statistics in
    training, biased variance to normalise, unbiased variance into the running
    estimate with ``momentum``), but the statistics run over the masked entries of all
    leading axes; masked-out entries come out as exactly 0. A training batch with fewer
    than two real entries (where ``nn.BatchNorm1d`` would raise) is normalised with the
    running estimate, which it leaves unchanged.
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor
    num_batches_tracked: torch.Tensor

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (..., C), ``mask`` (...) bool -> (..., C), zero where ``mask`` is False."""
        keep = mask.unsqueeze(-1)
        xf = torch.where(keep, x.float(), 0.0)  # padded garbage (even NaN) never enters
        if self.training:
            dims = tuple(range(x.dim() - 1))
            n = keep.float().sum(dims)
            mean = xf.sum(dims) / n.clamp(min=1.0)
            var = (torch.where(keep, xf - mean, 0.0) ** 2).sum(dims) / n.clamp(min=1.0)
            # fewer than 2 real entries carry no variance: use (and keep) the running
            # estimate; decided on the device, so training never waits for a host sync
            enough = n >= 2
            mean = torch.where(enough, mean, self.running_mean)
            var = torch.where(enough, var, self.running_var)
            with torch.no_grad():
                m = self.momentum * enough.float()
                unbiased = var.detach() * n / (n - 1).clamp(min=1.0)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased)
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        y = (xf - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        return torch.where(keep, y, 0.0).to(x.dtype)


class PointModel(E2EModel):
    """Base of the point-cloud models: (B, N, F) input, optional explicit mask (B, N)."""

    expected_ndim = 3
    channel_axis = 2
    permutation_invariant = True
    """The output does not depend on the order of the real points (tests check this)."""

    def valid_points(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Check ``x`` and return the (B, N) bool mask: ``mask``, or "any feature non-zero"."""
        self.check_input(x)
        if mask is None:
            return (x != 0).any(-1)
        if not tracing() and tuple(mask.shape) != tuple(x.shape[:2]):
            msg = f"mask must have shape (batch, N) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}"
            raise BadInputError(msg)
        return mask.bool()
