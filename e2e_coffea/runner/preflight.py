"""Before any chunk runs: open every file once, check the weights, choose the chunk size.

Missing, damaged and non-ROOT files are found here and named, with their reason, not
half-way through a run. A missing branch or tree is a configuration error (the model
wants channels the files lack, or the fileset names the other layout's tree) and stops
the run at once, with or without ``skip_bad_files``.
"""

from __future__ import annotations

import math
from typing import Any, Final

import uproot

from ..exceptions import MissingBranchError
from ..frames.objects import explain_missing
from ..io.columns import plan_columns
from ..io.files import read_error_reason
from ..io.fileset import Fileset
from ..layouts import E2E_IMAGES, layout_of_tree
from ..processor import E2ETaggerProcessor
from .accounting import ChunkFailure

__all__ = ["DEFAULT_CHUNKSIZE", "DENSE_CHUNK_BYTES", "Preflight", "default_chunksize", "preflight"]

DEFAULT_CHUNKSIZE: Final = 10_000
DENSE_CHUNK_BYTES: Final = 1 << 30

Preflight = tuple[dict[str, int], list[ChunkFailure], dict[str, dict[str, str]]]
"""(entries per readable file, unreadable files, per dataset {missing branch: what instead})."""


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
    """Open every file: entries per readable file, the unreadable ones with their reason,
    and the optional branches each dataset lacks (with what the run does instead)."""
    expected: dict[str, int] = {}
    failed: list[ChunkFailure] = []
    missing: dict[str, dict[str, str]] = {}
    for dataset, entry in fileset.items():
        proc.check_weights(dataset, entry.get("metadata", {}))
        for path, tree in entry["files"].items():
            try:
                f = uproot.open(path)
            except Exception as err:  # uproot raises OSError, ValueError, its own types
                failed.append(ChunkFailure(path, None, None, read_error_reason(path, err)))
                continue
            with f:
                n, why = _check_file(f, dataset, path, tree, entry.get("metadata", {}), proc)
            expected[path] = n
            missing.setdefault(dataset, {}).update(why)
    return expected, failed, {ds: dict(sorted(v.items())) for ds, v in missing.items() if v}


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
