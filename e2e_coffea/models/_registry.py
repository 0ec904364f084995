"""Models by name, timm-style: one decorator to register, one factory to build.

``create_model`` drops ``None`` keyword arguments, so a CLI flag left at its default never
overrides a model's own default, and it records the name and the effective arguments on
the model, so the ONNX contract can say exactly how to rebuild it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from torch import nn

from ..exceptions import BadInputError

__all__ = [
    "InputKind",
    "ModelEntry",
    "create_model",
    "list_models",
    "model_entry",
    "register_model",
]

InputKind = Literal["image", "points"]
"""What a model eats: frames (B, C, H, W) or point clouds (B, N, F)."""

F = TypeVar("F", bound=Callable[..., nn.Module])


@dataclass(frozen=True)
class ModelEntry:
    """One registered constructor and what it expects as input."""

    name: str
    fn: Callable[..., nn.Module]
    input_kind: InputKind
    summary: str


_MODELS: dict[str, ModelEntry] = {}


@overload
def register_model(fn: F, /) -> F: ...


@overload
def register_model(
    *, name: str | None = None, input_kind: InputKind = "image"
) -> Callable[[F], F]: ...


def register_model(
    fn: F | None = None, /, *, name: str | None = None, input_kind: InputKind = "image"
) -> F | Callable[[F], F]:
    """Register a constructor ``fn(in_channels, n_outputs, **kw) -> nn.Module`` by name."""

    def deco(f: F) -> F:
        key = name or f.__name__
        if key in _MODELS:
            msg = f"model {key!r} is already registered (by {_MODELS[key].fn.__module__})"
            raise BadInputError(msg)
        doc = (inspect.getdoc(f) or "").split("\n", 1)[0]
        _MODELS[key] = ModelEntry(key, f, input_kind, doc)
        return f

    return deco(fn) if fn is not None else deco


def list_models(input_kind: InputKind | None = None) -> list[str]:
    """Sorted names of the registered models, optionally only those of one input kind."""
    return sorted(k for k, e in _MODELS.items() if input_kind is None or e.input_kind == input_kind)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; BadInputError listing the valid names if unknown."""
    try:
        return _MODELS[name]
    except KeyError:
        msg = f"unknown model {name!r}; expected one of {list_models()}"
        raise BadInputError(msg) from None


def create_model(
    name: str,
    in_channels: int | None = None,
    n_outputs: int | None = None,
    *,
    pretrained: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model; ``None`` kwargs are dropped so model defaults win.

    The model gets ``model_name`` and ``model_kwargs`` attributes (the arguments that
    rebuild it), which :func:`e2e_coffea.export.export_onnx` writes into the contract.
    ``n_outputs`` defaults to 1. ``pretrained``: a shipped tagger's name
    (``"tau_resnet15"``) or a ``.pt`` file; the model is built with the arguments it was
    trained with (any given here must agree) and its trained weights are loaded.
    """
    if pretrained is not None:
        return _pretrained(name, pretrained, in_channels, n_outputs, kwargs)
    if in_channels is None:
        msg = f"create_model({name!r}) needs in_channels (or pretrained=NAME)"
        raise BadInputError(msg)
    n_outputs = 1 if n_outputs is None else n_outputs
    entry = model_entry(name)
    given: tuple[tuple[str, object], ...] = (("in_channels", in_channels), ("n_outputs", n_outputs))
    for label, value in given:  # as a user passed them (CLI, JSON): checked
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{label} must be a positive integer, got {value!r}"
            raise BadInputError(msg)
    kw = {k: v for k, v in kwargs.items() if v is not None}
    params = inspect.signature(entry.fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        allowed = [k for k in params if k not in ("in_channels", "n_outputs")]
        unknown = sorted(set(kw) - set(allowed))
        if unknown:
            msg = f"model {name!r} takes no argument(s) {unknown}; its options are {allowed}"
            raise BadInputError(msg)
    model = entry.fn(in_channels=in_channels, n_outputs=n_outputs, **kw)
    recorded = {
        "model_name": name,
        "model_kwargs": {"in_channels": in_channels, "n_outputs": n_outputs, **kw},
        "input_kind": entry.input_kind,
    }
    for attr, value in recorded.items():  # nn.Module's __setattr__ is typed for tensors and modules
        setattr(model, attr, value)
    return model


def _pretrained(
    name: str, source: str | os.PathLike[str], in_channels: int | None, n_outputs: int | None,
    kwargs: dict[str, Any],
) -> nn.Module:  # fmt: skip
    """The model a weights file describes, with its weights (see :func:`create_model`)."""
    from .pretrained import read_pretrained

    blob = read_pretrained(source)
    if blob["model_name"] != name:
        msg = f"pretrained {str(source)!r} is a {blob['model_name']!r} model, not {name!r}"
        raise BadInputError(msg)
    stored = dict(blob["model_kwargs"])
    given = {k: v for k, v in {"in_channels": in_channels, "n_outputs": n_outputs, **kwargs}.items()
             if v is not None}  # fmt: skip
    differ = {k: (v, stored.get(k)) for k, v in given.items() if stored.get(k) != v}
    if differ:
        pairs = ", ".join(f"{k}={v!r} (trained with {s!r})" for k, (v, s) in differ.items())
        msg = f"pretrained {str(source)!r} does not fit the arguments given: {pairs}"
        raise BadInputError(msg)
    model = create_model(name, **stored)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as err:
        msg = f"pretrained {str(source)!r}: the weights do not fit a {name!r} built with {stored} ({err})"
        raise BadInputError(" ".join(msg.split())) from err
    return model.eval()
