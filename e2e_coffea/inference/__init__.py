"""Inference: the ``Tagger`` API, shipped taggers, per-worker sessions, Triton.

``Tagger`` is the one path from a chunk to model outputs; the processor, the dashboards
and the benchmarks all use it.
"""

from __future__ import annotations

from ..frames.selection import ValidityRangeWarning
from .runtimes import InferenceBackend, OnnxBackend
from .shipped import TaggerSpec, file_sha256, list_taggers, resolve_tagger, shipped_dir
from .tagger import ScoredBatch, Tagger, detect_layout, object_batches

__all__ = [
    "InferenceBackend",
    "OnnxBackend",
    "ScoredBatch",
    "Tagger",
    "TaggerSpec",
    "ValidityRangeWarning",
    "detect_layout",
    "file_sha256",
    "list_taggers",
    "object_batches",
    "resolve_tagger",
    "shipped_dir",
]
