"""The jets an event display browses: frames, kinematics, truth and scores in one table.

Built either from objects already in memory (frames and records of
:func:`~e2e_coffea.frames.build_jet_frames`) or from a fileset, where the first events of
each dataset are read again and scored by :class:`~e2e_coffea.inference.Tagger` (the
one inference path), so the display never needs the Dask run that made the histograms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..exceptions import BadInputError
from ..frames import ObjectCuts, build_jet_frames, list_channels, required_branches
from ..frames.jets import jet_windows
from ..inference import Tagger, TaggerSpec
from ..io import load_fileset, open_tree
from ..io.columns import plan_columns, read_columns
from ..io.profiles import BranchProfile
from ..layouts import Layout, layout_of_tree
from ..processor.booking import label_names
from .composite import LAYERS, Box
from .event_images import available_channels

__all__ = ["JetTable", "LoadedJets", "load_jets"]

DISPLAY_CHANNELS: tuple[str, ...] = tuple(c for layer in LAYERS for c in layer.channels)


def _column(records: Any, key: str, n: int, fill: Any, dtype: Any) -> npt.NDArray[Any]:
    value = records.get(key) if isinstance(records, Mapping) else getattr(records, key, None)
    if value is None:
        return np.full(n, fill, dtype=dtype)
    arr = np.asarray(value)
    if arr.shape != (n,):
        msg = f"records[{key!r}] has shape {arr.shape}, expected ({n},): one entry per frame"
        raise BadInputError(msg)
    return arr.astype(dtype)


@dataclass
class JetTable:
    """One row per jet, in frame order; ``label`` holds names (``tau``), not ids."""

    frames: npt.NDArray[np.float32]
    channels: tuple[str, ...]
    pt: npt.NDArray[np.float64]
    eta: npt.NDArray[np.float64]
    phi: npt.NDArray[np.float64]
    label: npt.NDArray[np.str_]
    dataset: npt.NDArray[np.str_]
    event: npt.NDArray[np.int64]
    index: npt.NDArray[np.int64]
    seed_row: npt.NDArray[np.int64]
    seed_col: npt.NDArray[np.int64]
    scores: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    absent_in: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Channels missing from one dataset's files only (its rows hold zeros there)."""

    def absent_for(self, i: int) -> tuple[str, ...]:
        """Channels missing for row ``i``: from every file, or from its dataset's."""
        return tuple(sorted(set(self.absent) | set(self.absent_in.get(str(self.dataset[i]), ()))))

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def from_records(
        cls,
        frames: Any,
        records: Any,
        channels: Sequence[str],
        *,
        scores: Mapping[str, Any] | Any | None = None,
        dataset: Sequence[str] | str | None = None,
        absent: Sequence[str] = (),
    ) -> JetTable:
        """From frames (n, C, H, W), records (JetRecords or a mapping of columns) and scores
        (one array, or a mapping tagger -> array)."""
        arr = np.asarray(
            frames.cpu().numpy() if hasattr(frames, "cpu") else frames, dtype=np.float32
        )
        if arr.ndim != 4:
            msg = f"frames must be (n_jets, C, H, W), got shape {arr.shape}"
            raise BadInputError(msg)
        chans = tuple(channels)
        if arr.shape[1] != len(chans):
            msg = f"frames have {arr.shape[1]} channels but {len(chans)} names were given: {list(chans)}"
            raise BadInputError(msg)
        unknown = [c for c in chans if c not in list_channels()]
        if unknown:
            msg = f"unknown channel(s) {unknown}; valid channels: {list_channels()}"
            raise BadInputError(msg)
        n = len(arr)
        labels = (
            records.get("label")
            if isinstance(records, Mapping)
            else getattr(records, "label", None)
        )
        if labels is None:
            label = np.full(n, "unknown")
        else:
            lab = np.asarray(labels)
            label = lab.astype(str) if lab.dtype.kind in "USO" else label_names(lab)
        if label.shape != (n,):
            msg = f"records['label'] has shape {label.shape}, expected ({n},)"
            raise BadInputError(msg)
        if dataset is None or isinstance(dataset, str):
            ds = np.full(n, dataset or "jets")
        else:
            ds = np.asarray(dataset).astype(str)
            if ds.shape != (n,):
                msg = f"dataset has shape {ds.shape}, expected ({n},) or one name"
                raise BadInputError(msg)
        if scores is None:
            sc: dict[str, npt.NDArray[np.float64]] = {}
        elif isinstance(scores, Mapping):
            sc = {str(k): np.asarray(v, dtype=np.float64) for k, v in scores.items()}
        else:
            sc = {"score": np.asarray(scores, dtype=np.float64)}
        bad = {k: v.shape for k, v in sc.items() if v.shape != (n,)}
        if bad:
            msg = f"scores must hold one value per frame ({n}); got shapes {bad}"
            raise BadInputError(msg)
        return cls(
            frames=arr,
            channels=chans,
            pt=_column(records, "pt", n, np.nan, np.float64),
            eta=_column(records, "eta", n, np.nan, np.float64),
            phi=_column(records, "phi", n, np.nan, np.float64),
            label=label,
            dataset=ds,
            event=_column(records, "event", n, -1, np.int64),
            index=_column(records, "index", n, -1, np.int64),
            seed_row=_column(records, "seed_row", n, -1, np.int64),
            seed_col=_column(records, "seed_col", n, -1, np.int64),
            scores=sc,
            absent=tuple(absent),
        )

    def select(
        self,
        *,
        dataset: str | None = None,
        label: str | None = None,
        pt_range: tuple[float, float] | None = None,
        tagger: str | None = None,
        score_range: tuple[float, float] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Rows passing every given filter (None: no filter), in table order."""
        keep = np.ones(len(self), bool)
        if dataset is not None:
            keep &= self.dataset == dataset
        if label is not None:
            keep &= self.label == label
        if pt_range is not None:
            keep &= (self.pt >= pt_range[0]) & (self.pt <= pt_range[1])
        if tagger is not None and score_range is not None:
            if tagger not in self.scores:
                msg = f"no scores for tagger {tagger!r}; have {sorted(self.scores)}"
                raise BadInputError(msg)
            s = self.scores[tagger]
            keep &= (s >= score_range[0]) & (s <= score_range[1])
        return np.flatnonzero(keep)

    def windows(self, i: int) -> list[Box]:
        """The 125x125 windows of the table's jets in the event of row ``i``; row ``i`` highlighted."""
        if self.seed_row[i] < 0:
            return []
        same = np.flatnonzero(
            (self.dataset == self.dataset[i]) & (self.event == self.event[i]) & (self.seed_row >= 0)
        )
        r0, c0 = jet_windows(self.seed_row[same], self.seed_col[same])
        return [
            Box(int(r), int(c), geo.JET_FRAME, highlight=bool(j == i))
            for r, c, j in zip(r0, c0, same, strict=True)
        ]


@dataclass
class LoadedJets:
    """A table plus the chunks it came from, so whole events can be drawn later."""

    table: JetTable
    chunks: dict[str, tuple[ak.Array, Layout]]  # dataset -> (chunk, layout)
    tagger: TaggerSpec


def load_jets(
    fileset: Any,
    tagger: str | TaggerSpec | Tagger,
    *,
    max_events: int = 50,
    cuts: ObjectCuts | None = None,
    branches: str | BranchProfile | None = None,
) -> LoadedJets:
    """Read the first ``max_events`` events of each dataset's first file, select and score
    the tagger's jets with :class:`Tagger` (CPU), and build raw frames of the display layers."""
    if max_events < 1:
        msg = f"max_events must be >= 1, got {max_events}"
        raise BadInputError(msg)
    tg = (
        tagger
        if isinstance(tagger, Tagger)
        else Tagger(tagger, device="cpu", cuts=cuts, branches=branches)
    )
    spec = tg.spec
    if spec.kind not in ("jet", "fatjet"):
        msg = (
            f"the event display shows jets and FatJets; tagger {spec.name!r} works on e/gamma crops"
        )
        raise BadInputError(msg)
    fs = load_fileset(fileset)
    parts: list[JetTable] = []
    chunks: dict[str, tuple[ak.Array, Layout]] = {}
    for dataset, entry in fs.items():
        path, tree = next(iter(entry["files"].items()))
        profile = tg.profile
        layout = profile.layout if profile is not None else layout_of_tree(str(tree or ""))
        with open_tree(path, layout) as t:
            keys = list(t.keys())
            ours = keys if profile is None else [_ours(profile, b) for b in keys]
            displayable = list(DISPLAY_CHANNELS)
            shown, _missing = available_channels(dict.fromkeys(ours), layout, displayable)
            req, opt = tg.branches(layout, truth=True)
            opt = [*opt, *required_branches(shown, layout)]
            plan = plan_columns(keys, req, opt, profile, where=f"dataset {dataset!r}, file {path}")
            raw = t.arrays(list(plan.file_names), entry_stop=max_events)
        chunk = read_columns(raw, plan)
        sel = tg.select(chunk, layout)
        scores = [b.outputs for b in tg.score_batches(chunk, layout, sel)]
        display = [c for c in DISPLAY_CHANNELS if c in shown]
        frames, rec = build_jet_frames(chunk, layout=layout, channels=display, jets=sel.selection,
                                       kind="fatjet" if spec.kind == "fatjet" else "jet")  # fmt: skip
        absent = [c for c in DISPLAY_CHANNELS if c not in shown]
        score = np.concatenate(scores) if scores else np.zeros(0, np.float32)
        parts.append(
            JetTable.from_records(
                frames, rec, display, scores={spec.name: score}, dataset=dataset, absent=absent
            )
        )
        chunks[dataset] = (chunk, layout)
    return LoadedJets(_concat(parts), chunks, spec)


def _ours(profile: BranchProfile, file_branch: str) -> str:
    """Our name of a file's branch under ``profile`` (itself when not renamed)."""
    back = {v: k for k, v in profile.branches.items()}
    return back.get(file_branch, file_branch)


def _concat(parts: list[JetTable]) -> JetTable:
    """Stack tables; datasets lacking a channel get zeros there and list it as absent."""
    if not parts:
        msg = "the fileset holds no datasets"
        raise BadInputError(msg)
    channels = tuple(c for c in DISPLAY_CHANNELS if any(c in p.channels for p in parts))
    frames = []
    for p in parts:
        f = np.zeros((len(p), len(channels), *p.frames.shape[2:]), np.float32)
        for i, c in enumerate(p.channels):
            f[:, channels.index(c)] = p.frames[:, i]
        frames.append(f)
    absent = tuple(c for c in DISPLAY_CHANNELS if c not in channels)
    absent_in = {str(p.dataset[0]): p.absent for p in parts if len(p) and p.absent}
    cat = np.concatenate
    return JetTable(
        frames=cat(frames),
        channels=channels,
        pt=cat([p.pt for p in parts]),
        eta=cat([p.eta for p in parts]),
        phi=cat([p.phi for p in parts]),
        label=cat([p.label for p in parts]),
        dataset=cat([p.dataset for p in parts]),
        event=cat([p.event for p in parts]),
        index=cat([p.index for p in parts]),
        seed_row=cat([p.seed_row for p in parts]),
        seed_col=cat([p.seed_col for p in parts]),
        scores={k: cat([p.scores[k] for p in parts]) for k in parts[0].scores},
        absent=absent,
        absent_in=absent_in,
    )
