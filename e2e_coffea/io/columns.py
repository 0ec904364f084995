"""Read the branches a job needs, under our names, from whatever a file calls them.

Every reader of the package goes through here: the processor and the tagger API (from a
coffea NanoEvents chunk or an uproot array), the frames command, training and the event
display (from an uproot tree). Required branches missing from the file stop the work up
front with their file name; optional ones are reported, never silently invented.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak

from ..exceptions import FileLayoutError, MissingBranchError
from .nested import flat_branches
from .profiles import BranchProfile

__all__ = ["ColumnPlan", "plan_columns", "read_columns"]


@dataclass(frozen=True)
class ColumnPlan:
    """Which of our names to read (``present``), under which file names, and which
    optional ones the file lacks (``missing``)."""

    present: tuple[str, ...]
    file_names: tuple[str, ...]
    missing: tuple[str, ...]

    def rename(self) -> dict[str, str]:
        """{file name: our name}."""
        return dict(zip(self.file_names, self.present, strict=True))


def plan_columns(
    available: Collection[str],
    required: Sequence[str],
    optional: Sequence[str] = (),
    profile: BranchProfile | None = None,
    *,
    where: str = "the file",
) -> ColumnPlan:
    """Match our ``required`` and ``optional`` names against a file's ``available`` branches.

    MissingBranchError names every required branch the file lacks, with the file's name
    for it when the profile renames it."""
    have = set(available)
    name = profile.file_name if profile is not None else (lambda b: b)
    missing_req = [b for b in dict.fromkeys(required) if name(b) not in have]
    if missing_req:
        shown = [b if name(b) == b else f"{name(b)} (our {b})" for b in missing_req]
        hint = f"; profile {profile.name!r}" if profile is not None else ""
        msg = f"{where}: missing required branch(es) {shown}{hint}"
        raise MissingBranchError(msg)
    present = list(dict.fromkeys(required))
    missing = []
    for b in dict.fromkeys(optional):
        if b in present:
            continue
        if name(b) in have:
            present.append(b)
        else:
            missing.append(b)
    return ColumnPlan(tuple(present), tuple(name(b) for b in present), tuple(missing))


def read_columns(source: Any, plan: ColumnPlan, *, where: str = "chunk") -> ak.Array:
    """The planned columns of ``source`` (NanoEvents of any schema, an awkward record array
    or a mapping of branches), materialised once, as one flat record array under our names.
    A schema's collections are read by their flat names (:mod:`.nested`)."""
    source = flat_branches(source)
    cols = {}
    for ours, theirs in zip(plan.present, plan.file_names, strict=True):
        arr = source[theirs]
        cols[ours] = ak.materialize(arr) if hasattr(ak, "materialize") else arr
    if not cols:
        return ak.Array([{}] * 0)
    _check_lengths(dict(zip(plan.file_names, map(len, cols.values()), strict=True)), where)
    return ak.zip(cols, depth_limit=1)


def _check_lengths(lengths: dict[str, int], where: str) -> None:
    """Every branch holds one entry per event: FileLayoutError naming the ones that do
    not (by the file's name) and the common length, instead of awkward's broadcast error."""
    common, _ = Counter(lengths.values()).most_common(1)[0]
    odd = {name: n for name, n in lengths.items() if n != common}
    if odd:
        shown = ", ".join(f"{name!r} has {n}" for name, n in odd.items())
        msg = f"{where}: branch lengths differ: {shown} entries where the other {len(lengths) - len(odd)} branch(es) have {common}"
        raise FileLayoutError(msg)
