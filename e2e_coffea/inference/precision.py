"""Which model file a tagger's session loads at a given precision, after the gate.

``fp32`` is the file as shipped. ``fp16`` is the same file converted by onnxruntime's
float16 tool when the session is built (:func:`~.sessions.get_session`, weights and
arithmetic in float16, I/O float32). ``int8`` is a separate file made by static
quantisation (:mod:`.variants`), kept in ``variants/NAME.int8.onnx`` next to the model
(shipped taggers ship theirs: ~100-200 kB each) and loaded only if its sha256 is the one
whose AUC was measured. Each runs only where the model's contract records a measured
held-out AUC change within :data:`~e2e_coffea.export.precision.MAX_AUC_DROP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import PrecisionError
from ..export.inspect import file_sha256
from ..export.precision import check_precision, variant_file
from .sessions import _fp16_model
from .shipped import TaggerSpec

__all__ = ["SessionModel", "fp16_model", "session_model"]


@dataclass(frozen=True)
class SessionModel:
    """What a session is built from: the file, its expected hash, and whether the
    session converts it to float16."""

    precision: str
    path: str
    sha256: str
    fp16: bool = False
    record: dict[str, Any] | None = None


def session_model(spec: TaggerSpec, precision: str = "fp32") -> SessionModel:
    """The model file of ``spec`` at ``precision``; PrecisionError (one line) where the
    gate refuses it or the variant file is missing or not the measured one."""
    record = check_precision(spec.contract, precision, name=spec.name)
    if record is None:
        return SessionModel("fp32", spec.path, spec.sha256)
    if precision == "fp16":
        return SessionModel("fp16", spec.path, spec.sha256, fp16=True, record=record)
    path = variant_file(spec.path, precision)
    if not path.is_file():
        msg = (
            f"{spec.name}: its {precision} variant {path} is missing; rebuild it with "
            f"e2e-coffea contract variants {spec.name} --precision {precision} --sample DIR"
        )
        raise PrecisionError(msg)
    digest = file_sha256(path)
    if digest != record["sha256"]:
        msg = (
            f"{path} is not the {precision} variant whose AUC {spec.name}'s contract records "
            f"(sha256 {digest[:12]}..., recorded {str(record['sha256'])[:12]}...); refusing it"
        )
        raise PrecisionError(msg)
    return SessionModel(precision, str(path), digest, record=record)


def fp16_model(path: str) -> bytes:
    """The float16 model the sessions build from ``path`` (I/O stays float32): the bytes a
    Triton repository holds for ``--precision fp16``."""
    return _fp16_model(path)
