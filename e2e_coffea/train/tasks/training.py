"""Train one tagger for a task, end to end: inputs -> index -> weights -> streams -> fit
-> test AUC -> ONNX with its contract. What ``e2e-coffea train`` runs.

Inputs are a fileset of ROOT files (frames or point clouds built on the fly, through a
branch profile if the ntuples need one) or frames files (our npz, ML4SCI parquet/HDF5).
Nothing is held whole in memory: see :mod:`e2e_coffea.train.data.streaming`. With
``nproc > 1`` (or under torchrun) the run is data-parallel and rank 0 writes the outputs.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ...exceptions import BadInputError
from ...frames.normalisation import load_norm
from ...io.jsonfiles import json_safe
from ...io.profiles import load_profile
from ..data.conditions import training_conditions
from ..data.frame_files import frames_source
from ..data.index import SampleIndex, build_index
from ..data.sources import ObjectSource, RootTaskSource
from ..data.streaming import ObjectStream
from ..data.weights import fit_reweighting
from ..fitting.distributed import broadcast_object, init_from_env, rank_info, spawn
from ..fitting.evaluate import predict, test_metrics
from ..fitting.loop import LR_SCHEDULES, fit
from ..fitting.precision import resolve_precision
from .definitions import Task, get_task
from .pairing import Pairing, pair_model_and_task
from .trained_export import export_trained

__all__ = ["TrainConfig", "run_training", "train_task"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; the CLI options map one to one onto it."""

    task: str
    model: str
    out: Path = Path("models")
    fileset: Path | None = None
    frames: tuple[Path, ...] = ()
    labels: str | None = None
    norm: str = "none"
    branches: str | None = None
    epochs: int = 5
    batch_size: int = 32
    eval_batch_size: int = 256
    lr: float = 1e-3
    device: str = "cpu"
    precision: str | None = None
    seed: int = 0
    max_objects: int | None = None
    patience: int | None = 3
    resume: bool = False
    name: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    reweight: str = "none"
    loader_workers: int = 0
    shuffle_buffer: int = 1024
    chunksize: int = 200
    max_points: int | None = None
    order: str | None = None
    nproc: int = 1
    progress: bool = True
    scalars: tuple[str, ...] = ()
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        """Every numeric option checked before anything is read or written, one line each."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "chunksize": self.chunksize,
                    "eval_batch_size": self.eval_batch_size, "shuffle_buffer": self.shuffle_buffer,
                    "nproc": self.nproc}  # fmt: skip
        optional = {
            "max_objects": self.max_objects,
            "patience": self.patience,
            "max_points": self.max_points,
        }
        for name, value in {
            **positive,
            **{k: v for k, v in optional.items() if v is not None},
        }.items():
            if value < 1:
                msg = f"--{name.replace('_', '-')} must be a positive integer, got {value!r}"
                raise BadInputError(msg)
        if self.loader_workers < 0:
            msg = f"--loader-workers must be >= 0, got {self.loader_workers!r}"
            raise BadInputError(msg)
        if not (math.isfinite(self.lr) and self.lr > 0):
            msg = f"--lr must be a finite number > 0, got {self.lr!r}"
            raise BadInputError(msg)
        seed: object = self.seed  # as given: a float from a Python caller too
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            msg = f"--seed must be an integer in 0..2**63-1, got {self.seed!r}"
            raise BadInputError(msg)

    @property
    def tag(self) -> str:
        """The output name: ``--name``, else ``my_{task}_{model}``; never a shipped
        tagger's name by default (``tau_simplenet`` as a ``--tagger`` means the shipped one)."""
        return self.name or f"my_{self.task}_{self.model}"


def train_task(
    task_name: str,
    model_name: str,
    fileset: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = "models",
    **options: Any,
) -> dict[str, Any]:
    """Train one tagger and export it; returns the contract's metrics and provenance.

    ``options`` are the fields of :class:`TrainConfig` (``epochs``, ``batch_size``,
    ``frames``, ``reweight``, ``loader_workers``, ``nproc`` ...)."""
    for key in ("frames", "scalars"):
        if key in options:
            options[key] = tuple(options[key] or ())
    options["frames"] = tuple(Path(p) for p in options.get("frames", ()))
    cfg = TrainConfig(
        task_name, model_name, Path(out), Path(fileset) if fileset is not None else None, **options
    )
    return run_training(cfg)


def run_training(cfg: TrainConfig) -> dict[str, Any]:
    """Check the request, then train: in this process, in ``cfg.nproc`` local processes,
    or as one rank of a torchrun group."""
    task = get_task(cfg.task)
    pair_model_and_task(cfg.model, task, model_kwargs=cfg.model_kwargs, frames_files=bool(cfg.frames),
                        max_points=cfg.max_points, order=cfg.order, scalars=cfg.scalars)  # fmt: skip
    _check_config(cfg)
    device_type = torch.device(cfg.device).type
    if cfg.nproc > 1 and not torch.distributed.is_initialized():
        return spawn(_ranked, cfg.nproc, device_type, cfg=replace(cfg, nproc=1))  # type: ignore[no-any-return]
    started = init_from_env(device_type)
    try:
        return _ranked(cfg)
    finally:
        if started:
            torch.distributed.destroy_process_group()


def _check_config(cfg: TrainConfig) -> None:
    if (cfg.fileset is None) == (not cfg.frames):
        msg = "give either a fileset of ROOT files or frames files (--frames), not both or neither"
        raise BadInputError(msg)
    for name in ("epochs", "batch_size", "eval_batch_size", "chunksize", "nproc"):
        if getattr(cfg, name) < 1:
            msg = f"{name} must be >= 1, got {getattr(cfg, name)}"
            raise BadInputError(msg)
    if cfg.loader_workers < 0 or cfg.shuffle_buffer < 0:
        msg = f"loader_workers and shuffle_buffer must be >= 0, got {cfg.loader_workers}, {cfg.shuffle_buffer}"
        raise BadInputError(msg)
    if cfg.fileset is not None and (cfg.labels is not None or cfg.norm != "none"):
        msg = "--labels and --norm describe frames files; they do not apply to a fileset"
        raise BadInputError(msg)
    if cfg.frames and cfg.branches is not None:
        msg = "--branches names ROOT branches; frames files have none"
        raise BadInputError(msg)
    if cfg.lr_schedule not in LR_SCHEDULES:
        msg = f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {cfg.lr_schedule!r}"
        raise BadInputError(msg)
    if len(set(cfg.scalars)) != len(cfg.scalars):
        msg = f"scalars {list(cfg.scalars)} name one twice"
        raise BadInputError(msg)
    resolve_precision(torch.device(cfg.device), cfg.precision)
    load_norm(cfg.norm)


def build_sources(
    cfg: TrainConfig, task: Task, pair: Pairing
) -> tuple[list[ObjectSource], dict[str, Any]]:
    """The sources of the run, and what they are (for the provenance)."""
    if cfg.frames and task.labels != "label":
        msg = (
            f"task {task.name!r} labels its objects by {task.labels!r}, which frames files do not "
            "hold (their labels are the objects' label branch); give ROOT files (--fileset)"
        )
        raise BadInputError(msg)
    if cfg.frames:
        srcs: list[ObjectSource] = [
            frames_source(p, task, channels=pair.channels, labels=cfg.labels) for p in cfg.frames
        ]
        return srcs, {"frames": [str(p) for p in cfg.frames], "labels": srcs[0].labels}  # type: ignore[attr-defined]
    from ...io import load_fileset

    fs = load_fileset(cfg.fileset)  # type: ignore[arg-type]
    sources: list[ObjectSource] = []
    samples: dict[str, Any] = {}
    found: set[str] = set()
    for ds, entry in fs.items():
        meta = entry["metadata"]
        process = str(meta.get("process", ds))
        classes = task.classes_of_process(process)
        if not classes:
            continue
        found.add(process)
        prof = cfg.branches or meta.get("branches")
        profile = load_profile(prof) if prof else None
        for path, tree in entry["files"].items():
            sources += [RootTaskSource(path, tree, cls, task, pair.inputs, profile=profile)
                        for cls in classes]  # fmt: skip
        keys = ("process", "seed", "events", "pileup", "xsec_pb", "nevents", "pthat_bin")
        samples[ds] = {k: meta.get(k) for k in keys if k in meta}
    # A class needs one of its processes, not all: the tau fakes are QCD and/or W+jets.
    missing = [s.process for s in task.samples if not set(s.process_names) & found]
    if missing:
        msg = (
            f"fileset {cfg.fileset} has no dataset of process(es) {missing} for task "
            f"{task.name!r} (metadata 'process' or the dataset name); it needs {list(task.processes)}"
        )
        raise BadInputError(msg)
    return sources, {"fileset": str(cfg.fileset), "samples": samples}


def _check_index(index: SampleIndex, task: Task, cfg: TrainConfig) -> None:
    """Training needs both classes; validation at least some objects (with one class
    only, its AUC is null and says so)."""
    c = index.counts()
    short = [f"train {k}" for k, n in c["train"].items() if n == 0]
    if sum(c["val"].values()) == 0:
        short.append("validation")
    if short:
        r = task.range
        msg = (
            f"task {task.name!r}: no {', '.join(short)} objects ({c}); {task.describe()}; "
            f"range {r.pt_min:g} < pT < {r.pt_max:g} GeV, |eta| < {r.abs_eta_max:g}; "
            "give more events or files"
        )
        raise BadInputError(msg)


def _ranked(cfg: TrainConfig) -> dict[str, Any]:
    """One process's part of a run (the whole run without a process group)."""
    started = time.perf_counter()
    rank = rank_info()
    task = get_task(cfg.task)
    pair = pair_model_and_task(cfg.model, task, model_kwargs=cfg.model_kwargs, frames_files=bool(cfg.frames),
                               max_points=cfg.max_points, order=cfg.order, scalars=cfg.scalars,
                               dry_run=False)  # fmt: skip
    if cfg.batch_size % rank.world:
        msg = f"batch_size {cfg.batch_size} (the global batch) must divide by the {rank.world} processes"
        raise BadInputError(msg)
    device = cfg.device
    if rank.world > 1 and torch.device(device).type == "cuda":
        device = f"cuda:{rank.local}"
    elif rank.world > 1:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", rank.world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    index: SampleIndex | None = None
    described: dict[str, Any] = {}
    if rank.main:
        sources, described = build_sources(cfg, task, pair)
        index = build_index(sources, step=cfg.chunksize, max_objects=cfg.max_objects,
                            workers=cfg.loader_workers, class_names=tuple(s.name for s in task.samples))  # fmt: skip
        _check_index(index, task, cfg)
    index, described = broadcast_object((index, described))
    assert index is not None
    weights = fit_reweighting(cfg.reweight, index.pt, index.abs_eta, value=index.value)
    norm = scalar_norm(index, cfg.scalars)
    common: dict[str, Any] = {"reweighting": weights, "target": task.target,
                              "scalar_norm": None if norm is None else norm[1]}  # fmt: skip
    pin = torch.device(device).type == "cuda"
    loading: dict[str, Any] = {"workers": cfg.loader_workers, "pin_memory": pin}
    train = ObjectStream(index, 0, cfg.batch_size // rank.world, shuffle_buffer=cfg.shuffle_buffer,
                         seed=cfg.seed, rank=rank.rank, world=rank.world, **common, **loading)  # fmt: skip
    val = ObjectStream(index, 1, cfg.eval_batch_size, **common, **loading)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        from ...models import create_model

        model = create_model(cfg.model, len(pair.channels), task.n_outputs, **pair.model_kwargs)
    out = Path(cfg.out)
    monitor = "val_auc" if task.target is None else "val_loss"
    result = fit(
        model, train, val,
        epochs=cfg.epochs, lr=cfg.lr, device=device, precision=cfg.precision,
        patience=cfg.patience, monitor=monitor, checkpoint_dir=out / f"{cfg.tag}.ckpt",
        resume=cfg.resume, seed=cfg.seed, metrics_path=out / f"{cfg.tag}.metrics.json",
        progress=cfg.progress, task=task.task_type, lr_schedule=cfg.lr_schedule,
    )  # fmt: skip
    if not rank.main:
        return {}
    fit_s = time.perf_counter() - started
    test = ObjectStream(index, 2, cfg.eval_batch_size, **common, workers=cfg.loader_workers)
    o = predict(model, test, torch.device(device))
    tests = test_metrics(o, task)
    conditions = training_conditions(ObjectStream(index, 0, cfg.eval_batch_size, **common),
                                     pair.channels, described, images=pair.inputs.points is None)  # fmt: skip
    timing = {"wall_s_to_test": fit_s, "wall_s": time.perf_counter() - started}
    path = export_trained(model.cpu().eval(), cfg, task, pair, index, weights, result, tests,
                         described, scalar_norm=None if norm is None else norm[0], timing=timing,
                         conditions=conditions)  # fmt: skip
    return dict(json_safe({
        "path": str(path), result.monitor: result.best_metric, **tests,
        "objects": index.counts(), "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early, "stop_reason": result.stop_reason,
        "precision": result.extra.get("precision"), "world_size": rank.world, **timing,
    }))  # fmt: skip


def scalar_norm(
    index: SampleIndex, names: tuple[str, ...]
) -> tuple[dict[str, list[float]], tuple[Any, Any]] | None:
    """The scalars' standardisation from the training objects: the contract's
    ``{name: [mean, std]}`` and the (mean, std) arrays the stream applies."""
    if not names:
        return None
    if index.scalar_mean is None or index.scalar_std is None:
        msg = f"scalar inputs {list(names)} requested but the index holds no scalar statistics"
        raise BadInputError(msg)
    mean, std = index.scalar_mean, index.scalar_std
    table = {n: [float(m), float(s)] for n, m, s in zip(names, mean, std, strict=True)}
    return table, (mean, std)
