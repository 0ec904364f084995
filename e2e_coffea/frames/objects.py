"""Per-object records from a chunk of either layout, with the branch table of :mod:`~e2e_coffea.layouts`.

Real ntuples carry less than ours: CMSSW's MLAnalyzer writes the seeds as
``std::vector<float>``, has no ``jet_Phi``, no ``jet_label`` and no ``jet_inFrame``, and
marks truth with flags (``jet_IsTau``, ``jet_IsEle``). So only the seed is required;
everything else is optional and replaced by a stated stand-in:

* kinematics (pt, eta, phi, mass, energy) -> NaN;
* the label -> from the truth flags (``tau`` / ``electron`` / ``other``), else
  ``unlabelled`` (-2);
* ``in_frame`` is always computed from the seed (the window inside the grid in eta).

:attr:`ObjectRecords.missing` names what was replaced, so the run can say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError, FileLayoutError, SeedRangeError
from ..io import arrays
from ..layouts import (
    FLAVOUR_LABELS,
    LABEL_IDS,
    OBJECT_BRANCHES,
    OBJECT_KINDS,
    TRUTH_FLAGS,
    Layout,
    ObjectKind,
    frame_of,
    is_layout,
    is_object_kind,
)
from .records import ObjectRecords, ObjectSelection

__all__ = [
    "OPTIONAL_QUANTITIES",
    "check_kind",
    "check_layout",
    "explain_missing",
    "flavour_records",
    "object_counts",
    "object_records",
    "object_table",
    "object_values",
    "resolve_selection",
    "seed_grid",
]

OPTIONAL_QUANTITIES = ("pt", "eta", "phi", "mass", "energy", "label")
UNLABELLED = LABEL_IDS["unlabelled"]
OTHER = LABEL_IDS["other"]


def check_layout(layout: str) -> Layout:
    """``layout`` as a :data:`Layout`; BadInputError naming the valid ones otherwise."""
    if not is_layout(layout):
        msg = f"unknown layout {layout!r}; valid layouts: {sorted(OBJECT_BRANCHES)}"
        raise BadInputError(msg)
    return layout


def check_kind(kind: str) -> ObjectKind:
    """``kind`` as an :data:`ObjectKind`; BadInputError otherwise."""
    if not is_object_kind(kind):
        msg = f"unknown object kind {kind!r}; expected one of {list(OBJECT_KINDS)}"
        raise BadInputError(msg)
    return kind


def object_table(layout: str, kind: str) -> dict[str, str]:
    """quantity -> branch for ``kind`` objects of ``layout`` (the one branch table)."""
    return OBJECT_BRANCHES[check_layout(layout)][check_kind(kind)]


def seed_grid(kind: ObjectKind) -> tuple[int, int]:
    """The grid a seed indexes: HCAL towers for (fat)jets, EB crystals for e/gamma."""
    return geo.HCAL_SHAPE if frame_of(kind) == "jet" else geo.EB_SHAPE


_WHAT = {"jet": "jet", "fatjet": "FatJet", "eg": "e/gamma object"}


def object_counts(chunk: Any, layout: Layout, kind: ObjectKind) -> npt.NDArray[np.int64]:
    """Objects per event: the length of the seed-row branch."""
    name = object_table(layout, kind)["seed_row"]
    return arrays.jagged(arrays.branch(chunk, name, layout=layout, why=f"{kind} seeds")).counts


def resolve_selection(
    objects: ObjectSelection | Any | None, counts: npt.NDArray[np.int64], what: str = "object"
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(event, index) arrays of a selection (default: every object), checked against ``counts``.

    ``objects`` is an :class:`ObjectSelection` or a jagged boolean mask shaped like the
    objects."""
    if objects is None:
        sel = ObjectSelection.from_flat(counts, np.ones(int(counts.sum()), dtype=bool))
    elif isinstance(objects, ObjectSelection):
        sel = objects
    else:
        sel = ObjectSelection.from_mask(objects)
        _check_mask_shape(objects, counts)
    event = np.asarray(sel.event, dtype=np.int64)
    index = np.asarray(sel.index, dtype=np.int64)
    if len(event) != len(index):
        msg = f"selection has {len(event)} events but {len(index)} {what} indices"
        raise BadInputError(msg)
    bad = (event < 0) | (event >= len(counts))
    bad[~bad] = (index[~bad] < 0) | (index[~bad] >= counts[event[~bad]])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        have = int(counts[event[k]]) if 0 <= event[k] < len(counts) else 0
        msg = (
            f"selected {what} {int(index[k])} of event {int(event[k])} does not exist "
            f"(chunk has {len(counts)} events, that event {have} {what}s)"
        )
        raise BadInputError(msg)
    return event, index


def _check_mask_shape(mask: Any, counts: npt.NDArray[np.int64]) -> None:
    import awkward as ak

    got = np.asarray(ak.num(ak.Array(mask), axis=1), dtype=np.int64)
    if len(got) != len(counts):
        msg = f"the selection mask is not shaped like the objects of the chunk ({len(got)} events vs {len(counts)})"
        raise BadInputError(msg)
    bad = np.flatnonzero(got != counts)
    if len(bad):
        e = int(bad[0])
        msg = (
            f"the selection mask is not shaped like the objects of the chunk "
            f"(event {e}: {int(got[e])} vs {int(counts[e])})"
        )
        raise BadInputError(msg)


def _seed(
    j: arrays.Jagged, flat: npt.NDArray[np.int64], name: str, event: Any, index: Any, offset: int
) -> npt.NDArray[np.int64]:
    """Seed values as int64; float storage (as MLAnalyzer writes) must hold integers."""
    raw = j.values[flat]
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64)
    if raw.dtype.kind != "f":
        msg = f"branch {name!r} holds {raw.dtype} values; seeds must be integers or integral floats"
        raise FileLayoutError(msg)
    bad = ~np.isfinite(raw) | (raw != np.round(raw))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"branch {name!r}: object {int(index[k])} of entry {arrays.entry_of(offset + int(event[k]))} has "
            f"seed {float(raw[k])!r}, not an integer"
        )
        raise FileLayoutError(msg)
    return raw.astype(np.int64)


def object_records(
    chunk: Any,
    layout: Layout,
    kind: ObjectKind,
    objects: ObjectSelection | Any | None = None,
    *,
    entry_offset: int = 0,
) -> ObjectRecords:
    """Records of the selected objects (default: all), seeds checked against their grid.

    ``entry_offset`` is the file entry of the chunk's first event, so that messages name
    the file's entry numbers, not the chunk's."""
    names = object_table(layout, kind)
    what = _WHAT.get(kind, kind)
    row_j = arrays.jagged(
        arrays.branch(chunk, names["seed_row"], layout=layout, why=f"{kind} seeds")
    )
    col_j = arrays.jagged(
        arrays.branch(chunk, names["seed_col"], layout=layout, why=f"{kind} seeds")
    )
    counts = row_j.counts
    _check_counts(col_j, counts, names["seed_col"], names["seed_row"], entry_offset)
    event, index = resolve_selection(objects, counts, what)
    flat = row_j.offsets[event] + index
    row = _seed(row_j, flat, names["seed_row"], event, index, entry_offset)
    col = _seed(col_j, flat, names["seed_col"], event, index, entry_offset)
    h, w = seed_grid(kind)
    bad = (row < 0) | (row >= h) | (col < 0) | (col >= w)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        msg = (
            f"{what} {int(index[k])} of entry {arrays.entry_of(entry_offset + int(event[k]))} has seed "
            f"({names['seed_row']}={int(row[k])}, {names['seed_col']}={int(col[k])}); "
            f"expected 0..{h - 1} and 0..{w - 1}"
        )
        raise SeedRangeError(msg)
    have = set(arrays.fields_of(chunk))
    missing: list[str] = []

    def kinematic(key: str) -> npt.NDArray[np.float32]:
        name = names.get(key)
        if name is None or name not in have:
            missing.append(key)
            return np.full(len(event), np.nan, dtype=np.float32)
        j = arrays.jagged(chunk[name])
        _check_counts(j, counts, name, names["seed_row"], entry_offset)
        values: npt.NDArray[np.float32] = j.values[flat].astype(np.float32)
        return values

    kin = {k: kinematic(k) for k in ("pt", "eta", "phi", "mass", "energy")}
    label = _labels(chunk, names, have, counts, flat, len(event), entry_offset, missing)
    if frame_of(kind) == "jet":
        r0 = geo.HCAL_TO_ECAL * row - geo.JET_FRAME // 2 + 2
        in_frame = (r0 >= 0) & (r0 + geo.JET_FRAME <= geo.ECAL_SHAPE[0])
    else:
        half = geo.EG_FRAME // 2 - 1  # the seed sits at [15, 15] of the 32x32 crop
        in_frame = (row - half >= 0) & (row - half + geo.EG_FRAME <= h)
    return ObjectRecords(
        kind=kind, event=event, index=index, seed_row=row, seed_col=col, label=label,
        in_frame=in_frame, nonfinite=np.zeros(len(event), dtype=np.int64),
        missing=tuple(k for k in OPTIONAL_QUANTITIES if k in missing), **kin,
    )  # fmt: skip


def object_values(
    chunk: Any,
    layout: Layout,
    kind: ObjectKind,
    quantity: str,
    event: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    *,
    entry_offset: int = 0,
) -> npt.NDArray[np.float64] | None:
    """One optional per-object quantity (a regression truth such as ``gen_pt``) of the
    objects ``(event, index)`` of ``chunk``; None when the layout names no branch for it
    or the chunk lacks that branch (the caller says what it does without)."""
    names = object_table(layout, kind)
    name = names.get(quantity)
    if name is None or name not in set(arrays.fields_of(chunk)):
        return None
    counts = object_counts(chunk, layout, kind)
    j = arrays.jagged(chunk[name])
    _check_counts(j, counts, name, names["seed_row"], entry_offset)
    return np.asarray(j.values[j.offsets[event] + index], dtype=np.float64)


TRUTH_LABEL_SOURCES = ("label", "hadron_flavour")
"""Where a task's or tagger's truth labels come from (the contract's ``truth_labels``)."""


def flavour_records(
    chunk: Any, layout: Layout, kind: ObjectKind, rec: ObjectRecords, *, entry_offset: int = 0
) -> ObjectRecords:
    """``rec`` labelled by hadron flavour, as b tagging needs: ``b`` (5), ``c`` (4),
    ``light`` (0) from the ``hadron_flavour`` quantity; any other value is ``unmatched``.
    Without the branch every object is ``unlabelled`` and ``label`` is named missing."""
    import dataclasses

    v = object_values(chunk, layout, kind, "hadron_flavour", rec.event, rec.index,
                      entry_offset=entry_offset)  # fmt: skip
    if v is None:
        label = np.full(len(rec), UNLABELLED, dtype=np.int64)
        missing = tuple(dict.fromkeys((*rec.missing, "label")))
        return dataclasses.replace(rec, label=label, missing=missing)
    label = np.full(len(rec), LABEL_IDS["unmatched"], dtype=np.int64)
    for flavour, name in FLAVOUR_LABELS.items():
        label[v == flavour] = LABEL_IDS[name]
    return dataclasses.replace(rec, label=label)


def _labels(
    chunk: Any,
    names: dict[str, str],
    have: set[str],
    counts: npt.NDArray[np.int64],
    flat: npt.NDArray[np.int64],
    n: int,
    offset: int,
    missing: list[str],
) -> npt.NDArray[np.int64]:
    """Our label branch; else MLAnalyzer's truth flags; else ``unlabelled``."""
    name = names.get("label")
    if name is not None and name in have:
        j = arrays.jagged(chunk[name])
        _check_counts(j, counts, name, names["seed_row"], offset)
        return j.values[flat].astype(np.int64)
    missing.append("label")
    flags = [(names[k], lab) for k, lab in TRUTH_FLAGS.items() if names.get(k) in have]
    if not flags:
        return np.full(n, UNLABELLED, dtype=np.int64)
    label = np.full(n, OTHER, dtype=np.int64)
    for branch, lab in reversed(flags):  # first flag in TRUTH_FLAGS wins
        j = arrays.jagged(chunk[branch])
        _check_counts(j, counts, branch, names["seed_row"], offset)
        label[j.values[flat] != 0] = LABEL_IDS[lab]
    return label


def _check_counts(
    j: arrays.Jagged, counts: npt.NDArray[np.int64], name: str, seed: str, offset: int
) -> None:
    """A per-object branch must have one entry per seed in every event."""
    if len(j.counts) == len(counts) and np.array_equal(j.counts, counts):
        return
    if len(j.counts) != len(counts):
        msg = f"branch {name!r} has {len(j.counts)} entries, {seed!r} has {len(counts)}"
        raise FileLayoutError(msg)
    e = int(np.flatnonzero(j.counts != counts)[0])
    msg = (
        f"branch {name!r} holds {int(j.counts[e])} values in entry {arrays.entry_of(offset + e)} but "
        f"{seed!r} holds {int(counts[e])}: one value per object is required"
    )
    raise FileLayoutError(msg)


_INSTEAD: dict[str, str] = {
    "pt": "the pt cut is not applied and pt axes stay empty",
    "eta": "the |eta| cut is not applied and eta axes stay empty",
    "phi": "phi is NaN (frames do not need it)",
    "mass": "mass is NaN (frames do not need it)",
    "energy": "energy is NaN (frames do not need it)",
    "gen_pt": "no truth pT: regression taggers fill value histograms but no response",
    "gen_mass": "no truth mass: mass regression taggers fill value histograms but no response",
    "gen_msoftdrop": "no truth soft-drop mass: its regression fills value histograms but no response",
    "msoftdrop": "msoftdrop is NaN (frames do not need it)",
    "hadron_flavour": "no hadron flavour: b-tagging taggers have no b/c/light truth",
    "gen_vis_tau_pt": "no visible tau pT: tau pT regression taggers fill value histograms but no response",
}


def explain_missing(
    layout: Layout, kind: ObjectKind, missing: list[str] | tuple[str, ...]
) -> dict[str, str]:
    """For each of our ``kind`` branches a file lacks, what the toolkit does instead.

    Truth flags only matter without our label branch: with no label and no flag the
    objects are ``unlabelled``; with a flag they are labelled from it."""
    table = object_table(layout, kind)
    by_branch = {b: q for q, b in table.items()}
    gone = set(missing)
    out: dict[str, str] = {}
    flags = [table[q] for q in TRUTH_FLAGS if q in table]
    for branch in missing:
        q = by_branch.get(branch)
        if q in _INSTEAD:
            out[branch] = _INSTEAD[q]
        elif q == "label":
            have = [f for f in flags if f not in gone]
            out[branch] = (
                f"labels from the truth flag(s) {have} (set: tau/electron, else 'other')"
                if have else "no truth at all: objects are 'unlabelled' and no ROC can be computed"
            )  # fmt: skip
    return out
