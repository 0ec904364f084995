"""ONNX export with a contract in the metadata, and the reader that checks it."""

from __future__ import annotations

from .contract import (
    CONTRACT_VERSION,
    E2E_JET_CROP,
    EG_CROP,
    MARKER_KEY,
    Contract,
    check_channels,
    load_contract,
)
from .onnx_export import ExportReport, export_onnx, onnx_outputs

__all__ = [
    "CONTRACT_VERSION",
    "E2E_JET_CROP",
    "EG_CROP",
    "MARKER_KEY",
    "Contract",
    "ExportReport",
    "check_channels",
    "export_onnx",
    "load_contract",
    "onnx_outputs",
]
