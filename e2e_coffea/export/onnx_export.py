"""Export a model to ONNX with its contract, and prove the file computes what torch does.

The file is written next to its destination, checked (``onnx.checker``), then run with
onnxruntime on random inputs at a batch size other than the traced one (which proves
the batch axis is dynamic) and compared with torch. Only a file that agrees to
``atol`` is moved into place, so a half-broken model never lands where a processor
would pick it up.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..exceptions import BadInputError, ChannelError, ContractError
from ..io.atomic import atomic_write
from .contract import Contract, check_channels

__all__ = ["ExportReport", "export_onnx", "export_tagger", "onnx_outputs"]

_VERIFY_BATCH = 3  # differs from the traced batch of 2: a fixed batch axis would fail here


@dataclass(frozen=True)
class ExportReport:
    """Where the model went, the contract written, and how closely ORT matched torch."""

    path: Path
    contract: Contract
    max_abs_diff: float
    n_bytes: int


def _input_names(model: nn.Module) -> tuple[str, ...]:
    kind = getattr(model, "input_kind", "image")
    names = ("points",) if kind == "points" else ("frames",)
    return (*names, "scalars") if getattr(model, "n_scalars", 0) else names


def _random_inputs(shape: Sequence[int], n_scalars: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g)
    if len(shape) == 3 and shape[1] > 3:  # point clouds: zero-pad the tail of event 0
        x[0, shape[1] // 2 :] = 0.0
    if n_scalars:
        return (x, torch.randn(shape[0], n_scalars, generator=g))
    return (x,)


def _check_consistency(model: nn.Module, contract: Contract, shape: tuple[int, ...]) -> None:
    kind = getattr(model, "input_kind", "image")
    ndim, ch_axis = (3, 2) if kind == "points" else (4, 1)
    if len(shape) != ndim or any(s < 1 for s in shape):
        want = "(batch, N, features)" if kind == "points" else "(batch, C, H, W)"
        msg = f"example_input_shape must be {want} with positive sizes, got {shape}"
        raise BadInputError(msg)
    check_channels(contract, shape[ch_axis])
    n_in = getattr(model, "in_channels", shape[ch_axis])
    if n_in != contract.n_channels:
        msg = f"model takes {n_in} channel(s), the contract lists {contract.n_channels}: {list(contract.channels)}"
        raise ChannelError(msg)
    if tuple(shape[1:3] if kind == "points" else shape[2:]) != contract.frame_size:
        msg = f"example_input_shape {shape} disagrees with the contract frame_size {contract.frame_size}"
        raise ContractError(msg)
    traced = getattr(model, "img_size", None)  # ViT: positions are traced for one grid
    if traced is not None and kind == "image" and tuple(traced) != tuple(shape[2:]):
        msg = f"{type(model).__name__} was built for img_size={tuple(traced)}; export it at that frame size, not {tuple(shape[2:])}"
        raise ContractError(msg)
    if kind != contract.input_kind:
        msg = f"model eats {kind} input but the contract says input_kind={contract.input_kind!r}"
        raise ContractError(msg)
    for attr, value in (("model_name", contract.model_name), ("task", contract.task)):
        have = getattr(model, attr, None)
        if have is not None and have != value:
            msg = f"model {attr} is {have!r} but the contract says {value!r}"
            raise ContractError(msg)
    n_out = getattr(model, "n_outputs", contract.n_outputs)
    if n_out != contract.n_outputs:
        msg = f"model has {n_out} output(s), contract class_names {list(contract.class_names)} imply {contract.n_outputs}"
        raise ContractError(msg)
    n_sc = getattr(model, "n_scalars", 0)
    if n_sc != len(contract.scalar_inputs):
        msg = f"model takes {n_sc} scalar input(s) but contract scalar_inputs is {list(contract.scalar_inputs)}"
        raise ContractError(msg)


def onnx_outputs(path: str | os.PathLike[str], *inputs: np.ndarray) -> np.ndarray:
    """Run an ONNX file on CPU with onnxruntime; the inputs in the file's input order."""
    try:
        import onnxruntime as ort
    except ImportError as err:  # optional: onnxruntime vs onnxruntime-gpu is the user's pick
        msg = "onnxruntime is needed to verify exports: pip install 'e2e-coffea[cpu]'"
        raise ContractError(msg) from err
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {i.name: a for i, a in zip(sess.get_inputs(), inputs, strict=True)}
    return np.asarray(sess.run(None, feed)[0])


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    contract: Contract,
    example_input_shape: Sequence[int],
    opset: int = 17,
    *,
    atol: float = 1e-4,
    seed: int = 0,
) -> ExportReport:
    """Write ``model`` as ONNX with ``contract`` in its metadata; verify before moving in place.

    Input names are ``frames`` (or ``points``) and, when the model takes scalars,
    ``scalars``; the output is ``outputs``. The batch axis is dynamic. Raises
    ContractError if the contract disagrees with the model or ORT disagrees with torch.
    """
    import onnx

    shape = tuple(int(s) for s in example_input_shape)
    _check_consistency(model, contract, shape)
    names = _input_names(model)
    contract = replace(
        contract,
        input_names=names,
        output_names=("outputs",),
        model_kwargs=dict(getattr(model, "model_kwargs", contract.model_kwargs)),
    )
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # export from a CPU copy in eval mode: the caller's model keeps its device and mode
    net = copy.deepcopy(model).to("cpu").float().eval()
    args = _random_inputs(shape, getattr(model, "n_scalars", 0), seed)
    axes: dict[str, dict[int, str]] = {n: {0: "batch"} for n in names}
    axes["outputs"] = {0: "batch"}
    with atomic_write(dest) as tmp:  # a model that fails a check is never written
        with warnings.catch_warnings():
            # torch >= 2.9 deprecates the TorchScript exporter; we keep it (its graphs are
            # the ones checked against every backend) and silence exactly those notices.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
            warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", message=r"The feature will be removed.*")
            torch.onnx.export(
                net,
                args,
                str(tmp),
                input_names=list(names),
                output_names=["outputs"],
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
            )
        proto = onnx.load(str(tmp))
        for key, value in contract.to_metadata().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.producer_name = "e2e_coffea"
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
        diff = _max_abs_diff(net, tmp, shape, getattr(model, "n_scalars", 0), seed + 1)
        if not diff <= atol:
            msg = f"{dest}: onnxruntime and torch disagree by {diff:.3g} (> {atol:g}); not written"
            raise ContractError(msg)
    return ExportReport(dest, contract, diff, dest.stat().st_size)


def _max_abs_diff(
    net: nn.Module, path: Path, shape: tuple[int, ...], n_scalars: int, seed: int
) -> float:
    inputs = _random_inputs((_VERIFY_BATCH, *shape[1:]), n_scalars, seed)
    with torch.no_grad():
        want = net(*inputs).numpy()
    got = onnx_outputs(path, *(t.numpy() for t in inputs))
    if got.shape != want.shape:
        msg = f"{path}: ONNX output shape {got.shape} != torch {want.shape}"
        raise ContractError(msg)
    return float(np.max(np.abs(got - want))) if want.size else 0.0


class _Declared(nn.Module):
    """A user module with the attributes the exporter reads, taken from the contract."""

    def __init__(self, module: nn.Module, contract: Contract) -> None:
        super().__init__()
        self.module = module
        self.input_kind = contract.input_kind
        self.n_scalars = len(contract.scalar_inputs)
        self.model_name = contract.model_name
        self.task = contract.task
        self.model_kwargs: dict[str, object] = dict(contract.model_kwargs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.module(*inputs)
        return out[:, None] if out.ndim == 1 else out


def export_tagger(
    module: nn.Module,
    contract: Contract,
    path: str | os.PathLike[str],
    *,
    opset: int = 17,
    atol: float = 1e-4,
) -> Path:
    """Export any ``torch.nn.Module`` as a tagger carrying ``contract``.

    The module takes the frames (B, C, H, W) — or points (B, N, F) for
    ``input_kind="points"`` — and, when the contract lists ``scalar_inputs``, a second
    tensor (B, n_scalars); it returns (B, n_outputs) logits (or probabilities with
    ``output_kind="probabilities"``). The file is checked like every export (onnxruntime
    against torch) and its output width against the classes; it then works wherever a
    shipped tagger name does. Returns the written path."""
    from .attach import probe_outputs

    if contract.input_kind == "points":
        spec = contract.points or {}
        shape: tuple[int, ...] = (2, int(spec.get("max_points", contract.frame_size[0])),
                                  len(spec.get("features", ())) or contract.frame_size[1])  # fmt: skip
    else:
        shape = (2, contract.n_channels, *contract.frame_size)
    report = export_onnx(_Declared(module, contract), path, replace(contract, model_kwargs={}), shape,
                         opset, atol=atol)  # fmt: skip
    try:
        probe_outputs(report.path, report.contract)
    except ContractError:
        report.path.unlink(missing_ok=True)
        raise
    return report.path
