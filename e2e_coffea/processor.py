"""The main job's coffea processor: events -> frames -> scores -> hists, per chunk.

The processor holds only picklable configuration (tagger names, paths, contracts); the
onnxruntime sessions come from the worker's cache (:mod:`e2e_coffea.inference.sessions`),
so a chunk never pays for building one and a session is never pickled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import awkward as ak
import numpy as np
import numpy.typing as npt
from coffea import processor

from .exceptions import E2EError, EmptyChunkError
from .frames import build_eg_frames, build_jet_frames
from .frames.records import JetSelection
from .hists.booking import MeanImages, book_score_hists, fill_scores
from .inference.sessions import get_session, resolve_device, run_cpu, run_cuda
from .layouts import E2E_TREE, Layout
from .objects import OBJECT_BRANCHES, object_branches
from .taggers import TaggerSpec, resolve_tagger

__all__ = ["E2ETaggerProcessor", "JetCuts", "layout_of_tree", "scores_from_logits"]


def layout_of_tree(treename: str) -> Layout:
    """The layout a coffea work item reads, from its tree name."""
    return "e2e" if treename.strip("/") == E2E_TREE else "sparse"


@dataclass(frozen=True)
class JetCuts:
    """Object selection before any frame is built."""

    pt_min: float = 20.0
    abs_eta_max: float = 2.4
    require_in_frame: bool = True


class E2ETaggerProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Build frames and run every tagger on the objects it was trained for.

    ``device``: ``"auto"`` uses CUDA where torch sees a GPU, else the CPU;
    ``"cpu"`` or ``"cuda"`` force it (CUDA without a GPU raises
    :class:`~e2e_coffea.inference.sessions.DeviceFallbackError`, never a fallback).
    ``frame_memory_mb`` bounds the frames alive at once: a chunk's objects are framed,
    scored and dropped in batches of that size (a 10k-event chunk of tau13 jets would
    otherwise hold ~16 GB of frames). ``batch_size`` is the inference batch.
    """

    def __init__(
        self,
        taggers: Sequence[str | TaggerSpec],
        *,
        cuts: JetCuts | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        batch_size: int = 256,
        frame_memory_mb: float = 256.0,
        mean_images: bool = True,
        triton_url: str | None = None,
        fp16: bool = False,
    ) -> None:
        specs = [t if isinstance(t, TaggerSpec) else resolve_tagger(t) for t in taggers]
        if not specs:
            msg = "E2ETaggerProcessor needs at least one tagger"
            raise E2EError(msg)
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            msg = f"tagger names must be unique, got {names}"
            raise E2EError(msg)
        self.taggers = specs
        self.cuts = cuts or JetCuts()
        self.device = device
        self.batch_size = batch_size
        if frame_memory_mb <= 0:
            msg = f"frame_memory_mb must be > 0, got {frame_memory_mb}"
            raise E2EError(msg)
        self.frame_memory_mb = frame_memory_mb
        self.mean_images = mean_images
        self.triton_url = triton_url
        self.fp16 = fp16

    # -- what to read ---------------------------------------------------------------
    def branches(self, layout: Layout) -> list[str]:
        """Every branch a chunk of ``layout`` must provide for these taggers."""
        out: list[str] = []
        for spec in self.taggers:
            out += object_branches(list(spec.contract.channels), layout, spec.kind)  # type: ignore[arg-type]
        return list(dict.fromkeys(out))

    # -- per chunk -----------------------------------------------------------------
    def process(self, events: Any) -> dict[str, Any]:
        meta = events.metadata
        dataset = str(meta.get("dataset", "unknown"))
        layout = layout_of_tree(str(meta.get("treename", "Events")))
        device = resolve_device(self.device)
        n = len(events)
        out = self._empty_output(dataset, meta, n)
        if n == 0:  # same keys as a full chunk, so outputs accumulate and compare alike
            for spec in self.taggers:
                out["cutflow"][dataset].update(
                    {f"{spec.name}: {k}": 0 for k in self._flow_steps(spec)}
                )
            return out
        t0 = time.perf_counter()
        chunk = _materialize(events, self.branches(layout))
        t_read = time.perf_counter() - t0
        metrics = out["metrics"]
        metrics["time_read"] += t_read
        for spec in self.taggers:
            self._run_tagger(spec, chunk, layout, dataset, device, out)
        metrics["device"] = {device: 1}
        metrics["worker"] = {_worker_name(): n}
        return out

    def _empty_output(self, dataset: str, meta: Any, n: int) -> dict[str, Any]:
        chunk_id = (
            f"{meta.get('filename', '?')}:{meta.get('entrystart', 0)}-{meta.get('entrystop', n)}"
        )
        return {
            "entries": {dataset: n},
            "chunks": {chunk_id: n},
            "hists": book_score_hists(),
            "cutflow": {dataset: {"events": n}},
            "mean_images": {},
            "metrics": {
                "chunks": 1,
                "entries": n,
                "objects": 0,
                "time_read": 0.0,
                "time_frames": 0.0,
                "time_inference": 0.0,
            },
        }

    def _flow_steps(self, spec: TaggerSpec) -> list[str]:
        """Cutflow step names of a tagger's object selection, in order."""
        c, kind = self.cuts, spec.kind
        steps = [f"{kind}s", f"{kind}s pt>{c.pt_min:g}", f"{kind}s |eta|<{c.abs_eta_max:g}"]
        if kind == "jet" and c.require_in_frame:
            steps.append("jets window inside eta acceptance")
        return steps

    def _select(
        self, spec: TaggerSpec, chunk: ak.Array, layout: Layout
    ) -> tuple[JetSelection, dict[str, int]]:
        k = OBJECT_BRANCHES[layout]
        prefix = "eg_" if spec.kind == "eg" else ""
        pt, eta = chunk[k[prefix + "pt"]], chunk[k[prefix + "eta"]]
        c = self.cuts
        counts = [int(ak.sum(ak.num(pt, axis=1)))]
        mask = pt > c.pt_min
        counts.append(int(ak.sum(mask)))
        mask = mask & (abs(eta) < c.abs_eta_max)
        counts.append(int(ak.sum(mask)))
        if spec.kind == "jet" and c.require_in_frame:
            mask = mask & (chunk[k["in_frame"]] != 0)
            counts.append(int(ak.sum(mask)))
        return JetSelection.from_mask(mask), dict(zip(self._flow_steps(spec), counts, strict=True))

    def _run_tagger(
        self,
        spec: TaggerSpec,
        chunk: ak.Array,
        layout: Layout,
        dataset: str,
        device: str,
        out: dict[str, Any],
    ) -> None:
        sel, flow = self._select(spec, chunk, layout)
        out["cutflow"][dataset].update({f"{spec.name}: {k}": v for k, v in flow.items()})
        c = spec.contract
        per_object = 4 * len(c.channels) * c.frame_size[0] * c.frame_size[1]
        limit = max(1, int(self.frame_memory_mb * 2**20) // per_object)
        for part, part_sel in object_batches(chunk, sel, limit):
            self._tag_batch(spec, part, part_sel, layout, dataset, device, out)

    def _tag_batch(
        self,
        spec: TaggerSpec,
        chunk: ak.Array,
        sel: JetSelection,
        layout: Layout,
        dataset: str,
        device: str,
        out: dict[str, Any],
    ) -> None:
        metrics = out["metrics"]
        t0 = time.perf_counter()
        c = spec.contract
        kw: dict[str, Any] = {
            "layout": layout,
            "channels": list(c.channels),
            "norm": _norm(c),
            "backend": "torch" if device != "cpu" else "numpy",
            "device": device,
        }
        if spec.kind == "eg":
            frames, rec = build_eg_frames(chunk, objects=sel, **kw)
        else:
            frames, rec = build_jet_frames(chunk, jets=sel, **kw)
        t1 = time.perf_counter()
        metrics["time_frames"] += t1 - t0
        scores = self._infer(spec, frames, device)
        metrics["time_inference"] += time.perf_counter() - t1
        metrics["objects"] += len(rec)
        if len(rec) == 0:
            return
        fill_scores(
            out["hists"],
            dataset=dataset,
            tagger=spec.name,
            labels=rec.label,
            scores=scores,
            pt=rec.pt,
            eta=rec.eta,
        )
        if self.mean_images:
            host = frames if isinstance(frames, np.ndarray) else frames.float().cpu().numpy()
            mi = out["mean_images"].setdefault(spec.name, MeanImages(tuple(c.channels)))
            mi.add(host, rec.label)

    def _infer(self, spec: TaggerSpec, frames: Any, device: str) -> npt.NDArray[np.float32]:
        """Positive-class probability per object (binary) or the regression output."""
        if len(frames) == 0:
            return np.zeros(0, np.float32)
        if self.triton_url:
            from .inference.triton import TritonBackend

            host = frames if isinstance(frames, np.ndarray) else frames.float().cpu().numpy()
            backend = TritonBackend(
                self.triton_url, spec.name, spec.contract, batch_size=self.batch_size
            )
            logits = backend.infer({spec.contract.input_names[0]: host})
            return scores_from_logits(logits, spec)
        sess = get_session(spec.path, device, 1 if device != "cpu" else None, self.fp16)
        if device != "cpu":
            logits = run_cuda(sess, frames, batch_size=self.batch_size).cpu().numpy()
        else:
            name = sess.get_inputs()[0].name
            parts = [
                run_cpu(sess, {name: np.ascontiguousarray(frames[i : i + self.batch_size])})
                for i in range(0, len(frames), self.batch_size)
            ]
            logits = np.concatenate(parts)
        return scores_from_logits(logits, spec)

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def scores_from_logits(
    logits: npt.NDArray[np.float32], spec: TaggerSpec
) -> npt.NDArray[np.float32]:
    """Model outputs -> scores: sigmoid (one logit), positive-class softmax, or the regression."""
    if spec.contract.task != "classification":
        return logits[:, 0]
    if logits.shape[1] == 1:
        return (1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))).astype(np.float32)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[:, -1].astype(np.float32)


def _norm(c: Any) -> Any:
    if not c.normalisation:
        return None
    from .frames.normalisation import Normalisation

    return Normalisation.from_dict(c.normalisation)


def object_batches(
    chunk: ak.Array, sel: JetSelection, limit: int
) -> Iterator[tuple[ak.Array, JetSelection]]:
    """The selection in pieces of at most ``limit`` objects, each with the slice of the
    chunk holding its events (awkward slices are views: no hit is copied). An empty
    selection still yields once, so the builders check the chunk's branches. The
    selection must be in event order (as :meth:`JetSelection.from_mask` makes it)."""
    if len(sel) == 0:
        yield chunk, sel
        return
    if np.any(np.diff(sel.event) < 0):
        msg = "object_batches needs the selection in event order"
        raise E2EError(msg)
    for a in range(0, len(sel), limit):
        ev, jet = sel.event[a : a + limit], sel.jet[a : a + limit]
        first, last = int(ev[0]), int(ev[-1]) + 1
        yield chunk[first:last], JetSelection(ev - first, jet)


def _materialize(events: Any, branches: list[str]) -> ak.Array:
    """Read exactly the branches the taggers need, once, as one flat record array."""
    have = set(events.fields)
    missing = [b for b in branches if b not in have]
    if missing:
        from .exceptions import MissingBranchError

        msg = (
            f"{events.metadata.get('filename', 'chunk')}: missing branch(es) {missing} "
            f"needed by the taggers"
        )
        raise MissingBranchError(msg)
    cols = {
        b: ak.materialize(events[b]) if hasattr(ak, "materialize") else events[b] for b in branches
    }
    arr = ak.zip(cols, depth_limit=1)
    if len(arr) != len(events):  # pragma: no cover
        msg = "internal: materialised chunk changed length"
        raise EmptyChunkError(msg)
    return arr


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"pid{os.getpid()}"
