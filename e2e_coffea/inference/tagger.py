"""``Tagger``: the one inference path, usable inside any coffea processor.

>>> tagger = Tagger("tau_resnet15")                      # doctest: +SKIP
>>> scores = tagger(events)                              # doctest: +SKIP
>>> ak.num(scores) == ak.num(events.jetSeed_ieta)       # doctest: +SKIP

It reads only the branches it needs (through a branch profile), selects the objects the
tagger was made for, builds their frames (or point clouds) in memory-bounded batches,
runs the model (onnxruntime on the CPU or CUDA, or a Triton server) and returns the
outputs with the jagged structure of the objects: ``None`` where an object is outside
the acceptance, with the reason counted in ``Tagger.stats``. The processor, the
dashboards and the benchmarks all call this class. It pickles without a session: the
session comes from the worker's cache.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, BadTypeError
from ..export.contract import Contract
from ..frames.buffers import FrameBuffers
from ..frames.model_inputs import ModelInputs
from ..frames.objects import flavour_records, object_counts, object_table
from ..frames.occupancy import add_frames, add_nvtx, new_tally, per_event_number, tally_means
from ..frames.records import ObjectRecords, ObjectSelection
from ..frames.selection import ObjectCuts, Selected, ValidityRangeWarning, select_objects
from ..io.arrays import entries_from, fields_of
from ..io.columns import ColumnPlan, plan_columns, read_columns
from ..io.nested import FlatBranches, flat_branches
from ..io.profiles import BranchProfile, load_profile
from ..layouts import (
    LAYOUTS,
    OBJECT_BRANCHES,
    OBJECT_KINDS,
    TRUTH_FLAGS,
    Layout,
    ObjectKind,
    is_layout,
    layout_of_tree,
)
from .batching import object_batches
from .calibration import DEFAULT_BATCH, BatchChoice, tuned_infer
from .conditions import ConditionsWarning, conditions_warning, expected_conditions
from .outputs import jagged_outputs, model_outputs, output_width
from .partitions import is_dask_collection, map_partitions
from .precision import session_model
from .prefetch import prefetched
from .runtimes import InferenceBackend, OnnxBackend, triton_backend, triton_endpoint
from .sessions import resolve_device
from .shipped import TaggerSpec, resolve_tagger
from .threads import thread_budget
from .truth import regression_quantities

__all__ = ["ScoredBatch", "Tagger", "detect_layout", "object_batches"]

Device = Literal["auto", "cpu", "cuda"] | str


@dataclass(frozen=True)
class ScoredBatch:
    """One batch of a chunk's selected objects: records, model outputs, and the inputs
    (frames or point-cloud features, numpy or a device tensor) for the mean images."""

    records: ObjectRecords
    outputs: npt.NDArray[np.float32]
    inputs: Any
    time_inputs: float = 0.0
    """Seconds building the inputs (on the CPU in a background thread, overlapping the
    previous batch's inference: not all of it is on the critical path)."""
    time_model: float = 0.0
    first: int = 0
    """The chunk event of the batch's event 0 (``records.event`` counts from it)."""


def detect_layout(fields: list[str], profile: BranchProfile | None = None) -> Layout:
    """The layout of a chunk from its branch names (or the profile's, when given)."""
    if profile is not None:
        return profile.layout
    have = set(fields)
    for layout in LAYOUTS:
        for kind in OBJECT_KINDS:
            if OBJECT_BRANCHES[layout][kind]["seed_row"] in have:
                return layout
    msg = (
        "cannot tell the layout of this chunk: it has neither e2e seeds (jetSeed_ieta, fatjetSeed_ieta, SC_ieta) "
        f"nor sparse ones (Jet_seedIeta, FatJet_seedIeta, EGamma_seedRow); pass layout= or branches=PROFILE; "
        f"fields: {sorted(have)[:10]}"
    )
    raise BadInputError(msg)


class Tagger:
    """A tagger by shipped name or ONNX path, ready to score chunks of either layout.

    ``device``: ``auto`` (CUDA only where torch sees a GPU and onnxruntime has the CUDA
    provider), ``cpu`` or ``cuda``. ``batch_size``: inference batch; ``None`` measures
    the fastest on the CPU (:mod:`~e2e_coffea.inference.calibration`, cached per model
    and machine) and takes 256 elsewhere; the choice is ``batch_choice``. ``precision``:
    ``fp32``, or a variant (``fp16``, ``int8``) whose held-out AUC change the contract
    records within the gate (:mod:`~e2e_coffea.inference.precision`; refused in one line
    otherwise).
    ``triton``: ``host:port`` of a Triton server serving this tagger under its name (no
    local session is built; ``host:port`` or ``grpc://...`` for gRPC, ``http://host:port``
    for HTTP). ``triton_wire``: ``dense`` sends the frames (a server holding only the ONNX
    file), ``sparse`` each object's hits, from which the server builds the frames
    (:mod:`~e2e_coffea.inference.triton_sparse`; sparse-layout chunks). ``branches``: a
    branch profile (name, file or :class:`~e2e_coffea.io.profiles.BranchProfile`) for
    files that name branches differently.
    ``cuts``: the object selection; by default the standard cuts narrowed to the range the
    tagger was trained for (the contract's ``validity``: pT, |eta|), so objects outside
    it are ``None``, counted by reason in ``stats``. Cuts given that reach beyond
    that range are applied as given, with one
    :class:`~e2e_coffea.frames.ValidityRangeWarning`.
    ``frame_memory_mb`` bounds the frames alive at once.
    ``tensorrt``: a TensorRT engine cache folder (GPU only; onnxruntime's TensorRT provider
    in front of CUDA).

    A shipped tagger carries what it needs in its contract: the objects it scores, its
    channels and their normalisation, its classes.

    >>> tagger = Tagger("tau_simplenet")
    >>> tagger.kind, tagger.contract.channel_preset, tagger.contract.class_names
    ('jet', 'tau13', ('qcd', 'tau'))
    >>> tagger.contract.validity
    {'abs_eta_max': 1.392, 'pt_max': 100.0, 'pt_min': 20.0}
    """

    def __init__(
        self,
        tagger: str | os.PathLike[str] | TaggerSpec,
        *,
        device: Device = "auto",
        batch_size: int | None = None,
        precision: str = "fp32",
        triton: str | None = None,
        triton_wire: str = "dense",
        branches: str | os.PathLike[str] | BranchProfile | None = None,
        cuts: ObjectCuts | None = None,
        frame_memory_mb: float = 256.0,
        layout: Layout | None = None,
        tensorrt: str | os.PathLike[str] | None = None,
    ) -> None:
        _check_options(batch_size, frame_memory_mb, cuts, layout)
        self.spec = resolve_tagger(tagger)
        self.device = device
        self.batch_size = batch_size
        self.batch_choice = BatchChoice(batch_size, "fixed") if batch_size else None
        self.precision = precision
        self.model = session_model(self.spec, precision)  # the gate: refuses here, at load
        if triton is not None:
            triton_endpoint(triton)  # a bad scheme is refused here, not on the first chunk
        self.triton = triton
        self.triton_wire = _check_wire(triton_wire, self.contract)
        self.profile = load_profile(branches) if branches is not None else None
        valid = self.contract.kinematic_range  # the range it was trained in (None: any)
        self.cuts = ObjectCuts().within(valid) if cuts is None else cuts
        if cuts is not None and (beyond := cuts.beyond(valid)):
            msg = (
                f"tagger {self.name!r} was trained for {self.contract.validity}; cuts= reach "
                f"beyond it ({', '.join(beyond)}): objects there are scored all the same"
            )
            warnings.warn(msg, ValidityRangeWarning, stacklevel=2)
        self.frame_memory_mb = frame_memory_mb
        self.layout = layout
        self.tensorrt = str(tensorrt) if tensorrt is not None else None
        self.stats: Counter[str] = Counter()
        self.tally = new_tally()
        """What the scored objects looked like (nVtx, frame occupancy): see :mod:`~e2e_coffea.inference.conditions`."""
        self._warned = False
        self._backend: InferenceBackend | None = None
        self.inputs: ModelInputs = self.contract.model_inputs()
        """What the model eats: the one object training builds its inputs with too."""

    # -- what it is ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def contract(self) -> Contract:
        return self.spec.contract

    @property
    def kind(self) -> ObjectKind:
        return self.spec.kind

    def __repr__(self) -> str:
        c = self.contract
        return f"Tagger({self.name!r}, task={c.task}, classes={list(c.class_names)}, kind={self.kind}, device={self.device!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_backend"] = None  # never ship a session or a client
        state["stats"] = Counter()  # counts belong to the process that scored
        state["tally"], state["_warned"] = new_tally(), False
        if not self.batch_size:  # measured for this machine: each worker measures its own
            state["batch_choice"] = None
        return state

    # -- what it reads -----------------------------------------------------------------
    def branches(self, layout: Layout, *, truth: bool = False) -> tuple[list[str], list[str]]:
        """(required, optional) branches, by our names, for chunks of ``layout``.

        ``truth`` adds the truth label and MLAnalyzer's flags (optional), which validation
        needs and the tagger's own outputs do not; for a regression tagger also its target's
        truth, the true pT and the baseline quantity (:mod:`~e2e_coffea.inference.truth`)."""
        c = self.contract
        table = object_table(layout, self.kind)
        need = self.inputs.branches(layout)
        flavour = ("hadron_flavour",) if c.truth_labels == "hadron_flavour" else ()
        validation = ("label", *TRUTH_FLAGS, *flavour, *regression_quantities(c)) if truth else ()
        wanted = ["pt", "eta", *validation]  # cuts, truth
        optional = [table[q] for q in wanted if q in table and table[q] not in need]
        return list(dict.fromkeys(need)), [*optional, "nVtx"]  # nVtx: the conditions check

    def plan(
        self,
        available: list[str],
        layout: Layout,
        *,
        where: str = "chunk",
        profile: BranchProfile | None = None,
    ) -> ColumnPlan:
        """Which of a file's branches to read (MissingBranchError for required ones)."""
        required, optional = self.branches(layout)
        return plan_columns(available, required, optional, profile or self.profile, where=where)

    # -- the analysis-facing call --------------------------------------------------------
    def __call__(self, events: Any) -> Any:
        """Outputs for every object of ``events``: same jagged structure, ``None`` outside
        the acceptance. ``events``: a coffea NanoEvents chunk of any schema (``BaseSchema``
        flat names or ``NanoAODSchema`` collections such as ``events.Jet.seedIeta``), eager
        or virtual; an uproot array or a mapping of branches; or a dask-awkward collection
        (``mode="dask"``, ``apply_to_fileset``), for which the result is one too."""
        if is_dask_collection(events):
            return map_partitions(self, events)
        chunk, layout, offset = self.read(events)
        sel = self.select(chunk, layout, entry_offset=offset)
        n = len(sel.records)
        width = output_width(self.contract)
        values = np.full((n, width) if width > 1 else n, np.nan, np.float32)
        rows = np.flatnonzero(sel.passed)
        done = 0
        for batch in self.score_batches(chunk, layout, sel, entry_offset=offset):
            values[rows[done : done + len(batch.records)]] = batch.outputs
            done += len(batch.records)
        if not self._warned and (line := self.conditions_warning()):
            self._warned = True  # once per tagger: the console is not a log
            warnings.warn(line, ConditionsWarning, stacklevel=2)
        return jagged_outputs(
            values, sel.passed, object_counts(chunk, layout, self.kind), self.contract
        )

    def read(self, events: Any) -> tuple[ak.Array, Layout, int]:
        """The branches this tagger reads from a chunk (one flat record array under our
        names), the chunk's layout, and its first entry in the file (for messages)."""
        source = flat_branches(events)
        meta = getattr(events, "metadata", None) or {}
        layout = self.layout_of(source, meta)
        where = str(meta.get("filename", "chunk"))
        chunk = read_columns(source, self.plan(list(source), layout, where=where), where=where)
        return chunk, layout, int(meta.get("entrystart", 0) or 0)

    def layout_of(self, source: FlatBranches, meta: Any = None) -> Layout:
        """The layout of a chunk: ``layout=``, the profile's, the tree's name, its seeds."""
        meta = meta or {}
        if self.layout is not None:
            return self.layout
        if "treename" in meta and self.profile is None:
            return layout_of_tree(str(meta["treename"]))
        return detect_layout(list(source), self.profile)

    def select(self, chunk: Any, layout: Layout, *, entry_offset: int = 0) -> Selected:
        """The tagger's objects in ``chunk`` (our branch names) and why others fail."""
        with entries_from(entry_offset):
            sel = select_objects(chunk, layout, self.kind, self.cuts)
            if self.contract.truth_labels == "hadron_flavour":  # b tagging: b / c / light
                rec = flavour_records(chunk, layout, self.kind, sel.records)
                sel = dataclasses.replace(sel, records=rec)
        if "nVtx" in fields_of(chunk) and (nvtx := per_event_number(chunk["nVtx"])) is not None:
            add_nvtx(self.tally, nvtx)
        self.stats["objects"] += len(sel.records)
        self.stats["selected"] += int(sel.passed.sum())
        self.stats.update(sel.reasons)
        return sel

    # -- the processor-facing iteration ----------------------------------------------------
    def score_batches(
        self, chunk: Any, layout: Layout, selected: Selected, *, entry_offset: int = 0
    ) -> Iterator[ScoredBatch]:
        """Frames, scores and drops the selected objects batch by batch (bounded memory).
        ``entry_offset``: the file entry of the chunk's first event, for messages."""
        device = resolve_device(self.device) if self.triton is None else "cpu"
        # On the CPU the next batch's inputs are built while this one is scored: up to
        # three batches alive (the caller's previous one, this one, the next), so each
        # gets a third of the frame budget. Device frames are built in order.
        ahead = device == "cpu" and thread_budget().prefetch > 0  # a core to build on
        pieces = object_batches(
            chunk, selected.selection, max(1, self._batch_limit() // (3 if ahead else 1))
        )
        # CPU frames are built into arrays reused piece after piece (never one a caller
        # still holds): fresh frames cost their page faults, more than building them
        buffers = FrameBuffers() if device == "cpu" and self.inputs.builds_into else None

        def prepare(piece: tuple[ak.Array, ObjectSelection, int]) -> tuple[Any, ...]:
            part, part_sel, first = piece
            t0 = time.perf_counter()
            with entries_from(entry_offset + first):
                inputs, rec = self.model_inputs(part, layout, part_sel, device, buffers)
                if self.contract.truth_labels == "hadron_flavour":  # as select() labels them
                    rec = flavour_records(part, layout, self.kind, rec)
            return inputs, rec, first, time.perf_counter() - t0

        for inputs, rec, first, t_inputs in prefetched(prepare, pieces, ahead=ahead):
            t1 = time.perf_counter()
            raw = self._infer(device, inputs, len(rec))
            if not isinstance(raw, np.ndarray):
                raw = raw.float().cpu().numpy()
            outputs = model_outputs(raw, self.contract)
            self.stats["scored"] += len(rec)
            # hits sent to Triton: no frames on this side (and no frame occupancy to tally)
            frames = None if self._sparse_wire else next(iter(inputs.values()))
            if frames is not None and self.contract.input_kind == "image":
                add_frames(self.tally, frames, self.contract.channels)
            t2 = time.perf_counter()
            yield ScoredBatch(rec, outputs, frames, t_inputs, t2 - t1, first)

    def conditions_warning(self) -> str | None:
        """One line when what this tagger scored so far is far outside its training
        conditions (:mod:`~e2e_coffea.inference.conditions`), else None."""
        return conditions_warning(
            self.name, expected_conditions(self.contract), tally_means(self.tally)
        )

    def _infer(self, device: str, inputs: dict[str, Any], n: int) -> Any:
        """The model's outputs, the batch size measured on the first full CPU batch."""
        if not n:
            return np.zeros((0, 1), np.float32)
        be = self.backend(device)
        if self.batch_choice is not None or not isinstance(be, OnnxBackend) or device != "cpu":
            return be.infer(inputs)
        raw, self.batch_choice = tuned_infer(be, inputs, self.model, self._batch_limit() // 3)
        return raw

    def backend(self, device: str) -> InferenceBackend:
        """The backend of this worker (built on first use, never pickled)."""
        if self._backend is None:
            if self.triton is not None:
                self._backend = triton_backend(self.triton, self.name, self.contract,
                                               self.batch_size or DEFAULT_BATCH, self.triton_wire)  # fmt: skip
            else:
                m = self.model
                self._backend = OnnxBackend(m.path, device, self.batch_size or DEFAULT_BATCH, m.fp16,
                                            tensorrt=self.tensorrt, stats=self.stats,
                                            sha256=m.sha256)  # fmt: skip
        return self._backend

    def model_inputs(
        self, chunk: Any, layout: Layout, sel: ObjectSelection, device: str,
        buffers: FrameBuffers | None = None,
    ) -> tuple[dict[str, Any], ObjectRecords]:  # fmt: skip
        """The model's inputs by name (frames or point features, and scalars) for the
        objects ``sel`` of ``chunk``, numpy on the CPU, torch tensors on a GPU; CPU jet
        frames in an array of ``buffers`` when given."""
        c = self.contract
        if self._sparse_wire:
            from .triton_sparse import sparse_inputs

            return sparse_inputs(chunk, layout, c, self.kind, sel)
        be: Literal["numpy", "torch"] = "torch" if device != "cpu" else "numpy"
        out = None
        if buffers is not None and be == "numpy" and self.inputs.builds_into:
            out = buffers.get((len(sel), *self.inputs.shape))
        built = self.inputs.build(chunk, layout, sel, backend=be, device=device, out=out)
        inputs = {c.input_names[0]: built.inputs}
        if built.scalars is not None:
            if device != "cpu":
                import torch

                inputs[c.input_names[1]] = torch.as_tensor(built.scalars, device=device)
            else:
                inputs[c.input_names[1]] = built.scalars
        return inputs, built.records

    @property
    def _sparse_wire(self) -> bool:
        return self.triton is not None and self.triton_wire == "sparse"

    def _batch_limit(self) -> int:
        per = self.inputs.bytes_per_object
        return max(1, int(self.frame_memory_mb * 2**20) // per)


def _check_options(batch_size: Any, frame_memory_mb: Any, cuts: Any, layout: Any) -> None:
    """One line naming a bad option, before a model is even opened."""
    batch_size = 1 if batch_size is None else batch_size  # None: measured
    for name, value, kind in (("batch_size", batch_size, int), ("frame_memory_mb", frame_memory_mb, float)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | kind):
            msg = f"{name} must be a number, got {type(value).__name__} {value!r}"
            raise BadTypeError(msg)
    if batch_size < 1 or not frame_memory_mb > 0:
        msg = (
            f"batch_size must be >= 1 and frame_memory_mb > 0, got {batch_size}, {frame_memory_mb}"
        )
        raise BadInputError(msg)
    if cuts is not None and not isinstance(cuts, ObjectCuts):
        msg = f"cuts must be an ObjectCuts, got {type(cuts).__name__} {cuts!r}"
        raise BadTypeError(msg)
    if layout is not None and not is_layout(layout):
        msg = f"layout must be one of {list(LAYOUTS)} or None, got {layout!r}"
        raise BadInputError(msg)


def _check_wire(wire: str, contract: Contract) -> str:
    from .triton_sparse import check_wire

    return check_wire(wire, contract)
