"""Shipped taggers and the one rule for naming a tagger: a shipped name or a path to an ONNX file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .exceptions import BadInputError
from .export.contract import EG_CROP, Contract, load_contract

__all__ = ["TaggerSpec", "list_taggers", "resolve_tagger", "shipped_dir"]


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

    @property
    def kind(self) -> str:
        """``eg`` for 32x32 e/gamma crops, ``jet`` for 125x125 jet windows."""
        return "eg" if self.contract.crop == EG_CROP else "jet"

    @property
    def signal_class(self) -> str:
        """The positive class: the last class name of a classifier."""
        return self.contract.class_names[-1]


def resolve_tagger(name_or_path: str | os.PathLike[str]) -> TaggerSpec:
    """Accept a shipped name (``tau_resnet15``) or a path to an ``.onnx`` file."""
    text = str(name_or_path)
    p = Path(text)
    if p.suffix == ".onnx" or os.sep in text or p.is_file():
        if not p.is_file():
            msg = f"tagger file {p} does not exist"
            raise BadInputError(msg)
        return TaggerSpec(p.stem, str(p.resolve()), load_contract(p))
    shipped = shipped_dir() / f"{text}.onnx"
    if not shipped.is_file():
        names = ", ".join(list_taggers()) or "(none shipped)"
        msg = f"unknown tagger {text!r}: not a file and not a shipped name; shipped: {names}"
        raise BadInputError(msg)
    return TaggerSpec(text, str(shipped), load_contract(shipped))
