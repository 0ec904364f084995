"""Open ROOT files with errors that say what is wrong: missing, corrupt, truncated, foreign."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import awkward as ak
import numpy as np
import uproot

from ..exceptions import FileLayoutError, MissingBranchError
from ..layouts import E2E_TREE, SPARSE_TREE, Layout
from .locations import is_remote

__all__ = [
    "E2E_COMPRESSION",
    "SPARSE_COMPRESSION",
    "check_branches",
    "layout_of_file",
    "open_tree",
    "read_arrays",
    "read_error_reason",
    "tree_name",
    "write_tree",
]

# ROOT's own presets (core/zip/inc/Compression.h, ROOT::RCompressionSetting::EDefaults):
# 101 = ZLIB level 1 is TFile's compiled default, which CMSSW's TFileService and so
# MLAnalyzer's ntuples use; 404 = LZ4 is ROOT's "kUseAnalysis" preset, chosen for read
# speed. The sparse layout exists to be read fast on every chunk of every analysis:
# with LZ4 it reads ~2x faster than with ZLIB-4 for ~33% more bytes, still ~5x smaller
# than the dense layout (benchmarks/frames.py, benchmarks/generate.py).
E2E_COMPRESSION: Final = uproot.ZLIB(1)
SPARSE_COMPRESSION: Final = uproot.LZ4(4)


def tree_name(layout: str) -> str:
    """The tree a layout lives in (``layout`` may come straight from a user: checked)."""
    if layout == "e2e":
        return E2E_TREE
    if layout == "sparse":
        return SPARSE_TREE
    msg = f"unknown layout {layout!r}; expected 'e2e' or 'sparse'"
    raise FileLayoutError(msg)


@contextmanager
def open_tree(path: str | os.PathLike[str], layout: Layout | None = None) -> Iterator[Any]:
    """``with open_tree(path) as tree``: the layout's TTree in ``path`` (a local path or a
    ``root://``/``https://`` URL; the layout detected when not given). The file is closed
    when the block ends, so read what you need inside it."""
    remote = is_remote(path)
    p: Any = os.fspath(path) if remote else Path(path)
    if not remote and not p.exists():
        msg = f"{p}: no such file"
        raise FileLayoutError(msg)
    try:
        f = uproot.open(p)
    except Exception as err:  # uproot raises several types for damaged files
        msg = f"{p}: {read_error_reason(p, err)}"
        raise FileLayoutError(msg) from err
    with f:
        if layout is None:
            layout = _layout_of(f, p)
        name = tree_name(layout)
        try:
            tree = f[name]
        except Exception as err:
            msg = f"{p}: no tree {name!r} for the {layout} layout (keys: {sorted(f.keys(cycle=False))})"
            raise FileLayoutError(msg) from err
        yield tree


def _layout_of(f: Any, p: Any) -> Layout:
    keys = set(f.keys(cycle=False, recursive=True))
    if E2E_TREE in keys:
        return "e2e"
    if SPARSE_TREE in keys:
        return "sparse"
    msg = (
        f"{p}: neither an e2e ({E2E_TREE}) nor a sparse ({SPARSE_TREE}) file; keys: {sorted(keys)}"
    )
    raise FileLayoutError(msg)


def layout_of_file(path: str | os.PathLike[str]) -> Layout:
    """Which of the two layouts the file at ``path`` holds, from its tree's name
    (:func:`e2e_coffea.inference.detect_layout` tells it from a chunk's branch names)."""
    with open_tree(path) as tree:
        return "e2e" if tree.name == E2E_TREE.split("/")[-1] else "sparse"


def check_branches(tree: Any, branches: Sequence[str], *, where: str = "") -> None:
    """Raise MissingBranchError naming every requested branch the tree lacks."""
    have = set(tree.keys())
    missing = [b for b in branches if b not in have]
    if missing:
        src = where or getattr(tree, "file_path", "") or tree.name
        msg = f"{src}: missing branch(es) {missing}; the file has {len(have)} branches"
        raise MissingBranchError(msg)


def read_arrays(
    path: str | os.PathLike[str],
    branches: Sequence[str] | None = None,
    *,
    layout: Layout | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
) -> ak.Array:
    """Read ``branches`` (all when None) of one file as a chunk; corrupt baskets become errors."""
    with open_tree(path, layout) as tree:
        if branches is not None:
            check_branches(tree, branches, where=str(path))
        try:
            return tree.arrays(
                list(branches) if branches is not None else None,
                entry_start=entry_start,
                entry_stop=entry_stop,
            )
        except Exception as err:
            msg = f"{path}: cannot read entries {entry_start}..{entry_stop} ({type(err).__name__}: {err})"
            raise FileLayoutError(msg) from err


def write_tree(
    path: str | os.PathLike[str],
    tree: str,
    batches: Iterable[Mapping[str, Any]],
    *,
    compression: Any,
    title: str,
    counter_name: Any = None,
) -> int:
    """Write batches of branches to a new file as one TTree (``mktree`` on the first batch,
    ``extend`` after: assigning a dict would make an RNTuple in uproot 5.7)."""
    total = 0
    with uproot.recreate(path, compression=compression) as f:
        out = None
        for data in batches:
            if out is None:
                types = {
                    k: (ak.type(v).content if isinstance(v, ak.Array) else np.asarray(v).dtype)
                    for k, v in data.items()
                }
                kw = {"counter_name": counter_name} if counter_name is not None else {}
                out = f.mktree(tree, types, title=title, **kw)
            out.extend(dict(data))
            total += len(next(iter(data.values())))
    return total


ROOT_MAGIC: Final = b"root"


def read_error_reason(path: str | os.PathLike[str], err: BaseException) -> str:
    """One line saying why uproot could not open ``path``: missing, empty, not ROOT
    (a text file, say), or damaged; uproot's own message for the last."""
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if not is_remote(path):
        p = Path(path)
        try:
            size = p.stat().st_size
            with p.open("rb") as f:
                head = f.read(4)
        except OSError as why:
            return f"cannot be read ({why.strerror or why})"
        if size == 0:
            return "empty file (0 bytes), not a ROOT file"
        if head != ROOT_MAGIC:
            return f"not a ROOT file (it starts with {head!r}, not {ROOT_MAGIC!r})"
    text = " ".join(str(err).split())
    return f"not a readable ROOT file ({type(err).__name__}: {text})"


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """BadInputError unless a file can be written at ``path``: its folder exists (or can
    be made) and takes a new file, and ``path`` is not a folder. Checked by writing a probe
    file, because root ignores permission bits. Call it before any work starts."""
    from ..exceptions import BadInputError

    p = Path(path)
    if p.is_dir():
        msg = f"output {p} is a directory; give a file name"
        raise BadInputError(msg)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        probe = p.parent / f".{p.name}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        msg = f"output {p} cannot be written: {err.strerror or err} ({p.parent})"
        raise BadInputError(msg) from err
    return p
