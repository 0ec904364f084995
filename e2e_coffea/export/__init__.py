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

__all__ = [
    "CONTRACT_VERSION",
    "E2E_JET_CROP",
    "EG_CROP",
    "MARKER_KEY",
    "Contract",
    "ExportReport",
    "check_channels",
    "export_onnx",
    "export_tagger",
    "load_contract",
    "onnx_outputs",
]


def __getattr__(name: str) -> object:
    """Export needs torch; inference workers only need the contract, so load it lazily."""
    if name in ("ExportReport", "export_onnx", "export_tagger", "onnx_outputs"):
        from . import onnx_export

        return getattr(onnx_export, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
