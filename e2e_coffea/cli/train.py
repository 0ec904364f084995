"""``e2e-coffea train``: frames streamed from ROOT -> a trained model -> ONNX with its contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ["command", "train_task"]


def train_task(
    task_name: str,
    model_name: str,
    fileset: str | Path,
    out: str | Path,
    *,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    device: str = "cpu",
    seed: int = 0,
    max_objects: int | None = 2000,
    patience: int | None = 3,
    resume: bool = False,
    name: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one tagger and export it; returns the contract's metrics and provenance."""
    import numpy as np

    from ..export import E2E_JET_CROP, EG_CROP, Contract, export_onnx
    from ..frames import load_norm, resolve_channels
    from ..io import load_fileset
    from ..models import create_model
    from ..train import ArrayBatches, fit, seed_everything
    from ..train.loop import _finite_or_none
    from ..train.tasks import get_task, load_task_frames

    task = get_task(task_name)
    fs = load_fileset(fileset)
    files = [
        (p, t, str(e["metadata"].get("process", ds)))
        for ds, e in fs.items()
        for p, t in e["files"].items()
    ]
    sample = load_task_frames(task, files, max_objects=max_objects)
    xs = {i: sample.part(i) for i in (0, 1, 2)}
    if len(xs[0][0]) == 0 or len(xs[1][0]) == 0:
        from ..exceptions import BadInputError

        msg = f"too few objects to train and validate ({sample.counts}); generate more events"
        raise BadInputError(msg)
    seed_everything(seed)
    channels = tuple(s.name for s in resolve_channels(task.preset, frame=task.kind))  # type: ignore[arg-type]
    model = create_model(model_name, len(channels), 1, **(model_kwargs or {}))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tag = name or f"{task.name}_{model_name}"
    train = ArrayBatches(*xs[0], batch_size=batch_size, shuffle=True, seed=seed)
    val = ArrayBatches(*xs[1], batch_size=256)
    result = fit(
        model,
        train,
        val,
        epochs=epochs,
        lr=lr,
        device=device,
        patience=patience,
        monitor="val_auc",
        checkpoint_dir=out / f"{tag}.ckpt",
        resume=resume,
        seed=seed,
        metrics_path=out / f"{tag}.metrics.json",
        progress=progress,
    )
    model = model.cpu().eval()
    test_auc = _auc(model, *xs[2]) if len(np.unique(xs[2][1])) == 2 else None
    size = 32 if task.kind == "eg" else 125
    meta_fs = {ds: e["metadata"] for ds, e in fs.items()}
    contract = Contract(
        task="classification",
        model_name=model_name,
        channels=channels,
        frame_size=(size, size),
        class_names=task.classes,
        channel_preset=task.preset,
        crop=EG_CROP if task.kind == "eg" else E2E_JET_CROP,
        normalisation=load_norm(task.preset).to_dict(),
        model_kwargs=getattr(model, "model_kwargs", {}) or {},
        provenance={
            "tagger_task": task.name,
            "signal_process": task.signal_process,
            "background_process": task.background_process,
            "samples": {
                ds: {k: m.get(k) for k in ("process", "seed", "events", "pileup")}
                for ds, m in meta_fs.items()
            },
            "objects": sample.counts,
            "split_counts": {
                n: int((sample.split == i).sum()) for i, n in enumerate(("train", "val", "test"))
            },
            "training": {
                "epochs_run": result.epochs_run,
                "batch_size": batch_size,
                "lr": lr,
                "seed": seed,
                "best_epoch": result.best_epoch,
            },
        },
        metrics=_finite_or_none(
            {
                "val_auc": result.best_metric,
                "test_auc": test_auc,
                "history": [
                    {k: h.get(k) for k in ("epoch", "train_loss", "val_loss", "val_auc")}
                    for h in result.history
                ],
            }
        ),
    )
    onnx_path = out / f"{tag}.onnx"
    export_onnx(model, onnx_path, contract, (2, len(channels), size, size))
    return {
        "path": str(onnx_path),
        "val_auc": result.best_metric,
        "test_auc": test_auc,
        "objects": sample.counts,
        "epochs_run": result.epochs_run,
    }


def _auc(model: Any, frames: Any, labels: Any) -> float:
    import torch

    from ..train import roc_auc

    with torch.no_grad():
        scores = torch.cat(
            [model(torch.as_tensor(frames[i : i + 256])) for i in range(0, len(frames), 256)]
        )
    return float(roc_auc(labels, scores.reshape(-1).numpy()))


@click.command("train")
@click.option("--task", required=True, help="tau, electron, eg, qg or top.")
@click.option(
    "--model", "model_name", required=True, help="A registered model, e.g. resnet15, simplenet."
)
@click.option(
    "--fileset",
    type=click.Path(path_type=Path),
    required=True,
    help="Fileset with the task's signal and background processes.",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (AMP on CUDA).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-objects", type=int, default=2000, show_default=True, help="Per class.")
@click.option(
    "--patience", type=int, default=3, show_default=True, help="Early stopping on val AUC."
)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --out.")
@click.option("--name", default=None, help="Output name; default {task}_{model}.")
def command(
    task: str,
    model_name: str,
    fileset: Path,
    out: Path,
    epochs: int,
    batch_size: int,
    lr: float,
    device: str,
    seed: int,
    max_objects: int,
    patience: int,
    resume: bool,
    name: str | None,
) -> None:
    """Train a tagger on frames streamed from the fileset's ROOT files and export it to ONNX.

    The split is deterministic per event (hash of run/lumi/event): 80% train, 10%
    validation, 10% test. Metrics per epoch go to OUT/NAME.metrics.json.
    """
    from ..models import list_models
    from ..train.tasks import get_task

    get_task(task)
    if model_name not in list_models():
        msg = f"unknown model {model_name!r}; choose from {', '.join(list_models())}"
        raise click.BadParameter(msg, param_hint="--model")
    info = train_task(
        task,
        model_name,
        fileset,
        out,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
        seed=seed,
        max_objects=max_objects,
        patience=patience,
        resume=resume,
        name=name,
    )
    click.echo(json.dumps(info, indent=2, default=str))
