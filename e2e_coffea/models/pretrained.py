"""Trained weights as torch state dicts: the shipped taggers' ``<name>.pt`` files, written
next to each ONNX file by training, so that a shipped model can be fine-tuned.

A file holds the state dict and what rebuilds the model, copied from the model's ONNX
contract when it was exported (``model_name`` and ``model_kwargs``), plus the tagger's
name. Files are read with ``torch.load(weights_only=True)``: tensors and plain
containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn

from ..exceptions import BadInputError
from ..io.atomic import atomic_write

__all__ = ["PRETRAINED_FORMAT", "pretrained_path", "read_pretrained", "save_pretrained"]

PRETRAINED_FORMAT: Final = 1


def _shipped() -> Path:
    return Path(str(resources.files("e2e_coffea") / "data" / "taggers"))


def pretrained_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A shipped tagger's ``.pt`` (``tau_resnet15``) or a path to one."""
    text = str(name_or_path)
    p = Path(text)
    if p.suffix == ".pt" or os.sep in text:
        if not p.is_file():
            msg = f"pretrained weights {p} do not exist"
            raise BadInputError(msg)
        return p
    path = _shipped() / f"{text}.pt"
    if not path.is_file():
        have = sorted(q.stem for q in _shipped().glob("*.pt"))
        msg = f"unknown pretrained model {text!r}: no shipped weights of that name; shipped: {', '.join(have) or '(none)'}"
        raise BadInputError(msg)
    return path


def save_pretrained(model: nn.Module, path: str | os.PathLike[str], *, tagger: str) -> Path:
    """Write ``model``'s weights and its ``model_name``/``model_kwargs`` (set by
    :func:`~e2e_coffea.models.create_model`) to ``path``."""
    name = getattr(model, "model_name", None)
    kwargs = getattr(model, "model_kwargs", None)
    if not isinstance(name, str) or not isinstance(kwargs, dict):
        msg = f"{type(model).__name__} was not built by create_model: no model_name/model_kwargs to save"
        raise BadInputError(msg)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    p = Path(path)
    with atomic_write(p) as tmp:
        torch.save({"format": PRETRAINED_FORMAT, "tagger": tagger, "model_name": name,
                    "model_kwargs": dict(kwargs), "state_dict": state}, tmp)  # fmt: skip
    return p


def read_pretrained(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contents of a weights file (``model_name``, ``model_kwargs``, ``state_dict``)."""
    path = pretrained_path(name_or_path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError) as err:
        msg = f"{path}: not a readable weights file ({type(err).__name__}: {err})"
        raise BadInputError(" ".join(msg.split())) from err
    keys = {"format", "model_name", "model_kwargs", "state_dict"}
    if not isinstance(blob, dict) or not keys <= set(blob):
        have = sorted(blob) if isinstance(blob, dict) else type(blob).__name__
        msg = f"{path}: not an e2e-coffea weights file (expected keys {sorted(keys)}, got {have})"
        raise BadInputError(msg)
    if blob["format"] != PRETRAINED_FORMAT:
        msg = (
            f"{path}: weights format {blob['format']!r}, this e2e-coffea reads {PRETRAINED_FORMAT}"
        )
        raise BadInputError(msg)
    return dict(blob)
