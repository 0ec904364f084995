"""Write a Triton model repository for taggers: what a facility's server loads.

One folder per tagger, named as the processor asks for it (the tagger name), holding the
ONNX file as version 1 and a ``config.pbtxt`` whose inputs and outputs come from the
tagger's contract (:func:`~e2e_coffea.inference.triton_model.contract_tensors`; the
output width from the graph, as a binary classifier may give one logit or two), so the
server checks requests against the same shapes the workers' backend checks. Triton's
onnxruntime backend runs it, on its GPUs where it has them (no ``instance_group`` is
written, so the server's default placement applies).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ..exceptions import BadInputError
from ..export.inspect import model_io
from .taggers import TaggerSpec, resolve_tagger
from .triton_model import TensorSpec, contract_tensors

__all__ = ["DEFAULT_MAX_BATCH_SIZE", "model_config", "write_model_repository"]

DEFAULT_MAX_BATCH_SIZE: Final = 64
"""64 tau frames are 52 MB per request: big enough to fill a GPU, small for gRPC."""


def _tensor(t: TensorSpec) -> str:
    dims = ", ".join(str(d) for d in t.shape[1:])  # Triton adds the batch axis itself
    return (
        f'  {{\n    name: "{t.name}"\n    data_type: TYPE_{t.datatype}\n    dims: [ {dims} ]\n  }}'
    )


def model_config(spec: TaggerSpec, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE) -> str:
    """The ``config.pbtxt`` text of one tagger (protobuf text format of Triton's ModelConfig)."""
    if max_batch_size < 1:
        msg = f"max_batch_size must be >= 1 (the taggers batch along their first axis), got {max_batch_size}"
        raise BadInputError(msg)
    inputs, output = contract_tensors(spec.contract)
    graph_out = model_io(spec.path)[1][0].dims  # a binary classifier gives 1 logit or 2
    width = graph_out[-1] if graph_out and isinstance(graph_out[-1], int) else output.shape[1]
    output = TensorSpec(output.name, output.datatype, (-1, width))
    lines = [
        f'name: "{spec.name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size}",
        "input [\n" + ",\n".join(_tensor(t) for t in inputs) + "\n]",
        "output [\n" + _tensor(output) + "\n]",
        "dynamic_batching { }",
    ]
    return "\n".join(lines) + "\n"


def write_model_repository(
    taggers: Sequence[str | os.PathLike[str] | TaggerSpec],
    out: str | os.PathLike[str],
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> list[Path]:
    """``out/<name>/config.pbtxt`` and ``out/<name>/1/model.onnx`` per tagger; the model
    folders written. ``out`` must not exist or be empty: a repository is written whole."""
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
    configs = [model_config(s, max_batch_size) for s in specs]  # all checked before writing
    root.mkdir(parents=True, exist_ok=True)
    folders = []
    for spec, text in zip(specs, configs, strict=True):
        folder = root / spec.name
        (folder / "1").mkdir(parents=True)
        shutil.copyfile(spec.path, folder / "1" / "model.onnx")
        (folder / "config.pbtxt").write_text(text)
        folders.append(folder)
    return folders
