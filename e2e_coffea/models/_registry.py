"""Models by name, timm-style: one decorator to register, one factory to build.

``create_model`` drops ``None`` keyword arguments, so a CLI flag left at its default never
overrides a model's own default, and it records the name and the effective arguments on
the model, so the ONNX contract can say exactly how to rebuild it.
"""

from __future__ import annotations

import inspect
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


def create_model(name: str, in_channels: int, n_outputs: int = 1, **kwargs: Any) -> nn.Module:
    """Build a registered model; ``None`` kwargs are dropped so model defaults win.

    The model gets ``model_name`` and ``model_kwargs`` attributes (the arguments that
    rebuild it), which :func:`e2e_coffea.export.export_onnx` writes into the contract.
    """
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
