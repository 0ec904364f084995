"""Before any chunk runs: open every file once, check the weights, choose the chunk size.

Missing, damaged, truncated and non-ROOT files are found here and named, with their
reason, not half-way through a run. Every file is known by its ROOT UUID as well as its
name (see :mod:`~e2e_coffea.io.integrity`), so a file reached by two names is read once.
A missing branch or tree is a configuration error (the model wants channels the files
lack, or the fileset names the other layout's tree) and stops the run at once, with or
without ``skip_bad_files``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Final, NamedTuple

import uproot

from ..exceptions import BadInputError, MissingBranchError
from ..frames.objects import explain_missing
from ..io.columns import plan_columns
from ..io.files import read_error_reason
from ..io.fileset import Fileset, FilesetWarning
from ..io.integrity import file_identity, truncation_reason
from ..layouts import E2E_IMAGES, layout_of_tree
from ..processor import E2ETaggerProcessor
from .accounting import ChunkFailure

__all__ = ["DEFAULT_CHUNKSIZE", "DENSE_CHUNK_BYTES", "Preflight", "default_chunksize", "preflight"]

DEFAULT_CHUNKSIZE: Final = 10_000
DENSE_CHUNK_BYTES: Final = 1 << 30


class Preflight(NamedTuple):
    """What the preflight found, before any chunk runs."""

    expected: dict[str, int]
    """Entries per file that will be read, and per truncated file (whose entries fail)."""
    failed: list[ChunkFailure]
    """Files that cannot be used: unreadable (no entries known) or truncated (all of them)."""
    missing: dict[str, dict[str, str]]
    """Per dataset {missing optional branch: what the run does instead}."""
    file_ids: dict[str, str]
    """Per file that will be read: its ROOT UUID (accounting and checkpoints key on it)."""
    merged: dict[str, str]
    """A file listed again in its dataset under another name -> the name that is read."""


def default_chunksize(fileset: Fileset, proc: E2ETaggerProcessor) -> int:
    """Events per chunk when the caller names none: 10k, except for e2e-layout files,
    where a chunk holds as many events as fit 1 GiB of the dense images the taggers
    read (~200 events for tau13's 13 images of 5 MB per event; 10k would be 50 GB)."""
    trees = {str(tree) for entry in fileset.values() for tree in entry["files"].values()}
    if not any(layout_of_tree(t) == "e2e" for t in trees):
        return DEFAULT_CHUNKSIZE
    per_event = sum(
        4 * math.prod(E2E_IMAGES[b].shape) for b in proc.branches("e2e")[0] if b in E2E_IMAGES
    )
    return min(DEFAULT_CHUNKSIZE, max(1, DENSE_CHUNK_BYTES // max(per_event, 1)))


def preflight(fileset: Fileset, proc: E2ETaggerProcessor) -> Preflight:
    """Open every file: entries per readable file, the unusable ones with their reason,
    the optional branches each dataset lacks (with what the run does instead), and each
    file's identity: one ROOT file under two names (hard link, copy, path and URL) is
    refused across datasets and merged, with a warning, within one."""
    found = Preflight({}, [], {}, {}, {})
    seen: dict[str, tuple[str, str, int | None]] = {}  # uuid -> (dataset, path, size)
    for dataset, entry in fileset.items():
        proc.check_weights(dataset, entry.get("metadata", {}))
        for path, tree in entry["files"].items():
            try:
                f = uproot.open(path)
            except Exception as err:  # uproot raises OSError, ValueError, its own types
                found.failed.append(ChunkFailure(path, None, None, read_error_reason(path, err)))
                continue
            with f:
                ident = file_identity(f)
                cut = truncation_reason(f, None, ident.size)
                if cut is None:
                    n, why = _check_file(f, dataset, path, tree, entry.get("metadata", {}), proc)
                    cut = truncation_reason(f, f[tree], ident.size)
                    claimed: int | None = n
                else:
                    n, why, claimed = 0, {}, _entries_of_cut_file(f, tree)
            if cut is not None:  # its entries (when its tree says how many) count as failed
                if claimed is not None:
                    found.expected[path] = claimed
                start = None if claimed is None else 0
                found.failed.append(ChunkFailure(path, start, claimed, cut))
                continue
            first = seen.setdefault(ident.uuid, (dataset, path, ident.size))
            if first[1] != path:
                _same_file(first, (dataset, path, ident.size), ident.uuid)
                found.merged[path] = first[1]
                continue
            found.expected[path] = n
            found.file_ids[path] = ident.uuid
            found.missing.setdefault(dataset, {}).update(why)
    missing = {ds: dict(sorted(v.items())) for ds, v in found.missing.items() if v}
    return found._replace(missing=missing)


def _same_file(
    first: tuple[str, str, int | None],
    again: tuple[str, str, int | None],
    uuid: str,
) -> None:
    """One ROOT file under a second name: refused across datasets (or when the sizes
    differ: two versions of one file), merged with a warning within one dataset."""
    (ds1, p1, n1), (ds2, p2, n2) = first, again
    if ds1 != ds2:
        msg = (
            f"file {p2} (dataset {ds2!r}) is the same ROOT file as {p1} (dataset {ds1!r}): "
            f"UUID {uuid}; a file may belong to one dataset only (its events would be counted twice)"
        )
        raise BadInputError(msg)
    if n1 is not None and n2 is not None and n1 != n2:
        msg = (
            f"dataset {ds1!r}: files {p1} ({n1} bytes) and {p2} ({n2} bytes) carry the same ROOT "
            f"UUID {uuid} but differ in size (two versions of one file?); list one of them"
        )
        raise BadInputError(msg)
    warnings.warn(
        f"dataset {ds1!r}: file {p2} is the same ROOT file as {p1} (UUID {uuid}); it is "
        f"processed once",
        FilesetWarning,
        stacklevel=3,
    )


def _entries_of_cut_file(f: Any, tree: str | None) -> int | None:
    """The entries a truncated file's tree claims (counted as failed), when they can be
    read; None when even the tree's metadata lies past the cut."""
    try:
        return int(f[tree].num_entries) if tree is not None and tree in f else None
    except Exception:  # the tree's own metadata is cut off: nothing to count
        return None


def _check_file(
    f: Any, dataset: str, path: str, tree: str | None, metadata: Any, proc: E2ETaggerProcessor
) -> tuple[int, dict[str, str]]:
    if tree is None or tree not in f:
        # the file reads but holds another tree: the fileset names the wrong layout,
        # a configuration error like a missing branch
        trees = [k.split(";")[0] for k, v in f.classnames().items() if v == "TTree"]
        msg = (
            f"dataset {dataset!r}, file {path}: no tree {tree!r} (it holds {trees}); "
            f"does the fileset name the wrong layout?"
        )
        raise MissingBranchError(msg)
    t = f[tree]
    meta = {"treename": tree, **metadata}
    layout = proc.layout_for(meta)
    req, opt = proc.branches(layout, meta)
    where = f"dataset {dataset!r}, file {path} (layout {layout})"
    plan = plan_columns(t.keys(), req, opt, proc.profile_for(meta), where=where)
    why: dict[str, str] = {}
    for tg in proc.taggers:
        why.update(explain_missing(layout, tg.kind, plan.missing))
    return int(t.num_entries), why
