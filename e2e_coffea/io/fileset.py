"""coffea-style filesets: ``{dataset: {"files": {path: tree}, "metadata": {...}}}``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import BadInputError
from ..layouts import Layout
from .files import tree_name

__all__ = ["Fileset", "fileset_entry", "load_fileset", "save_fileset"]

Fileset = dict[str, dict[str, Any]]


def fileset_entry(paths: list[Path], layout: Layout, metadata: dict[str, Any]) -> dict[str, Any]:
    """One dataset: absolute paths (workers may run elsewhere) mapped to the layout's tree."""
    tree = tree_name(layout)
    return {
        "files": {str(Path(p).resolve()): tree for p in paths},
        "metadata": {"layout": layout, **metadata},
    }


def save_fileset(fileset: Fileset, path: str | os.PathLike[str]) -> Path:
    """Write the fileset as indented JSON."""
    p = Path(path)
    p.write_text(json.dumps(fileset, indent=2, sort_keys=True) + "\n")
    return p


def load_fileset(path: str | os.PathLike[str]) -> Fileset:
    """Read and validate a fileset; relative file paths resolve against the JSON's folder."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError as err:
        msg = f"fileset {p} does not exist"
        raise BadInputError(msg) from err
    except json.JSONDecodeError as err:
        msg = f"fileset {p} is not valid JSON: {err}"
        raise BadInputError(msg) from err
    if not isinstance(raw, dict) or not raw:
        msg = f"fileset {p} must map dataset names to entries, got {type(raw).__name__}"
        raise BadInputError(msg)
    out: Fileset = {}
    for name, entry in raw.items():
        files = entry.get("files") if isinstance(entry, dict) else entry
        if isinstance(files, list):
            files = {f: None for f in files}
        if not isinstance(files, dict) or not files:
            msg = f"fileset {p}: dataset {name!r} has no files"
            raise BadInputError(msg)
        resolved = {
            str(f if Path(f).is_absolute() or "://" in f else (p.parent / f)): t
            for f, t in files.items()
        }
        meta = entry.get("metadata", {}) if isinstance(entry, dict) else {}
        out[name] = {"files": resolved, "metadata": dict(meta)}
    return out
