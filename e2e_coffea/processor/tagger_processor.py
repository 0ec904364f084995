"""The main job's coffea processor: events -> :class:`Tagger` outputs -> hists, per chunk.

The processor is a thin validation layer over :class:`~e2e_coffea.inference.Tagger`
(the one inference path): it reads the branches all its taggers need once, lets each
tagger select, frame and score its objects in memory-bounded batches, and fills the
histograms of each model kind (binary score, multi-class probabilities, regressed value
and response), cutflow and mean images. It holds only picklable configuration; the
sessions come from the worker's cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from coffea import processor

from ..exceptions import E2EError
from ..frames.objects import object_table, object_values
from ..frames.occupancy import new_tally
from ..frames.selection import ObjectCuts, cut_steps
from ..inference import Tagger, TaggerSpec, resolve_tagger
from ..inference.calibration import DEFAULT_BATCH, BatchChoice
from ..inference.truth import regression_baseline, regression_truth
from ..io.columns import ColumnPlan, plan_columns, read_columns
from ..io.nested import flat_branches
from ..io.profiles import BranchProfile, load_profile
from ..layouts import EVENT_ID_BRANCHES, OBJECT_KINDS, TRUTH_FLAGS, Layout, layout_of_tree
from .booking import (
    MeanImages,
    book_class_hists,
    book_regression_hists,
    book_score_hists,
    fill_class_scores,
    fill_features,
    fill_regression,
    fill_scores,
    label_names,
    value_axis,
)
from .features import EventColumns, feature_branches, object_features, to_unit
from .weights import event_weights, needs_event_numbers

__all__ = ["E2ETaggerProcessor", "tagger_cuts"]


class E2ETaggerProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Run every tagger on the objects it was trained for and fill the validation hists.

    Each tagger sees the run's ``cuts`` narrowed to its contract's ``validity`` (the
    kinematic range it was trained in, :func:`tagger_cuts`); a :class:`Tagger` passed in
    keeps its own cuts.

    ``taggers``: shipped names, ONNX paths, :class:`TaggerSpec` or :class:`Tagger`
    objects. ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"`` (CUDA without a GPU is an
    error, never a fallback). ``branches``: the branch profile of the files (a dataset's
    ``metadata["branches"]`` overrides it). ``frame_memory_mb`` bounds the frames alive
    at once; ``batch_size`` is the inference batch (``None``: measured on the CPU, see
    :mod:`e2e_coffea.inference.calibration`; reported per tagger). ``lumi_fb``: objects are weighted by
    cross-section x luminosity / events when the dataset's metadata carries them (see
    :mod:`e2e_coffea.processor.weights`), by 1 otherwise; ``None`` weights nothing.
    ``skip_bad_chunks``: a chunk that fails
    (read error, bad hits, inference) gives an empty output naming it in ``failed`` with
    its reason, instead of stopping the run.
    """

    def __init__(
        self,
        taggers: Sequence[str | TaggerSpec | Tagger],
        *,
        cuts: ObjectCuts | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        batch_size: int | None = None,
        frame_memory_mb: float = 256.0,
        mean_images: bool = True,
        triton_url: str | None = None,
        triton_wire: str = "dense",
        precision: str = "fp32",
        branches: str | os.PathLike[str] | BranchProfile | None = None,
        skip_bad_chunks: bool = False,
        lumi_fb: float | None = 1.0,
    ) -> None:
        if not taggers:
            msg = "E2ETaggerProcessor needs at least one tagger"
            raise E2EError(msg)
        self.cuts = cuts or ObjectCuts()
        self.taggers: list[Tagger] = []
        for t in taggers:
            if not isinstance(t, Tagger):
                spec = resolve_tagger(t)
                t = Tagger(spec, device=device, batch_size=batch_size, triton=triton_url,
                           triton_wire=triton_wire, precision=precision,
                           cuts=tagger_cuts(spec, self.cuts),
                           frame_memory_mb=frame_memory_mb)  # fmt: skip
            self.taggers.append(t)
        names = [t.name for t in self.taggers]
        if len(set(names)) != len(names):
            msg = f"tagger names must be unique, got {names}"
            raise E2EError(msg)
        self.device = device
        self.batch_size = batch_size
        self.frame_memory_mb = frame_memory_mb
        self.mean_images = mean_images
        self.triton_url = triton_url
        self.triton_wire = triton_wire
        self.precision = precision
        self.profile = load_profile(branches) if branches is not None else None
        self.skip_bad_chunks = skip_bad_chunks
        self.lumi_fb = lumi_fb
        event_weights({}, 0, lumi_fb)  # a bad luminosity fails here, before any chunk
        self.book_hists()  # a regression target with a bad range fails here, before any work

    @property
    def specs(self) -> list[TaggerSpec]:
        return [t.spec for t in self.taggers]

    # -- what to read ---------------------------------------------------------------
    def branches(self, layout: Layout, metadata: Any = None) -> tuple[list[str], list[str]]:
        """(required, optional) branches, by our names, for all taggers on ``layout``;
        with the dataset's ``metadata``, also the event number when its weights need it
        (a pT-hat mixture)."""
        req: list[str] = []
        opt: list[str] = []
        for t in self.taggers:
            r, o = t.branches(layout, truth=True)
            req += r
            opt += o
        if self.lumi_fb is not None and metadata is not None and needs_event_numbers(metadata):
            req.append(EVENT_ID_BRANCHES[layout][2])
        if any(t.contract.task != "regression" for t in self.taggers):
            # single-feature baselines and nVtx bins (optional: absent ones are not booked)
            kinds = {t.kind for t in self.taggers}
            opt += feature_branches(layout)
            opt += [
                object_table(layout, k)["phi"] for k in kinds if "phi" in object_table(layout, k)
            ]
        req = list(dict.fromkeys(req))
        return req, [b for b in dict.fromkeys(opt) if b not in req]

    def check_weights(self, dataset: str, metadata: Any) -> str:
        """How the dataset's events will be weighted; bad weight metadata fails here,
        naming the dataset, before any chunk runs."""
        numbers = np.zeros(0, dtype=np.int64)
        return event_weights(metadata, 0, self.lumi_fb, numbers, where=f"dataset {dataset!r}").how

    def profile_for(self, metadata: Any) -> BranchProfile | None:
        """The dataset's own profile (``metadata["branches"]``), else the processor's."""
        name = metadata.get("branches") if hasattr(metadata, "get") else None
        return load_profile(name) if name else self.profile

    def layout_for(self, metadata: Any) -> Layout:
        prof = self.profile_for(metadata)
        if prof is not None:
            return prof.layout
        return layout_of_tree(str(metadata.get("treename", "Events")))

    # -- per chunk -----------------------------------------------------------------
    def process(self, events: Any) -> dict[str, Any]:
        meta = events.metadata
        dataset = str(meta.get("dataset", "unknown"))
        n = len(events)
        if not self.skip_bad_chunks:
            return self._process(events, dataset, n)
        try:
            return self._process(events, dataset, n)
        except Exception as err:  # any per-chunk failure: read, bad hits, inference
            out = self._empty_output(dataset, meta, 0, chunk=False)
            out["failed"] = {_chunk_id(meta, n): " ".join(f"{type(err).__name__}: {err}".split())}
            self._zero_cutflow(out, dataset)
            return out

    def _process(self, events: Any, dataset: str, n: int) -> dict[str, Any]:
        meta = events.metadata
        layout = self.layout_for(meta)
        out = self._empty_output(dataset, meta, n)
        if n == 0:  # same keys as a full chunk, so outputs accumulate and compare alike
            self._zero_cutflow(out, dataset)
            return out
        t0 = time.perf_counter()
        req, opt = self.branches(layout, meta)
        event_branch = EVENT_ID_BRANCHES[layout][2]
        where = str(meta.get("filename", "chunk"))
        plan = _without_unused_flags(
            plan_columns(
                list(flat_branches(events)), req, opt, self.profile_for(meta), where=where
            ),
            layout,
        )
        chunk = read_columns(events, plan, where=where)
        out["metrics"]["time_read"] += time.perf_counter() - t0
        offset = int(meta.get("entrystart", 0) or 0)
        numbers = np.asarray(chunk[event_branch]) if event_branch in plan.present else None
        weights = event_weights(meta, n, self.lumi_fb, numbers, where=f"dataset {dataset!r}")
        out["weights"] = {dataset: {weights.how: 1}}
        columns = EventColumns.of(chunk, layout)
        for t in self.taggers:
            self._run_tagger(t, chunk, layout, dataset, offset, out, weights.weights, columns)
        for images in out["mean_images"].values():
            images.flush()  # frames summed on a GPU: one copy per label and chunk
        device, reason = _device_label(self.taggers[0])
        out["metrics"]["device"] = {device: 1}
        out["metrics"]["device_reason"] = {reason: 1}
        out["metrics"]["worker"] = {_worker_name(): n}
        return out

    def _zero_cutflow(self, out: dict[str, Any], dataset: str) -> None:
        for t in self.taggers:
            flow = dict.fromkeys(cut_steps(t.cuts, t.kind), 0)
            out["cutflow"][dataset].update({f"{t.name}: {k}": v for k, v in flow.items()})

    def empty_output(self) -> dict[str, Any]:
        """An output with nothing in it (a run where no file could be read)."""
        out = self._empty_output("", {}, 0, chunk=False)
        out["entries"], out["cutflow"], out["metrics"]["chunks"] = {}, {}, 0
        return out

    def _empty_output(
        self, dataset: str, meta: Any, n: int, *, chunk: bool = True
    ) -> dict[str, Any]:
        return {
            "entries": {dataset: n},
            "chunks": {_chunk_id(meta, n): n} if chunk else {},
            "failed": {},
            "hists": self.book_hists(),
            "weights": {},
            "cutflow": {dataset: {"events": n}},
            "notes": {},
            "conditions": {},
            "mean_images": {},
            "metrics": {
                "chunks": 1, "entries": n, "objects": 0, "time_read": 0.0,
                "time_frames": 0.0, "time_inference": 0.0, "oom_halvings": 0,
            },
        }  # fmt: skip

    def book_hists(self) -> dict[str, Any]:
        """Score histograms; ``class_score`` when a tagger is multi-class; value and
        response histograms per regression tagger (each with its target's axis)."""
        hists = book_score_hists()
        for t in self.taggers:
            c = t.contract
            if c.task == "regression":
                hists.update(book_regression_hists(t.name, value_axis(c)))
            elif len(c.class_names) > 2:
                hists.update(book_class_hists())
        return hists

    def _run_tagger(self, tagger: Tagger, chunk: Any, layout: Layout, dataset: str, offset: int,
                    out: dict[str, Any], weights: Any = None,
                    columns: EventColumns | None = None) -> None:  # fmt: skip
        tagger.tally = new_tally()  # this chunk's conditions: nVtx at select, frames when scored
        sel = tagger.select(chunk, layout, entry_offset=offset)
        out["cutflow"][dataset].update({f"{tagger.name}: {k}": v for k, v in sel.cutflow.items()})
        notes = out["notes"].setdefault(tagger.name, {})
        for note in sel.notes:
            notes[note] = notes.get(note, 0) + len(sel.records)
        metrics = out["metrics"]
        halvings = tagger.stats["oom_halvings"]
        c = tagger.contract
        truth = (
            _RegressionTruth(chunk, layout, tagger, sel, offset) if c.task == "regression" else None
        )
        for batch in tagger.score_batches(chunk, layout, sel, entry_offset=offset):
            metrics["time_frames"] += batch.time_inputs
            metrics["time_inference"] += batch.time_model
            rec = batch.records
            metrics["objects"] += len(rec)
            if len(rec):
                w = None if weights is None else weights[rec.event + batch.first]
                out["hists"]["objects"].fill(
                    dataset=dataset, label=label_names(rec.label), tagger=tagger.name
                )
                if truth is not None:
                    fill_regression(out["hists"], dataset=dataset, tagger=tagger.name,
                                    labels=rec.label, **truth.columns(batch))  # fmt: skip
                elif batch.outputs.ndim == 2:
                    fill_class_scores(out["hists"], dataset=dataset, tagger=tagger.name, labels=rec.label,
                                      probabilities=batch.outputs, class_names=c.class_names, weight=w)  # fmt: skip
                else:
                    feats, nvtx = (
                        ({}, None) if columns is None else
                        object_features(columns, tagger.kind, rec.event + batch.first, rec.index,
                                        rec.pt, rec.eta, rec.phi)
                    )  # fmt: skip
                    fill_scores(out["hists"], dataset=dataset, tagger=tagger.name, labels=rec.label,
                                scores=batch.outputs, pt=rec.pt, eta=rec.eta, weight=w, nvtx=nvtx)  # fmt: skip
                    fill_features(out["hists"], dataset=dataset, tagger=tagger.name,
                                  labels=rec.label, pt=rec.pt, weight=w,
                                  features={k: to_unit(k, v) for k, v in feats.items()})  # fmt: skip
                frames = tagger.contract.input_kind == "image" and batch.inputs is not None
                if self.mean_images and frames:  # no frames here when hits go to Triton
                    mi = out["mean_images"].setdefault(
                        tagger.name, MeanImages(tuple(tagger.contract.channels))
                    )
                    mi.add(batch.inputs, rec.label)  # summed where the frames are
        metrics["oom_halvings"] += tagger.stats["oom_halvings"] - halvings
        out["conditions"][tagger.name] = tagger.tally
        choice = tagger.batch_choice or BatchChoice(tagger.batch_size or DEFAULT_BATCH, "default")
        metrics.setdefault("batch_size", {}).setdefault(tagger.name, {})[choice.label] = 1

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def tagger_cuts(tagger: TaggerSpec | Tagger, cuts: ObjectCuts) -> ObjectCuts:
    """The run's object selection narrowed to the range the tagger was trained for (its
    contract's ``validity``): the objects it is run on and measured on."""
    return cuts.within(tagger.contract.validity)


class _RegressionTruth:
    """A regression tagger's truth, true pT and baseline for the selected objects of a
    chunk, handed out batch by batch (batches follow the selection's order)."""

    def __init__(self, chunk: Any, layout: Layout, tagger: Tagger, sel: Any, offset: int) -> None:
        c = tagger.contract
        rows = np.flatnonzero(sel.passed)
        self.event, self.index = sel.records.event[rows], sel.records.index[rows]

        def values(q: str | None) -> Any:
            if q is None:
                return None
            return object_values(chunk, layout, tagger.kind, q, self.event, self.index,
                                 entry_offset=offset)  # fmt: skip

        self.truth = values(regression_truth(c))
        self.true_pt = values("gen_pt") if self.truth is not None else None
        if self.true_pt is not None:
            self.true_pt = np.where(self.true_pt > 0, self.true_pt, np.nan)  # -1: unmatched
        self.baseline = regression_baseline(c)
        names = list(c.class_names)
        target = str((c.target or {}).get("name", names[0]))
        self.column = names.index(target) if target in names else 0
        self.names = names
        self.done = 0

    def columns(self, batch: Any) -> dict[str, Any]:
        rec, n = batch.records, len(batch.records)
        part = slice(self.done, self.done + n)
        shift = self.event[part] - rec.event  # batches hold slices of the chunk's events
        if not (np.array_equal(rec.index, self.index[part]) and np.all(shift == shift[:1])):
            msg = "scored batches do not follow the selection's order; truth would be misassigned"
            raise E2EError(msg)
        self.done += n
        out = batch.outputs if batch.outputs.ndim == 2 else batch.outputs[:, None]
        return {
            "values": out[:, self.column],
            "extra": {k: out[:, i] for i, k in enumerate(self.names) if i != self.column},
            "baseline": None if self.baseline is None else getattr(rec, self.baseline),
            "truth": None if self.truth is None else self.truth[part],
            "true_pt": None if self.true_pt is None else self.true_pt[part],
        }


def _chunk_id(meta: Any, n: int) -> str:
    """``file:start-stop``: what accounting compares with the fileset's entries."""
    start = meta.get("entrystart", 0)
    return f"{meta.get('filename', '?')}:{start}-{meta.get('entrystop', start + n)}"


def _without_unused_flags(plan: ColumnPlan, layout: Layout) -> ColumnPlan:
    """Truth flags are read only for objects whose file lacks our label branch."""
    drop: set[str] = set()
    for kind in OBJECT_KINDS:
        table = object_table(layout, kind)
        if table["label"] in plan.present:
            drop |= {table[q] for q in TRUTH_FLAGS if q in table}
    keep = [i for i, b in enumerate(plan.present) if b not in drop]
    return ColumnPlan(
        tuple(plan.present[i] for i in keep), tuple(plan.file_names[i] for i in keep), plan.missing
    )


def _device_label(tagger: Tagger) -> tuple[str, str]:
    """Where the chunk's inference ran, and why (``auto`` says what it found)."""
    if tagger.triton:
        return "triton", f"triton server {tagger.triton}"
    from ..inference.sessions import choose_device

    choice = choose_device(tagger.device)
    return choice.device, choice.reason


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"pid{os.getpid()}"
