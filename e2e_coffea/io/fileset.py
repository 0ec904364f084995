"""coffea-style filesets: ``{dataset: {"files": {path: tree}, "metadata": {...}}}``.

Every fileset is normalised before anything runs, because the bookkeeping that proves
nothing was lost keys on file names: paths are made absolute and canonical (relative
ones against the fileset JSON's folder; URLs are kept as given), a file listed twice in one dataset is merged with a warning, and a file
in two datasets is refused (its events would be counted twice). The ``files`` list form
(``["a.root", ...]``) is accepted when the tree is known: from ``treename``, from the
metadata's ``layout``, or from the file itself.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import BadInputError
from ..layouts import Layout
from .files import tree_name
from .jsonfiles import read_json
from .locations import is_remote, normalise_location

__all__ = [
    "Fileset",
    "FilesetWarning",
    "fileset_entry",
    "load_fileset",
    "normalise_fileset",
    "relative_fileset",
    "save_fileset",
]

Fileset = dict[str, dict[str, Any]]


class FilesetWarning(UserWarning):
    """A fileset was accepted after a repair (a duplicate file merged)."""


def fileset_entry(
    paths: list[Path],
    layout: Layout,
    metadata: dict[str, Any],
    *,
    relative_to: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """One dataset: its paths mapped to the layout's tree. With ``relative_to`` (the
    folder the fileset JSON goes to) paths are written relative to it, so the sample
    folder can be moved or shared as a whole; :func:`load_fileset` makes them absolute
    again (workers may run elsewhere)."""
    tree = tree_name(layout)
    files = {str(Path(p).resolve()): tree for p in paths}
    entry = {"files": files, "metadata": {"layout": layout, **metadata}}
    return relative_fileset({"_": entry}, relative_to)["_"] if relative_to is not None else entry


def relative_fileset(fileset: Mapping[str, Any], folder: str | os.PathLike[str]) -> Fileset:
    """``fileset`` with every local path written relative to ``folder`` (POSIX
    separators), URLs unchanged: what a fileset JSON in ``folder`` should hold so that
    it travels with its files. Absolute paths are normalised first."""
    base = Path(folder).resolve()
    out: Fileset = {}
    for name, entry in normalise_fileset(fileset, base=base).items():
        files = {
            f if is_remote(f) else Path(os.path.relpath(f, base)).as_posix(): t
            for f, t in entry["files"].items()
        }
        out[name] = {"files": files, "metadata": entry["metadata"]}
    return out


def save_fileset(fileset: Fileset, path: str | os.PathLike[str]) -> Path:
    """Write the fileset as indented JSON."""
    p = Path(path)
    p.write_text(
        json.dumps(fileset, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return p


def load_fileset(path: str | os.PathLike[str] | Mapping[str, Any]) -> Fileset:
    """Read, validate and normalise a fileset JSON file (or normalise a mapping);
    relative file paths resolve against the JSON's folder."""
    if isinstance(path, Mapping):
        return normalise_fileset(path)
    p = Path(path)
    if p.is_dir():
        msg = f"fileset {p} is a directory; give the fileset JSON file (e.g. {p / 'fileset.json'})"
        raise BadInputError(msg)
    try:
        raw = read_json(p, what="fileset")
    except FileNotFoundError as err:
        msg = f"fileset {p} does not exist"
        raise BadInputError(msg) from err
    except OSError as err:
        msg = f"fileset {p} cannot be read: {err.strerror or err}"
        raise BadInputError(msg) from err
    return normalise_fileset(raw, base=p.parent, source=str(p))


def normalise_fileset(
    raw: Any, *, base: str | os.PathLike[str] | None = None, source: str = "fileset"
) -> Fileset:
    """The validated, canonical form of a fileset (see the module docstring)."""
    if not isinstance(raw, Mapping) or not raw:
        msg = f"{source} must map dataset names to entries, got {type(raw).__name__}"
        raise BadInputError(msg)
    out: Fileset = {}
    owner: dict[str, str] = {}
    for name, entry in raw.items():
        where = f"{source}: dataset {name!r}"
        files, meta, treename = _entry_parts(entry, where)
        resolved: dict[str, str | None] = {}
        for f, tree in files:
            if not isinstance(f, str) or not f:
                msg = f"{where}: file names must be non-empty strings, got {f!r}"
                raise BadInputError(msg)
            loc = normalise_location(f, base)
            tree = tree or treename or _tree_of_layout(meta, where)
            if loc in resolved:
                if resolved[loc] != tree:
                    msg = f"{where}: file {loc} is listed twice with different trees ({resolved[loc]!r}, {tree!r})"
                    raise BadInputError(msg)
                warnings.warn(
                    f"{where}: file {loc} is listed twice; it is processed once",
                    FilesetWarning,
                    stacklevel=2,
                )
                continue
            if loc in owner and owner[loc] != name:
                msg = (
                    f"{source}: file {loc} is in datasets {owner[loc]!r} and {name!r}; a file may "
                    f"belong to one dataset only (its events would be counted twice)"
                )
                raise BadInputError(msg)
            owner[loc] = name
            resolved[loc] = tree
        files_out = {f: t if t is not None else _detect_tree(f) for f, t in resolved.items()}
        out[str(name)] = {"files": files_out, "metadata": dict(meta)}
    return out


def _entry_parts(
    entry: Any, where: str
) -> tuple[list[tuple[Any, Any]], Mapping[str, Any], str | None]:
    """(files as (path, tree or None) pairs, metadata, the entry's ``treename``)."""
    if isinstance(entry, list):
        entry = {"files": entry}
    if not isinstance(entry, Mapping):
        msg = f"{where}: an entry must be a mapping with 'files' (and 'metadata'), got {type(entry).__name__}"
        raise BadInputError(msg)
    unknown = sorted(set(entry) - {"files", "metadata", "treename"})
    if unknown:
        msg = f"{where}: unknown key(s) {unknown}; an entry has 'files', 'metadata' and optionally 'treename'"
        raise BadInputError(msg)
    meta = entry.get("metadata", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        msg = f"{where}: 'metadata' must be a mapping, got {type(meta).__name__}: {meta!r}"
        raise BadInputError(msg)
    files = entry.get("files")
    if isinstance(files, list):  # kept as pairs: a name listed twice is warned about, not folded
        pairs: list[tuple[Any, Any]] = [(f, None) for f in files]
    elif isinstance(files, Mapping):
        pairs = list(files.items())
    if not isinstance(files, (list, Mapping)) or not files:
        msg = f"{where}: 'files' must be a non-empty mapping {{path: tree}} or list of paths, got {files!r}"
        raise BadInputError(msg)
    bad = {k: v for k, v in pairs if v is not None and not isinstance(v, str)}
    if bad:
        msg = f"{where}: trees must be strings, got {bad}"
        raise BadInputError(msg)
    treename = entry.get("treename")
    if treename is not None and not isinstance(treename, str):
        msg = f"{where}: 'treename' must be a string, got {treename!r}"
        raise BadInputError(msg)
    return pairs, meta, treename


def _tree_of_layout(meta: Mapping[str, Any], where: str) -> str | None:
    layout = meta.get("layout")
    if layout is None:
        return None
    if layout not in ("e2e", "sparse"):
        msg = f"{where}: metadata 'layout' must be 'e2e' or 'sparse', got {layout!r}"
        raise BadInputError(msg)
    return tree_name(layout)


def _detect_tree(path: str) -> str | None:
    """The tree of a file listed without one: whichever of the two layouts it holds
    (None when the file cannot be read: the run's preflight reports it by name)."""
    from ..exceptions import FileLayoutError
    from .files import layout_of_file

    try:
        return tree_name(layout_of_file(path))
    except FileLayoutError:
        return None
