"""Build a tagger's reduced-precision variant and measure what it does to the AUC.

``int8`` is onnxruntime's static quantisation (``quantize_static``: QDQ format, int8
weights per output channel, uint8 activations, MinMax ranges; the first and the last
layer kept float) calibrated on frames of
the tagger's own training task; ``fp16`` is the float16 conversion sessions already do.
The frames come from a generated sample of the task's processes (``e2e-coffea generate
--seed 2``: training used seed 1, so these objects are held out), through the tagger's
own selection and frame code. Every fourth object calibrates; the AUC of fp32 and of the
variant is measured on the other three quarters, on the same objects, and recorded in the
contract (:func:`~e2e_coffea.export.precision.record_variant`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, PrecisionError
from ..export.inspect import file_sha256
from ..export.precision import (
    MAX_AUC_DROP,
    check_precision_name,
    record_variant,
    variant_file,
    write_variant_contract,
)
from ..train.fitting.metrics import roc_auc
from ..train.tasks.definitions import Task, class_mask, get_task
from .precision import fp16_model
from .sessions import get_session
from .shipped import TaggerSpec

__all__ = [
    "CALIBRATION_EVERY",
    "TaskFrames",
    "build_int8",
    "measure_and_record",
    "measure_variant",
    "task_frames",
]

CALIBRATION_EVERY: Final = 4
"""Every fourth object calibrates the int8 ranges; the others measure the AUC."""


@dataclass(frozen=True)
class TaskFrames:
    """A tagger's inputs for labelled objects of its task (class index per object)."""

    inputs: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]

    def split(self) -> tuple[TaskFrames, TaskFrames]:
        """(calibration, held-out): every :data:`CALIBRATION_EVERY`-th object, the rest."""
        calib = np.arange(len(self.labels)) % CALIBRATION_EVERY == 0
        return (
            TaskFrames(self.inputs[calib], self.labels[calib]),
            TaskFrames(self.inputs[~calib], self.labels[~calib]),
        )


def task_frames(
    spec: TaggerSpec, sample: str | os.PathLike[str], *, per_class: int = 200
) -> TaskFrames:
    """Up to ``per_class`` objects of each class of ``spec``'s training task from
    ``sample`` (a fileset JSON, or a folder holding ``fileset.json``), in the task's
    kinematic range, as the tagger's inputs."""
    import uproot

    from ..io.fileset import load_fileset
    from .tagger import Tagger, detect_layout

    task = _task_of(spec)
    if spec.contract.scalar_inputs:
        msg = f"{spec.name} takes scalar inputs {list(spec.contract.scalar_inputs)}; variants are measured for frame- or point-only taggers"
        raise BadInputError(msg)
    p = Path(sample)
    fs = load_fileset(p / "fileset.json" if p.is_dir() else p)
    tagger = Tagger(spec, device="cpu", cuts=task.cuts())
    inputs: list[Any] = []
    labels: list[npt.NDArray[np.int64]] = []
    count = dict.fromkeys(range(task.n_classes), 0)
    for name, entry in fs.items():
        # every class the process feeds: ttbar gives both b and light jets to b tagging
        classes = task.classes_of_process(str(entry.get("metadata", {}).get("process", name)))
        for path, tree in entry["files"].items():
            if all(count[c] >= per_class for c in classes):
                break
            with uproot.open(path) as f:
                t = f[tree]
                layout = detect_layout(list(t.keys()))
                need, optional = tagger.branches(layout, truth=True)
                wanted = [b for b in dict.fromkeys(need + optional) if b in t.keys()]
                chunk = t.arrays(wanted, library="ak")
            sel = tagger.select(chunk, layout)
            for batch in tagger.score_batches(chunk, layout, sel):
                for cls in classes:
                    keep = np.flatnonzero(class_mask(task, batch.records.label, cls))
                    keep = keep[: per_class - count[cls]]
                    inputs.append(np.asarray(batch.inputs)[keep])
                    labels.append(np.full(len(keep), cls, np.int64))
                    count[cls] += len(keep)
    short = {task.classes[k]: n for k, n in count.items() if n < 2 * CALIBRATION_EVERY}
    if short:
        msg = f"{sample}: too few objects of {spec.name}'s task {task.name!r} to measure a variant: {short}; generate more events of {list(task.processes)}"
        raise BadInputError(msg)
    return TaskFrames(np.concatenate(inputs).astype(np.float32), np.concatenate(labels))


def _task_of(spec: TaggerSpec) -> Task:
    name = spec.contract.provenance.get("tagger_task")
    if not name:
        msg = f"{spec.name}: its contract names no training task (provenance.tagger_task); measure its variants from frames with measure_variant"
        raise BadInputError(msg)
    task = get_task(str(name))
    if task.task_type != "classification":
        msg = f"{spec.name} is a {task.task_type} tagger: there is no AUC to gate a precision variant on"
        raise PrecisionError(msg)
    return task


def build_int8(src: str | os.PathLike[str], dst: str | os.PathLike[str], calibration: TaskFrames,
               *, input_name: str = "frames", batch: int = 16) -> Path:  # fmt: skip
    """Quantise ``src`` statically to ``dst`` with onnxruntime's tools, calibrated on
    ``calibration``'s inputs (QDQ; int8 weights per channel; uint8 activations; the first
    and last layers stay float)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            x = calibration.inputs
            self.batches = iter([{input_name: x[i : i + batch]} for i in range(0, len(x), batch)])

        def get_next(self) -> dict[str, Any] | None:
            return next(self.batches, None)

    out = Path(dst)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        keep = _first_and_last(pre)
        quantize_static(
            str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=keep,
        )  # fmt: skip
    return out


def _first_and_last(path: Path) -> list[str]:
    """The names of the first and the last Conv/MatMul/Gemm of ``path`` (named in place
    where they have no name): they stay float. The first sees the raw, sparse frames,
    whose few large deposits a uint8 range flattens; the last makes the logits. Keeping
    both float took the measured AUC drops from up to 0.017 to at most 0.0026 (SimpleNet
    on eg, qg, top) for less of the speed-up (ResNet-15: 2.2x instead of 2.8x fp32)."""
    import onnx

    model = onnx.load(str(path))
    compute = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"e2e_{node.op_type}_{i}"
    onnx.save(model, str(path))
    return list(dict.fromkeys(n.name for n in compute[:1] + compute[-1:]))


def auc_of(outputs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> float:
    """Binary: the AUC of the one logit (or of the last of two); multi-class: the mean
    one-vs-rest AUC of the softmax probabilities (as the held-out table's)."""
    o = np.asarray(outputs, np.float64)
    if o.ndim == 1 or o.shape[1] == 1:
        return roc_auc(labels == 1, o.reshape(len(o), -1)[:, 0])
    if o.shape[1] == 2 and labels.max() <= 1:
        return roc_auc(labels == 1, o[:, 1] - o[:, 0])
    p = np.exp(o - o.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return float(np.mean([roc_auc(labels == k, p[:, k]) for k in range(o.shape[1])]))


def run_model(path: str, inputs: npt.NDArray[np.float32], *, fp16: bool = False,
              threads: int = 1, batch: int = 64) -> npt.NDArray[np.float32]:  # fmt: skip
    """The model's first output for ``inputs``, in batches, on the CPU."""
    sess = get_session(path, "cpu", threads, fp16)
    name = sess.get_inputs()[0].name
    parts = [sess.run(None, {name: inputs[i : i + batch]})[0] for i in range(0, len(inputs), batch)]
    return np.concatenate(parts).astype(np.float32)


def measure_variant(spec: TaggerSpec, precision: str, frames: TaskFrames, *,
                    out: str | os.PathLike[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Build ``spec``'s ``precision`` variant (int8: at ``out``, default
    ``variants/NAME.int8.onnx`` next to the model) and measure fp32 against it on the
    held-out part of ``frames``: the record the contract keeps (not written here)."""
    import onnxruntime as ort

    check_precision_name(precision)
    if precision in ("fp32", "bf16"):
        msg = (
            f"precision {precision} has no variant to measure (fp32 is the model; bf16 is refused)"
        )
        raise PrecisionError(msg)
    calib, held = frames.split()
    if len(np.unique(held.labels)) < 2:
        msg = (
            f"{spec.name}: the held-out objects hold one class only; give a sample with every class"
        )
        raise BadInputError(msg)
    ref = run_model(spec.path, held.inputs)
    if precision == "int8":
        path = Path(out) if out is not None else variant_file(spec.path, "int8")
        build_int8(spec.path, path, calib, input_name=spec.contract.input_names[0])
        write_variant_contract(path, spec.contract)
        var, digest, where = run_model(str(path), held.inputs), file_sha256(path), str(path)
    else:
        import hashlib

        var = run_model(spec.path, held.inputs, fp16=True)
        digest = hashlib.sha256(fp16_model(spec.path)).hexdigest()
        where = "(converted from the fp32 file when the session is built)"
    a32, avar = auc_of(ref, held.labels), auc_of(var, held.labels)
    return {
        "auc_fp32": a32,
        "auc_variant": avar,
        "delta": avar - a32,
        "max_abs_logit_change": float(np.max(np.abs(var - ref))),
        "n_objects": len(held.labels),
        "n_calibration": len(calib.labels) if precision == "int8" else 0,
        "sha256": digest,
        "file": where if precision != "int8" else f"variants/{Path(where).name}",
        "onnxruntime": ort.__version__,
    }


def measure_and_record(
    spec: TaggerSpec, precision: str, frames: TaskFrames, sample: str
) -> tuple[dict[str, Any], bool]:
    """Measure ``spec``'s ``precision`` variant, record it in ``spec``'s contract (in
    place) and say whether it passes the gate. A refused int8 file is removed: a variant
    ships only where it passes; its record stays, so the refusal names the drop."""
    record = measure_variant(spec, precision, frames)
    record["sample"] = sample
    record_variant(spec.path, precision, record)
    ok = record["auc_fp32"] - record["auc_variant"] <= MAX_AUC_DROP + 1e-12
    if not ok and precision == "int8":
        (Path(spec.path).parent / record["file"]).unlink(missing_ok=True)
    return record, ok
