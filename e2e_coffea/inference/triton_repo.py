"""Write a Triton model repository for taggers: what a facility's server loads.

One folder per tagger, named as the processor asks for it (the tagger name), holding the
ONNX file as version 1 and a ``config.pbtxt`` whose inputs and outputs come from the
tagger's contract (:func:`~e2e_coffea.inference.triton_model.contract_tensors`; the
output width from the graph, as a binary classifier may give one logit or two), so the
server checks requests against the same shapes the workers' backend checks. Triton's
onnxruntime backend runs it, on its GPUs where it has them (no ``instance_group`` is
written, so the server's default placement applies).

The config is a model's author's input reaching another tool, so it is built as
tritonclient's ``ModelConfig`` message and written by protobuf's own text format (no
string pasting), names outside ``[A-Za-z0-9_.:-]`` are refused (they become folder names
and server-side identifiers too), and numbers are bounded to their field's type.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ..exceptions import BadInputError
from ..export.inspect import model_io
from .precision import fp16_model, session_model
from .shipped import TaggerSpec, resolve_tagger
from .triton_model import TensorSpec, contract_tensors

__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "MAX_BATCH_SIZE_LIMIT",
    "check_name",
    "model_config",
    "repository_specs",
    "write_model_repository",
]

DEFAULT_MAX_BATCH_SIZE: Final = 64
"""64 tau frames are 52 MB per request: big enough to fill a GPU, small for gRPC."""
MAX_BATCH_SIZE_LIMIT: Final = 2**31 - 1
"""Triton's ``max_batch_size`` is an int32."""
_DIM_LIMIT: Final = 2**63 - 1  # dims are int64
_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]+")


def check_name(what: str, name: str) -> str:
    """``name`` if it is made of ``[A-Za-z0-9_.:-]`` (and is not ``.`` or ``..``); a
    one-line refusal naming it otherwise."""
    if not _NAME.fullmatch(name) or name in (".", ".."):
        msg = f"{what} {name!r} is not allowed in a Triton repository: use only letters, digits and _ . : -"
        raise BadInputError(msg)
    return name


def _pb() -> Any:
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = f"triton-repo writes Triton's ModelConfig with tritonclient: pip install 'e2e-coffea[triton]' ({err})"
        raise ImportError(msg) from err
    return model_config_pb2


def _tensor(pb: Any, tensor: Any, t: TensorSpec, model: str) -> None:
    tensor.name = check_name(f"tensor name of {model}", t.name)
    tensor.data_type = pb.DataType.Value(f"TYPE_{t.datatype}")
    dims = t.shape[1:]  # Triton adds the batch axis itself
    if any(not -1 <= d <= _DIM_LIMIT or d == 0 for d in dims):
        msg = f"tensor {t.name} of {model} has dims {list(dims)}; Triton needs int64 sizes >= 1 (or -1)"
        raise BadInputError(msg)
    tensor.dims.extend(dims)


def model_config(spec: TaggerSpec, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE) -> str:
    """The ``config.pbtxt`` text of one tagger: Triton's ModelConfig in protobuf's text format."""
    if not 1 <= max_batch_size <= MAX_BATCH_SIZE_LIMIT:
        msg = (
            f"max_batch_size must be >= 1 (the taggers batch along their first axis) and "
            f"<= {MAX_BATCH_SIZE_LIMIT} (Triton's field is int32), got {max_batch_size}"
        )
        raise BadInputError(msg)
    from google.protobuf import text_format

    pb = _pb()
    inputs, output = contract_tensors(spec.contract)
    graph_out = model_io(spec.path)[1][0].dims  # a binary classifier gives 1 logit or 2
    width = graph_out[-1] if graph_out and isinstance(graph_out[-1], int) else output.shape[1]
    output = TensorSpec(output.name, output.datatype, (-1, width))
    config = pb.ModelConfig(
        name=check_name("model name", spec.name),
        platform="onnxruntime_onnx",
        max_batch_size=max_batch_size,
    )
    for t in inputs:
        _tensor(pb, config.input.add(), t, spec.name)
    _tensor(pb, config.output.add(), output, spec.name)
    config.dynamic_batching.SetInParent()  # present and empty: the server's defaults
    return str(text_format.MessageToString(config))


def repository_specs(
    taggers: Sequence[str | os.PathLike[str] | TaggerSpec], out: str | os.PathLike[str]
) -> tuple[list[TaggerSpec], Path]:
    """The taggers of one model repository (at least one, names unique) and its folder,
    which must not exist or be empty: checked before anything is written."""
    specs = [t if isinstance(t, TaggerSpec) else resolve_tagger(t) for t in taggers]
    if not specs:
        msg = "triton-repo needs at least one tagger"
        raise BadInputError(msg)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        msg = f"tagger names must be unique in one repository, got {names}"
        raise BadInputError(msg)
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        msg = f"{root} exists and is not an empty folder; choose a new --out"
        raise BadInputError(msg)
    return specs, root


def write_model_repository(
    taggers: Sequence[str | os.PathLike[str] | TaggerSpec],
    out: str | os.PathLike[str],
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    precision: str = "fp32",
) -> list[Path]:
    """``out/<name>/config.pbtxt`` and ``out/<name>/1/model.onnx`` per tagger; the model
    folders written. ``out`` must not exist or be empty: a repository is written whole.
    ``precision``: each model file is the tagger's variant that passed the precision gate
    (:func:`~.precision.session_model`; refused before anything is written)."""
    specs, root = repository_specs(taggers, out)
    configs = [model_config(s, max_batch_size) for s in specs]  # all checked before writing
    models = [session_model(s, precision) for s in specs]
    root.mkdir(parents=True, exist_ok=True)
    folders = []
    for spec, text, m in zip(specs, configs, models, strict=True):
        folder = root / spec.name
        (folder / "1").mkdir(parents=True)
        if m.fp16:
            (folder / "1" / "model.onnx").write_bytes(fp16_model(m.path))
        else:
            shutil.copyfile(m.path, folder / "1" / "model.onnx")
        (folder / "config.pbtxt").write_text(text)
        folders.append(folder)
    return folders
