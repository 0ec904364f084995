"""Strict JSON, both ways: what the toolkit writes and what it reads from outside.

Writing: one scrubber for the whole package. NaN and inf become ``null`` (a NaN AUC means
one class only, not a number), numpy scalars become Python numbers, tuples become lists;
``json.dumps(..., allow_nan=False)`` then always succeeds, and jq and browsers read the
result.

Reading: every JSON document that crosses into a run (a fileset, a branch profile,
contract metadata, an ``output.zip`` tree, a checkpoint entry, an option) goes through
:func:`loads_json`. Plain ``json.loads`` lets the last of two equal keys win (a fileset
naming ``qcd`` twice silently lost the first one's files), and raises a raw
``RecursionError`` on deep nesting; here both, and oversized input, are refused with one
:class:`~e2e_coffea.exceptions.MalformedInputError` line naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..exceptions import MalformedInputError
from .atomic import atomic_write_bytes

__all__ = [
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "check_depth",
    "json_safe",
    "loads_json",
    "read_json",
    "read_regular",
    "write_json",
]

MAX_DEPTH: Final = 64
"""Deepest nesting of lists and objects accepted; our own files stay below 10."""
MAX_JSON_BYTES: Final = 256 * 1024 * 1024
"""Largest JSON document read (a merged run's tree of histograms stays far below)."""


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
    text = json.dumps(json_safe(obj), indent=indent, allow_nan=False) + "\n"
    return atomic_write_bytes(p, text.encode("utf-8"))


def _unique_keys(source: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                msg = f"{source}: duplicate key {key!r} (JSON keeps only the last; name each key once)"
                raise MalformedInputError(msg)
            out[key] = value
        return out

    return hook


def check_depth(obj: Any, *, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``obj`` if its lists and dicts nest deeper than ``max_depth`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > max_depth:
                    msg = f"{source}: nested deeper than {max_depth} levels"
                    raise MalformedInputError(msg)
                stack.append((child, depth + 1))


def loads_json(
    data: str | bytes,
    *,
    source: str,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_JSON_BYTES,
) -> Any:
    """Parse a JSON document from outside, strictly (see the module docstring).

    ``source`` names the file (or option, or metadata key) in the one-line error."""
    if len(data) > max_bytes:
        msg = f"{source}: {len(data)} bytes of JSON, more than the {max_bytes} accepted"
        raise MalformedInputError(msg)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text, object_pairs_hook=_unique_keys(source))
    except RecursionError as err:
        msg = f"{source}: nested deeper than {max_depth} levels"
        raise MalformedInputError(msg) from err
    except UnicodeDecodeError as err:
        msg = f"{source}: not valid UTF-8 ({err.reason} at byte {err.start})"
        raise MalformedInputError(msg) from err
    except json.JSONDecodeError as err:
        msg = f"{source}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        raise MalformedInputError(msg) from err
    except MalformedInputError:
        raise
    except ValueError as err:  # an integer of more than 4300 digits (Python's own bound)
        msg = f"{source}: not valid JSON ({' '.join(str(err).split())})"
        raise MalformedInputError(msg) from err
    check_depth(obj, source=source, max_depth=max_depth)
    return obj


def read_regular(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    max_bytes: int = MAX_JSON_BYTES,
    follow_symlinks: bool = True,
) -> bytes:
    """The bytes of ``path``, refused unless it is a regular file of at most ``max_bytes``.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device
    put in a file's place is refused instead of hanging the run, and a file swapped after
    the check is not read. ``follow_symlinks=False`` also refuses a symbolic link (for
    directories the toolkit owns, where none belongs). ``FileNotFoundError`` and other
    ``OSError`` pass through for the caller to word."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if not follow_symlinks and os.path.islink(path):
            msg = f"{what} {path} is a symbolic link; expected a regular file"
            raise MalformedInputError(msg) from err
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            msg = f"{what} {path} is not a regular file (a FIFO, device or directory); refused"
            raise MalformedInputError(msg)
        if st.st_size > max_bytes:
            msg = f"{what} {path} holds {st.st_size} bytes, more than the {max_bytes} accepted"
            raise MalformedInputError(msg)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        msg = f"{what} {path} grew past {max_bytes} bytes while read; refused"
        raise MalformedInputError(msg)
    return data


def read_json(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_JSON_BYTES,
    follow_symlinks: bool = True,
) -> Any:
    """Read and strictly parse the JSON file ``path`` (``read_regular`` + ``loads_json``)."""
    data = read_regular(path, what=what, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    return loads_json(data, source=f"{what} {path}", max_depth=max_depth, max_bytes=max_bytes)
