"""Strict JSON for everything the toolkit writes (summaries, metrics, provenance).

One scrubber for the whole package: NaN and inf become ``null`` (a NaN AUC means one
class only, not a number), numpy scalars become Python numbers, tuples become lists;
``json.dumps(..., allow_nan=False)`` then always succeeds, and jq and browsers read the
result.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_safe", "write_json"]


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None and numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    return obj


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int = 1) -> Path:
    """Write ``obj`` as strict JSON through a temporary file and a rename (never half a file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(
        json.dumps(json_safe(obj), indent=indent, allow_nan=False) + "\n", encoding="utf-8"
    )
    os.replace(tmp, p)
    return p
