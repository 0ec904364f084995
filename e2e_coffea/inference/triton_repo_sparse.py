"""A Triton model repository of taggers on the sparse wire (``triton-repo --wire sparse``).

Per tagger: ``<name>/config.pbtxt`` (``backend: "python"``, ``max_batch_size`` 0, the
sparse wire's tensors of :func:`~e2e_coffea.inference.triton_sparse.sparse_tensors` as
inputs), ``<name>/1/model.py`` (:mod:`~e2e_coffea.inference.triton_python_model`: it
builds the frames from the hits with the local builders and runs onnxruntime) and
``<name>/1/model.onnx``. The server's Python environment needs e2e-coffea (its frames
and contract modules) and onnxruntime. The config is written as tritonclient's
``ModelConfig`` message, like :mod:`~e2e_coffea.inference.triton_repo`'s.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..exceptions import BadInputError
from ..export.inspect import model_io
from .shipped import TaggerSpec
from .triton_model import TensorSpec, contract_tensors
from .triton_repo import check_name, repository_specs
from .triton_sparse import sparse_tensors

__all__ = ["sparse_model_config", "write_sparse_repository"]

_MODEL_PY = Path(__file__).with_name("triton_python_model.py")


def _tensor(pb: object, tensor: object, t: TensorSpec, model: str) -> None:
    tensor.name = check_name(f"tensor name of {model}", t.name)  # type: ignore[attr-defined]
    tensor.data_type = pb.DataType.Value(f"TYPE_{t.datatype}")  # type: ignore[attr-defined]
    tensor.dims.extend(t.shape)  # type: ignore[attr-defined]  # no Triton batching: whole shapes


def sparse_model_config(spec: TaggerSpec, *, threads: int = 0) -> str:
    """The ``config.pbtxt`` text of one tagger on the sparse wire."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as pb

    if threads < 0:
        msg = f"onnxruntime threads must be >= 0 (0: its default), got {threads}"
        raise BadInputError(msg)
    _, output = contract_tensors(spec.contract)
    graph_out = model_io(spec.path)[1][0].dims  # a binary classifier gives 1 logit or 2
    width = graph_out[-1] if graph_out and isinstance(graph_out[-1], int) else output.shape[1]
    config = pb.ModelConfig(name=check_name("model name", spec.name), backend="python")
    for t in sparse_tensors(spec.contract):
        _tensor(pb, config.input.add(), t, spec.name)
    _tensor(pb, config.output.add(), TensorSpec(output.name, "FP32", (-1, width)), spec.name)
    config.parameters["intra_op_threads"].string_value = str(threads)
    return str(text_format.MessageToString(config))


def write_sparse_repository(
    taggers: Sequence[str | os.PathLike[str] | TaggerSpec],
    out: str | os.PathLike[str],
    *,
    threads: int = 0,
) -> list[Path]:
    """``out/<name>/{config.pbtxt, 1/model.py, 1/model.onnx}`` per tagger; the folders.
    ``out`` must not exist or be empty."""
    specs, root = repository_specs(taggers, out)
    configs = [sparse_model_config(s, threads=threads) for s in specs]  # all checked first
    folders = []
    for spec, text in zip(specs, configs, strict=True):
        folder = root / spec.name
        (folder / "1").mkdir(parents=True)
        shutil.copyfile(spec.path, folder / "1" / "model.onnx")
        shutil.copyfile(_MODEL_PY, folder / "1" / "model.py")
        (folder / "config.pbtxt").write_text(text)
        folders.append(folder)
    return folders
