"""What a Triton server says one model takes and gives, checked against the e2e contract.

The server's model metadata names every tensor with its datatype and full shape (batch
axis included, ``-1`` where free); its config adds ``max_batch_size``. Both are read once
per worker process and compared with what the model's contract promises, so a server
serving another file under the tagger's name fails before the first frame is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import TritonError
from ..export.contract import Contract
from ..export.inspect import expected_inputs

__all__ = [
    "ModelInfo",
    "TensorSpec",
    "check_model",
    "contract_tensors",
    "output_widths",
]


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: name, KServe-v2 datatype (``FP32``) and full shape, ``-1`` where free."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.name} {self.datatype}{list(self.shape)}"


@dataclass(frozen=True)
class ModelInfo:
    """A served model as its metadata and config describe it.

    ``max_batch_size > 0``: Triton batches along a leading axis it adds, at most that many
    objects per request. ``0``: the shapes are the model's whole tensors, so the leading
    axis takes any size when it is ``-1`` and exactly that size when fixed (Triton's
    model-configuration docs, "Maximum Batch Size").
    """

    name: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def from_json(cls, metadata: Mapping[str, Any], config: Mapping[str, Any]) -> ModelInfo:
        """From tritonclient's ``as_json`` answers (gRPC spells int64 as strings, and its
        JSON leaves out a zero ``max_batch_size``; HTTP gives numbers)."""

        def tensors(items: Any) -> tuple[TensorSpec, ...]:
            return tuple(
                TensorSpec(str(t["name"]), str(t["datatype"]), tuple(int(d) for d in t["shape"]))
                for t in items or ()
            )

        return cls(
            name=str(metadata.get("name", "")),
            max_batch_size=int(config.get("max_batch_size", 0) or 0),
            inputs=tensors(metadata.get("inputs")),
            outputs=tensors(metadata.get("outputs")),
        )

    @property
    def objects_per_request(self) -> tuple[int | None, bool]:
        """(limit, exact): at most ``limit`` objects per request (None: no server limit);
        ``exact`` when the model's leading axis is fixed and every request must fill it."""
        if self.max_batch_size > 0:
            return self.max_batch_size, False
        leading = {t.shape[0] for t in self.inputs if t.shape}
        fixed = sorted(d for d in leading if d > 0)
        return (fixed[0], True) if fixed else (None, False)


def contract_tensors(contract: Contract) -> tuple[tuple[TensorSpec, ...], TensorSpec]:
    """The inputs (:func:`~e2e_coffea.export.inspect.expected_inputs`, symbolic axes as
    ``-1``) and the first output ``(n, n_outputs)`` of a model exported with ``contract``."""
    inputs = tuple(
        TensorSpec(name, "FP32", tuple(d if isinstance(d, int) else -1 for d in dims))
        for name, dims in expected_inputs(contract).items()
    )
    return inputs, TensorSpec(contract.output_names[0], "FP32", (-1, contract.n_outputs))


def output_widths(contract: Contract) -> set[int]:
    """Output widths that fit: a binary classifier may give one logit or two."""
    binary = contract.task == "classification" and len(contract.class_names) == 2
    return {1, 2} if binary else {contract.n_outputs}


def _fits(served: TensorSpec, wanted: TensorSpec) -> bool:
    """Served shape admits the contract's (``-1`` on either side admits anything); the batch
    axis only has to exist: its size is handled by :attr:`ModelInfo.objects_per_request`."""
    if served.datatype != wanted.datatype or len(served.shape) != len(wanted.shape):
        return False
    pairs = zip(served.shape[1:], wanted.shape[1:], strict=True)
    return all(s == w or -1 in (s, w) for s, w in pairs)


def check_model(info: ModelInfo, contract: Contract, where: str) -> None:
    """TritonError, naming the server's and the contract's side, unless the served model
    takes the contract's inputs and gives its output. ``where``: ``server URL, model 'x'``."""
    inputs, output = contract_tensors(contract)
    served = {t.name: t for t in info.inputs}
    side = f"e2e contract of {contract.model_name!r}"
    if set(served) != {t.name for t in inputs}:
        msg = (
            f"{where}: inputs {[t.describe() for t in info.inputs]} on the server, "
            f"{[t.describe() for t in inputs]} in the {side}"
        )
        raise TritonError(msg)
    for want in inputs:
        if not _fits(served[want.name], want):
            msg = (
                f"{where}: input {served[want.name].describe()} on the server, "
                f"{want.describe()} in the {side}"
            )
            raise TritonError(msg)
    outs = {t.name: t for t in info.outputs}
    served_out = outs.get(output.name)
    if (
        served_out is None
        or len(served_out.shape) != 2
        or served_out.datatype != output.datatype
        or not (served_out.shape[1] == -1 or served_out.shape[1] in output_widths(contract))
    ):
        msg = (
            f"{where}: outputs {[t.describe() for t in info.outputs]} on the server, "
            f"{output.describe()} in the {side}"
        )
        raise TritonError(msg)
