"""Can model X be trained for task Y? Decided before any data is read.

An image model gets the task's frames: 125x125 jet windows or 32x32 e/gamma crops, with
the task's channel preset; a model built for a fixed frame (ViT's ``img_size``, whose
position table is traced at that size for ONNX) is built for the task's frame, or
refused when told another. A point model gets jet point clouds (``PointCloudSpec``):
there are none for e/gamma crops, and none in frames files. Finally the model is built
and run once on two random inputs, eagerly and traced as the ONNX export will trace it,
so any other mismatch (a point model's ``k`` larger than ``max_points``, a network too
deep for 32x32) stops the run with the reason instead of after training.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ...exceptions import BadInputError
from ...frames import load_norm, resolve_channels
from ...frames.model_inputs import ModelInputs, window_size
from ...frames.pointcloud import PointCloudSpec
from ...models import create_model, model_entry
from .definitions import Task

__all__ = ["Pairing", "pair_model_and_task"]


@dataclass(frozen=True)
class Pairing:
    """The inputs to stream (the model's inputs as its contract will describe them, less
    the scalars' standardisation, which training measures), the model's keyword
    arguments, and one input's shape."""

    inputs: ModelInputs
    model_kwargs: dict[str, Any]
    input_shape: tuple[int, ...]

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names (images) or point features (points), as the contract lists them."""
        return self.inputs.names


def pair_model_and_task(
    model_name: str,
    task: Task,
    *,
    model_kwargs: dict[str, Any] | None = None,
    frames_files: bool = False,
    max_points: int | None = None,
    order: str | None = None,
    scalars: tuple[str, ...] = (),
    dry_run: bool = True,
) -> Pairing:
    """The pairing of ``model_name`` with ``task`` (and per-object ``scalars``), or
    BadInputError saying why not (``dry_run=False`` skips running the model, for a
    pairing already checked). The model's keyword arguments carry the task's kind
    (``task="regression"``) and the number of scalars."""
    entry = model_entry(model_name)
    kw = dict(model_kwargs or {})
    why = f"model {model_name!r} cannot be trained for task {task.name!r}"
    params = inspect.signature(entry.fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value, needed in (("task", task.task_type, task.task_type != "classification"),
                               ("n_scalars", len(scalars), bool(scalars))):  # fmt: skip
        if key in kw:
            msg = f"{why}: --model-option {key} is set by the task and --scalar, not by hand"
            raise BadInputError(msg)
        if needed and key not in params and not takes_any:
            what = "a regression" if key == "task" else "scalar inputs"
            msg = f"{why}: its constructor takes no {key!r} argument, so it cannot be built for {what}"
            raise BadInputError(msg)
        if needed:
            kw[key] = value
    if frames_files and (task.target is not None or scalars):
        what = (
            f"truth {task.target.truth!r}"
            if task.target is not None
            else f"scalars {list(scalars)}"
        )
        msg = f"{why} from frames files: they hold no {what}; give ROOT files (--fileset)"
        raise BadInputError(msg)
    if entry.input_kind == "points":
        if task.kind != "jet":
            msg = f"{why}: it takes jet point clouds and the task's objects are {task.kind} crops"
            raise BadInputError(msg)
        if frames_files:
            msg = f"{why} from frames files: they hold images; give ROOT files (--fileset) for point clouds"
            raise BadInputError(msg)
        spec = PointCloudSpec(max_points=max_points or 128, order=order or "energy")
        inputs = ModelInputs("points", "jet", points=spec, scalars=scalars)
    else:
        if max_points is not None or order is not None:
            msg = f"--max-points/--order are point-cloud options; model {model_name!r} takes images"
            raise BadInputError(msg)
        names = tuple(s.name for s in resolve_channels(task.preset, frame=task.kind))
        size = window_size(task.kind)[0]  # jet and fatjet: the 125x125 jet window
        if "img_size" in inspect.signature(entry.fn).parameters:
            given = kw.get("img_size")
            if given is not None and tuple(_pair(given)) != (size, size):
                msg = f"{why}: it is built for img_size={given} and the task's frames are {size}x{size}"
                raise BadInputError(msg)
            kw["img_size"] = size
        inputs = ModelInputs("image", task.kind, names, load_norm(task.preset), scalars=scalars)
    shape = inputs.shape
    if dry_run:
        _dry_run(model_name, len(inputs.names), task.n_outputs, kw, shape, len(scalars), why)
    return Pairing(inputs, kw, shape)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _dry_run(
    name: str, n_in: int, n_out: int, kw: dict[str, Any], shape: tuple[int, ...], n_scalars: int,
    why: str,
) -> None:  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        try:
            model = create_model(name, n_in, n_out, **kw).eval()
            x: tuple[torch.Tensor, ...] = (torch.rand(2, *shape),)
            if n_scalars:
                x = (*x, torch.rand(2, n_scalars))
            with torch.no_grad(), warnings.catch_warnings():
                model(*x)
                # the ONNX export traces with this same (deprecated, still working) tracer
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.*deprecated")
                torch.jit.trace(model, x, check_trace=False)  # type: ignore[no-untyped-call]
        except BadInputError as err:
            msg = f"{why}: {err}"
            raise BadInputError(msg) from err
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            msg = f"{why}: on inputs of shape {shape} it fails with {type(err).__name__}: {err}"
            raise BadInputError(" ".join(msg.split())) from err
