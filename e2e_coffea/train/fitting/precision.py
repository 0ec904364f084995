"""Numeric precision of training: fp32, or autocast to bf16 / fp16 (with a GradScaler).

On CUDA the default is automatic mixed precision: bf16 where the GPU supports it (no loss
scaling needed: bf16 has fp32's exponent range), else fp16 with a ``GradScaler``. On the
CPU the default stays fp32; ``bf16`` autocasts matmuls and convolutions to bfloat16,
which pays off on CPUs with native bf16 instructions (AVX512-BF16, AMX). fp16 is refused
on the CPU: it needs loss scaling and brings no speed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import torch

from ...exceptions import BadInputError

__all__ = ["PRECISIONS", "Precision", "resolve_precision"]

PRECISIONS: Final = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """What the training step does: autocast ``dtype`` (None: fp32) and loss scaling."""

    name: str
    device_type: str
    dtype: torch.dtype | None
    scaler: bool

    @property
    def autocast(self) -> bool:
        return self.dtype is not None


def resolve_precision(device: torch.device, precision: str | None = None) -> Precision:
    """The precision for ``device``; ``auto`` (or None): AMP on CUDA, fp32 on the CPU."""
    precision = precision or "auto"
    if precision not in PRECISIONS:
        msg = f"unknown precision {precision!r}; expected one of {list(PRECISIONS)}"
        raise BadInputError(msg)
    cuda = device.type == "cuda"
    if precision == "auto":
        if not cuda:
            return Precision("fp32", device.type, None, False)
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp32":
        return Precision("fp32", device.type, None, False)
    if precision == "fp16":
        if not cuda:
            msg = f"precision fp16 needs a CUDA device (loss scaling), got {device}; use bf16 on the CPU"
            raise BadInputError(msg)
        return Precision("fp16", "cuda", torch.float16, True)
    if cuda and not torch.cuda.is_bf16_supported():
        msg = f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16"
        raise BadInputError(msg)
    return Precision("bf16", device.type, torch.bfloat16, False)
