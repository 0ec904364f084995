"""Sparse hits to Triton: the client sends each object's hits, the server builds the frames.

The ``sparse`` wire (:mod:`e2e_coffea.frames.sparse_wire`) sends, per request of up to
``batch_size`` objects, their seeds and the hits inside their windows: hundreds of bytes
per jet instead of a dense frame's 188 kB (qg) or 813 kB (tau13). The served model takes
those tensors (all dims free, ``max_batch_size`` 0: the hits are ragged, so Triton does no
batching of its own; the client's requests are already batches), builds the frames with
:func:`~e2e_coffea.frames.sparse_wire.frames_from_hits` (the same builders as local
frames, so the frames are equal bit for bit) and runs the ONNX file in onnxruntime with
the local backend's session options. A scalar-input tagger's scalars travel as they are.

Client: :class:`SparseTritonBackend`, which :class:`~e2e_coffea.Tagger` uses with
``triton_wire="sparse"``. Server: ``tools/triton_serve.py --sparse`` binds, through
PyTriton, a Python function that reads the contract from the ONNX file's metadata,
calls ``frames_from_hits`` and runs onnxruntime; it imports only
:mod:`e2e_coffea.frames` and :mod:`e2e_coffea.export.contract` (no Dask, no scipy), so it
runs in the server's own environment, as a facility's Triton Python-backend model would.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, ContractError, TritonError
from ..export.contract import Contract
from ..frames.records import ObjectRecords, ObjectSelection
from ..frames.sparse_wire import SEEDS, object_hits, wire_collections, wire_tensors
from ..layouts import Layout, ObjectKind
from .triton import TritonBackend
from .triton_model import ModelInfo, TensorSpec, contract_tensors, output_widths

__all__ = [
    "WIRES",
    "SparseTritonBackend",
    "check_wire",
    "sparse_inputs",
    "sparse_tensors",
]

WIRES = ("dense", "sparse")
"""What the Triton client sends: ``dense`` frames (a server holding only the ONNX file)
or ``sparse`` hits (a server that builds the frames itself)."""
_TRITON_TYPES = {"int16": "INT16", "int32": "INT32", "float32": "FP32"}


def check_wire(wire: str, contract: Contract | None = None) -> str:
    """``wire`` if it is one of :data:`WIRES` (and, given the tagger's ``contract``, one it
    can travel on); a one-line refusal otherwise."""
    if wire not in WIRES:
        msg = f"unknown Triton wire format {wire!r}; expected one of {list(WIRES)}"
        raise BadInputError(msg)
    if wire == "sparse" and contract is not None:
        _kind(contract)
    return wire


def _kind(contract: Contract) -> Any:
    if contract.input_kind != "image":
        msg = f"model {contract.model_name!r} takes point clouds: the sparse Triton wire carries image taggers' hits; use the dense wire"
        raise ContractError(msg)
    return contract.kind


def sparse_tensors(contract: Contract) -> tuple[TensorSpec, ...]:
    """The served model's inputs on the sparse wire: the hit tensors, then the scalars."""
    out = [
        TensorSpec(name, _TRITON_TYPES[dtype], (-1,) * ndim if name != SEEDS else (-1, 2))
        for name, dtype, ndim in wire_tensors(list(contract.channels), _kind(contract))
    ]
    out += list(contract_tensors(contract)[0][1:])  # scalar inputs, as the dense wire has them
    return tuple(out)


def sparse_inputs(
    chunk: Any, layout: Layout, contract: Contract, kind: ObjectKind, selection: ObjectSelection
) -> tuple[dict[str, npt.NDArray[Any]], ObjectRecords]:
    """The wire tensors (and scalar inputs) of a chunk's selected objects, and their
    records; BadInputError for an e2e-layout chunk (it holds images, not hits)."""
    if layout != "sparse":
        msg = f"the sparse Triton wire sends hits and needs sparse-layout chunks, got {layout!r}; use --triton-wire dense"
        raise BadInputError(msg)
    _kind(contract)
    tensors, rec = object_hits(chunk, kind, list(contract.channels), selection)
    scalars = contract.model_inputs().scalar_values(chunk, rec, layout)
    if scalars is not None:  # the scalars the dense wire (and training) feed
        tensors[contract.input_names[1]] = scalars
    return tensors, rec


class SparseTritonBackend(TritonBackend):
    """A :class:`TritonBackend` that sends hits: ``infer(wire tensors) -> (n, n_out)``.

    Requests hold at most ``batch_size`` objects; the served model must take exactly the
    :func:`sparse_tensors` of the contract (checked once per process)."""

    def __repr__(self) -> str:
        return f"SparseTritonBackend({self.url!r}, {self.model!r}, protocol={self.protocol!r})"

    def infer(self, inputs: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        wanted = sparse_tensors(self.contract)
        names = [t.name for t in wanted]
        if set(inputs) != set(names):
            msg = f"model {self.contract.model_name!r} on the sparse wire takes {names}, got {sorted(inputs)}"
            raise ContractError(msg)
        output = contract_tensors(self.contract)[1]
        n = len(inputs[SEEDS])
        if n == 0:
            return np.zeros((0, output.shape[1]), np.float32)
        self.model_info()
        colls = wire_collections(list(self.contract.channels), _kind(self.contract))
        offsets = {c.name: np.concatenate([[0], np.cumsum(inputs[c.count])]) for c in colls}
        flat = {c.branch(f): c.name for c in colls for f in (*c.integer_fields, *c.values)}
        parts = []
        for a in range(0, n, self.batch_size):
            b = min(a + self.batch_size, n)
            part = {}
            for name in names:
                x = inputs[name]
                if name in flat:
                    off = offsets[flat[name]]
                    x = x[int(off[a]) : int(off[b])]
                else:
                    x = x[a:b]
                part[name] = np.ascontiguousarray(x)
            send = functools.partial(self._send, arrays=part, output=output.name)
            parts.append(self._call("infer", send))
        result = np.concatenate(parts).reshape(n, -1)
        if result.shape[1] not in output_widths(self.contract):
            msg = f"{self.where}: output {output.name} has {result.shape[1]} columns, the contract {output.shape[1]}"
            raise TritonError(msg)
        return result

    def _check(self, info: ModelInfo) -> None:
        wanted = sparse_tensors(self.contract)
        served = sorted(t.describe() for t in info.inputs)
        if served != sorted(t.describe() for t in wanted):
            msg = (
                f"{self.where}: inputs {served} on the server; the sparse wire sends "
                f"{[t.describe() for t in wanted]} (serve it with `triton-repo --wire sparse`, "
                f"or use --triton-wire dense for a server that holds only the ONNX model)"
            )
            raise TritonError(msg)
