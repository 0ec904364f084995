"""A tagger on the sparse wire as a Triton Python-backend model: hits in, frames built here.

``e2e-coffea triton-repo --wire sparse`` copies this file as ``<name>/1/model.py`` next to
the tagger's ``model.onnx``; Triton's Python backend loads it as a module of its own, so it
imports only :mod:`e2e_coffea.frames` and :mod:`e2e_coffea.export.contract` (no Dask, no
scipy), which the server's Python environment must hold (``pip install e2e-coffea``, or
the repository on ``PYTHONPATH``: the backend's embedded interpreter ignores that
variable, so :meth:`TritonPythonModel.initialize` adds its entries itself; hence the
e2e_coffea imports happen on first use). ``tools/triton_serve.py --sparse`` binds the same
:class:`SparseServer` through PyTriton.

The frames come from :func:`~e2e_coffea.frames.sparse_wire.frames_from_hits`, the local
builders, so they equal the client's local frames bit for bit; onnxruntime then runs the
file with the local backend's session options.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SparseServer", "TritonPythonModel"]


class SparseServer:
    """Wire tensors in, the model's outputs out; ``threads``: onnxruntime intra-op threads
    (0: its default)."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int = 0) -> None:
        import onnxruntime as ort

        from e2e_coffea.export.contract import Contract
        from e2e_coffea.frames.normalisation import Normalisation
        from e2e_coffea.frames.objects import check_kind
        from e2e_coffea.frames.sparse_wire import SEEDS, frames_from_hits, wire_tensors

        self._frames = frames_from_hits
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        c = self.contract = Contract.from_metadata(props, source=str(path))
        self.kind = check_kind(c.kind)  # the contract validated it; this names its type
        self.norm = Normalisation.from_dict(c.normalisation) if c.normalisation else None
        self.inputs: list[tuple[str, Any, tuple[int, ...]]] = [
            (name, np.dtype(dtype), (-1, 2) if name == SEEDS else (-1,) * ndim)
            for name, dtype, ndim in wire_tensors(list(c.channels), self.kind)
        ]
        self.inputs += [
            (n, np.dtype("float32"), (-1, len(c.scalar_inputs))) for n in c.input_names[1:]
        ]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def frames(self, tensors: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """The frames the model sees (bit for bit the client's local ones)."""
        c = self.contract
        return self._frames(tensors, self.kind, list(c.channels), norm=self.norm)

    def infer(self, tensors: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """The model's outputs, by name, for one request's tensors."""
        c = self.contract
        feed = {c.input_names[0]: self.frames(tensors)}
        feed.update({n: np.asarray(tensors[n], dtype=np.float32) for n in c.input_names[1:]})
        outs = self.session.run(self.output_names, feed)
        return dict(zip(self.output_names, outs, strict=True))


class TritonPythonModel:
    """Triton's Python-backend interface around :class:`SparseServer`."""

    def initialize(self, args: dict[str, str]) -> None:
        for entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
            if entry and entry not in sys.path:
                sys.path.insert(0, entry)
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        threads = int(params.get("intra_op_threads", {}).get("string_value", "0") or 0)
        folder = Path(args["model_repository"]) / args["model_version"]
        self.server = SparseServer(folder / "model.onnx", threads=threads)

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

        replies = []
        for request in requests:
            try:
                tensors = {
                    name: pb_utils.get_input_tensor_by_name(request, name).as_numpy()
                    for name, _, _ in self.server.inputs
                }
                outs = self.server.infer(tensors)
                replies.append(
                    pb_utils.InferenceResponse([pb_utils.Tensor(n, v) for n, v in outs.items()])
                )
            except Exception as err:  # one request's bad tensors fail that request only
                error = pb_utils.TritonError(f"{type(err).__name__}: {err}")
                replies.append(pb_utils.InferenceResponse(error=error))
        return replies
