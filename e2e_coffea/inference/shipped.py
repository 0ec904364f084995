"""Shipped taggers and the one rule for naming a tagger: a shipped name or a path to an ONNX file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..exceptions import BadInputError, BadTypeError
from ..export.contract import Contract, load_contract
from ..export.inspect import check_model_io, file_sha256
from ..frames.objects import check_kind
from ..layouts import ObjectKind

__all__ = [
    "TaggerSpec",
    "describe_taggers",
    "file_sha256",
    "list_taggers",
    "resolve_tagger",
    "shipped_dir",
]


def shipped_dir() -> Path:
    """Folder of the package's pretrained ONNX taggers."""
    return Path(str(resources.files("e2e_coffea") / "data" / "taggers"))


def list_taggers() -> list[str]:
    """Names of the shipped taggers, e.g. ``tau_resnet15``."""
    d = shipped_dir()
    return sorted(p.stem for p in d.glob("*.onnx")) if d.is_dir() else []


@dataclass(frozen=True)
class TaggerSpec:
    """A tagger as the processor carries it: name, file and contract. Cheap to pickle:
    the onnxruntime session is made on the worker, never shipped."""

    name: str
    path: str
    contract: Contract
    sha256: str = ""

    @property
    def kind(self) -> ObjectKind:
        """``eg`` for 32x32 e/gamma crops, ``jet`` for 125x125 jet windows."""
        return check_kind(self.contract.kind)

    @property
    def signal_class(self) -> str:
        """The positive class: the last class name of a classifier."""
        return self.contract.class_names[-1]


def resolve_tagger(name_or_path: str | os.PathLike[str] | TaggerSpec) -> TaggerSpec:
    """Accept a shipped name (``tau_resnet15``) or a path to an ``.onnx`` file.

    The file's contract is read and its graph's declared inputs and output width are
    checked against it, so a mismatched model is refused here, before any chunk runs."""
    if isinstance(name_or_path, TaggerSpec):
        return name_or_path
    given: object = name_or_path  # callers without type checking pass anything
    if not isinstance(given, str | os.PathLike):
        msg = (
            "tagger must be a shipped name, a path to an .onnx file or a TaggerSpec, got "
            f"{type(name_or_path).__name__} {name_or_path!r}"
        )
        raise BadTypeError(msg)
    text = str(name_or_path)
    p = Path(text)
    if p.suffix == ".onnx" or os.sep in text or p.is_file():
        if not p.is_file():
            msg = f"tagger file {p} does not exist"
            raise BadInputError(msg)
        name, path = p.stem, p.resolve()
    else:
        path = shipped_dir() / f"{text}.onnx"
        if not path.is_file():
            names = ", ".join(list_taggers()) or "(none shipped)"
            msg = f"unknown tagger {text!r}: not a file and not a shipped name; shipped: {names}"
            raise BadInputError(msg)
        name = text
    contract = load_contract(path)
    check_model_io(path, contract)
    return TaggerSpec(name, str(path), contract, file_sha256(path))


def describe_taggers() -> list[dict[str, Any]]:
    """One record per shipped tagger: name, task, path, channels, classes, AUCs (validation,
    test split, independent held-out sample), kinematic validity range, size."""
    out = []
    for name in list_taggers():
        spec = resolve_tagger(name)
        c = spec.contract
        out.append(
            {
                "name": name,
                "task": c.provenance.get("tagger_task", c.task),
                "model": c.model_name,
                "path": spec.path,
                "channels": list(c.channels),
                "preset": c.channel_preset,
                "frame_size": list(c.frame_size),
                "classes": list(c.class_names),
                "auc": c.metrics.get("val_auc"),
                "test_auc": c.metrics.get("test_auc"),
                "heldout_auc": c.metrics.get("heldout_auc"),
                "heldout_auc_err": c.metrics.get("heldout_auc_err"),
                "validity": c.validity,
                "bytes": Path(spec.path).stat().st_size,
            }
        )
    return out
