"""Metrics records as strict JSON: NaN and infinities become ``null``, files appear whole."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["finite_or_none", "write_json"]


def finite_or_none(obj: Any) -> Any:
    """NaN/inf -> None, recursively through dicts and lists, so that ``json.dumps`` with
    ``allow_nan=False`` succeeds (a NaN AUC means one class only, not a number)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as strict JSON through a temporary file and a rename (never half a file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(finite_or_none(obj), indent=1, allow_nan=False))
    os.replace(tmp, p)
    return p
