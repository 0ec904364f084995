"""What an ONNX graph declares it eats and produces, checked against a contract.

A model whose graph takes 3 channels under a 13-channel contract must be refused when the
tagger is resolved, with both shapes in the message, not fail inside a chunk with an
onnxruntime dimension error. Symbolic dimensions (``batch``, ``N``) match anything.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ContractError
from .contract import Contract

__all__ = ["TensorInfo", "check_model_io", "expected_inputs", "file_sha256", "model_io"]

Dims = tuple[int | str, ...]


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, dims (ints, or strings for symbolic axes), dtype."""

    name: str
    dims: Dims
    dtype: str

    def shape_text(self) -> str:
        return "(" + ", ".join(str(d) for d in self.dims) + ")"


def model_io(path: str | os.PathLike[str]) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The graph's real inputs (initializers excluded) and its outputs."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as err:
        msg = f"{path}: not a readable ONNX model ({type(err).__name__}: {err})"
        raise ContractError(msg) from err
    inits = {i.name for i in model.graph.initializer}

    def info(v: onnx.ValueInfoProto) -> TensorInfo:
        t = v.type.tensor_type
        dims: list[int | str] = []
        for d in t.shape.dim:
            dims.append(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?"))
        dtype = onnx.TensorProto.DataType.Name(t.elem_type).lower()
        return TensorInfo(v.name, tuple(dims), dtype)

    inputs = [info(v) for v in model.graph.input if v.name not in inits]
    return inputs, [info(v) for v in model.graph.output]


def expected_inputs(contract: Contract) -> dict[str, Dims]:
    """The input shapes the contract promises, by input name (batch axis symbolic)."""
    names = contract.input_names
    if contract.input_kind == "points":
        spec = contract.points or {}
        main: Dims = (
            "batch",
            int(spec.get("max_points", 0)) or "N",
            len(spec.get("features", ())) or "F",
        )
    else:
        main = ("batch", contract.n_channels, *contract.frame_size)
    out = {names[0]: main}
    if contract.scalar_inputs:
        if len(names) < 2:
            msg = f"contract lists scalar_inputs {list(contract.scalar_inputs)} but only one input name"
            raise ContractError(msg)
        out[names[1]] = ("batch", len(contract.scalar_inputs))
    return out


def _compatible(have: Dims, want: Dims) -> bool:
    if len(have) != len(want):
        return False
    return all(
        isinstance(h, str) or isinstance(w, str) or h == w for h, w in zip(have, want, strict=True)
    )


def check_model_io(path: str | os.PathLike[str], contract: Contract) -> None:
    """ContractError unless the graph's inputs and output width fit ``contract``."""
    inputs, outputs = model_io(path)
    by_name = {i.name: i for i in inputs}
    where = Path(path).name
    for name, want in expected_inputs(contract).items():
        got = by_name.get(name)
        if got is None:
            msg = f"{where}: the contract's input {name!r} is not a graph input; the graph takes {[i.name for i in inputs]}"
            raise ContractError(msg)
        if not _compatible(got.dims, want):
            shown = "(" + ", ".join(str(d) for d in want) + ")"
            msg = f"{where}: input {name!r} is declared {got.shape_text()} in the graph but the contract implies {shown}"
            raise ContractError(msg)
    extra = [i.name for i in inputs if i.name not in contract.input_names]
    if extra:
        msg = f"{where}: graph input(s) {extra} are not fed by the contract (inputs {list(contract.input_names)})"
        raise ContractError(msg)
    if not outputs:
        msg = f"{where}: the graph has no outputs"
        raise ContractError(msg)
    width = outputs[0].dims[-1] if outputs[0].dims else "?"
    binary = contract.task == "classification" and len(contract.class_names) == 2
    allowed = {1, 2} if binary else {contract.n_outputs}  # a 2-class model may give 2 logits
    if isinstance(width, int) and width not in allowed:
        msg = (
            f"{where}: output {outputs[0].name!r} is declared {outputs[0].shape_text()} but the "
            f"contract's classes {list(contract.class_names)} imply {contract.n_outputs} output(s)"
        )
        raise ContractError(msg)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Content hash of a model file: what checkpoints and provenance record of a model."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
