"""The precision gate: a reduced-precision variant runs only if its AUC loss was measured.

A variant (``fp16`` weights, static ``int8`` quantisation) is faster but moves the logits;
how much that costs is a property of the trained model, not of the format. So each
variant's held-out AUC change is measured once (``e2e-coffea contract variants``) and
recorded in the fp32 model's contract under ``precision_variants``::

    {"int8": {"auc_fp32": 0.9773, "auc_variant": 0.9771, "delta": -0.0002,
              "n_objects": 812, "sha256": "...", "file": "variants/tau_resnet15.int8.onnx",
              "sample": "...", "onnxruntime": "1.22.0"}}

``delta`` is ``auc_variant - auc_fp32``. :func:`check_precision` refuses a precision whose
record is missing or whose AUC drops by more than :data:`MAX_AUC_DROP`, naming the drop.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from ..exceptions import PrecisionError
from .contract import Contract, load_contract

__all__ = [
    "MAX_AUC_DROP",
    "PRECISIONS",
    "VARIANT_DIR",
    "bf16_refusal",
    "check_precision",
    "check_precision_name",
    "record_variant",
    "variant_file",
    "write_variant_contract",
]

PRECISIONS: Final = ("fp32", "fp16", "bf16", "int8")
"""What ``--precision`` accepts; ``fp32`` is the model as trained."""
MAX_AUC_DROP: Final = 0.002
"""The most held-out AUC a variant may lose (issue 25)."""
VARIANT_DIR: Final = "variants"
"""Variant files live in this folder next to their fp32 model (``NAME.PRECISION.onnx``):
outside the folder's ``*.onnx`` listing, so a variant is never taken for a tagger."""
_RECORD_KEYS: Final = ("auc_fp32", "auc_variant", "delta", "n_objects", "sha256")


def check_precision_name(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; a one-line refusal otherwise."""
    if precision not in PRECISIONS:
        msg = f"precision {precision!r} is not one of {', '.join(PRECISIONS)}"
        raise PrecisionError(msg)
    return precision


def variant_file(model_path: str | os.PathLike[str], precision: str) -> Path:
    """Where the ``precision`` variant of ``model_path`` lives: ``variants/NAME.PREC.onnx``."""
    p = Path(model_path)
    return p.parent / VARIANT_DIR / f"{p.stem}.{precision}.onnx"


def check_precision(contract: Contract, precision: str, *, name: str) -> dict[str, Any] | None:
    """The recorded measurement that lets tagger ``name`` run at ``precision`` (None for
    fp32); PrecisionError, in one line naming the measured drop, where it may not."""
    check_precision_name(precision)
    if precision == "fp32":
        return None
    if precision == "bf16":
        msg = f"{name}: {bf16_refusal()}"
        raise PrecisionError(msg)
    record = (contract.precision_variants or {}).get(precision)
    if record is None and contract.task != "classification":
        msg = f"{name} is a {contract.task} tagger: no AUC gates its {precision} variant, so it runs in fp32 only"
        raise PrecisionError(msg)
    if record is None:
        msg = (
            f"{name} has no recorded held-out AUC for precision {precision}, so it does not run "
            f"at it; measure it with: e2e-coffea contract variants {name} --precision {precision} "
            "--sample DIR"
        )
        raise PrecisionError(msg)
    if not isinstance(record, dict) or any(k not in record for k in _RECORD_KEYS):
        msg = (
            f"{name}: the {precision} record in its contract lacks {list(_RECORD_KEYS)}: {record!r}"
        )
        raise PrecisionError(msg)
    drop = float(record["auc_fp32"]) - float(record["auc_variant"])
    if not drop <= MAX_AUC_DROP + 1e-12:  # exactly the limit passes; NaN is refused
        msg = (
            f"{name} refuses precision {precision}: its held-out AUC drops by {drop:.4f} "
            f"({record['auc_fp32']:.4f} -> {record['auc_variant']:.4f} on "
            f"{record['n_objects']} objects), more than the {MAX_AUC_DROP} allowed"
        )
        raise PrecisionError(msg)
    return dict(record)


def record_variant(
    path: str | os.PathLike[str], precision: str, record: dict[str, Any]
) -> Contract:
    """Write ``record`` as the ``precision`` entry of ``path``'s contract, in place (the
    graph and weights are untouched; the file's own hash changes, its variants' do not)."""
    import onnx

    from .attach import _save_with_contract

    check_precision_name(precision)
    p = Path(path)
    contract = load_contract(p)
    variants = {**(contract.precision_variants or {}), precision: record}
    contract = replace(contract, precision_variants=variants)
    _save_with_contract(onnx.load(str(p)), contract, p)
    return contract


def write_variant_contract(path: str | os.PathLike[str], contract: Contract) -> None:
    """Give the variant file ``path`` its fp32 model's contract, without the variant
    records (a file cannot hold its own hash): ``contract show`` and Triton read it."""
    import onnx

    from .attach import _save_with_contract

    p = Path(path)
    _save_with_contract(onnx.load(str(p)), replace(contract, precision_variants=None), p)


def bf16_refusal() -> str:
    """Why bf16 is refused, measured now: onnxruntime's CPU provider is asked to run a
    bfloat16 convolution and a bfloat16 matrix product (what a tagger is made of)."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    def probe(op: str, shape: list[int], w: list[int], **attrs: Any) -> str | None:
        bf = TensorProto.BFLOAT16
        nodes = [
            helper.make_node("Cast", ["x"], ["xb"], to=bf),
            helper.make_node("Cast", ["w"], ["wb"], to=bf),
            helper.make_node(op, ["xb", "wb"], ["yb"], **attrs),
            helper.make_node("Cast", ["yb"], ["y"], to=TensorProto.FLOAT),
        ]
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                  for n, s in (("x", shape), ("w", w))]  # fmt: skip
        out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
        graph = helper.make_graph(nodes, "bf16_probe", inputs, out)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        try:
            s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            s.run(None, {"x": np.ones(shape, np.float32), "w": np.ones(w, np.float32)})
        except Exception as err:
            return f"{op}: {str(err).splitlines()[0][:160]}"
        return None

    found = [f for f in (probe("Conv", [1, 1, 4, 4], [1, 1, 3, 3]), probe("MatMul", [2, 4], [4, 2]))
             if f is not None]  # fmt: skip
    if found:
        return (
            f"precision bf16 is refused: onnxruntime {ort.__version__} on the CPU cannot run "
            f"bfloat16 models ({'; '.join(found)})"
        )
    return (
        f"precision bf16 is refused: onnxruntime {ort.__version__} runs bfloat16 here, but "
        "no bf16 variant has been measured; use fp16 or int8"
    )
