"""``e2e-coffea train``: ROOT files or frames files -> a trained model -> ONNX with its contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .options import (
    branches_option,
    chunksize_option,
    device_option,
    norm_option,
    precision_option,
    scalar_option,
    torch_device,
)

__all__ = ["command", "report_lines"]


def _model_options(values: tuple[str, ...]) -> dict[str, Any]:
    from ..exceptions import MalformedInputError
    from ..io.jsonfiles import loads_json

    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            msg = f"expected KEY=VALUE, got {item!r}"
            raise click.BadParameter(msg, param_hint="--model-option")
        try:
            out[key] = loads_json(raw, source=f"--model-option {key}")
        except MalformedInputError as err:
            if not isinstance(err.__cause__, json.JSONDecodeError):
                raise  # a duplicate key or too deep: refused, not taken for a string
            out[key] = raw  # not JSON at all: the value is the string as written
    return out


@click.command("train")
@click.option(
    "--task",
    required=True,
    help="tau, electron, eg, qg, top (binary), tau3 (3 classes), jet_mass or tau_pt (regression).",
)
@click.option(
    "--model",
    "model_name",
    required=True,
    help="A registered model: resnet15, simplenet, vit, particle_gnn ...",
)
@click.option(
    "--fileset",
    type=click.Path(path_type=Path),
    default=None,
    help="Fileset with the task's signal and background processes (ROOT).",
)
@click.option(
    "--frames",
    "frames",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Frames files instead of a fileset: .npz (e2e-coffea frames), ML4SCI .parquet/.h5; repeatable.",
)
@click.option(
    "--labels",
    type=click.Choice(["truth", "binary"]),
    default=None,
    help="What the label column of ML4SCI files holds: truth ids (e2e-coffea frames) or 0/1 (public ML4SCI).",
)
@norm_option(
    "none",
    "With --frames: the normalisation the frames files were written with (recorded in the "
    "contract, not applied).",
)
@branches_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.option(
    "--name",
    default=None,
    help="Output name; default my_{task}_{model} (never a shipped tagger's name).",
)
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option(
    "--batch-size",
    type=int,
    default=32,
    show_default=True,
    help="Global batch (split over --nproc processes).",
)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default="constant",
    show_default=True,
    help="Learning rate per epoch: constant, or cosine decay to 0 over --epochs.",
)
@scalar_option
@click.option(
    "--patience", type=int, default=3, show_default=True, help="Early stopping on val AUC."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --out.")
@click.option(
    "--max-objects",
    type=int,
    default=None,
    help="Cap per class (all splits), taken from every file in turn; default: every object.",
)
@click.option(
    "--reweight",
    type=click.Choice(["none", "pt", "pt-eta", "flat", "flat-target"]),
    default="none",
    show_default=True,
    help="Per-object weights: signal to the background's pT (and |eta|), each class flat in pT, or (regressions) flat in the true value.",
)
@device_option("cpu", "Under --nproc on CUDA, each process takes its own GPU.")
@precision_option(
    ["auto", "fp32", "bf16", "fp16"],
    "auto",
    "Of training: auto is mixed precision on CUDA (bf16, else fp16), fp32 on the CPU.",
)
@click.option(
    "--loader-workers",
    type=int,
    default=0,
    show_default=True,
    help="DataLoader worker processes per training process.",
)
@click.option(
    "--shuffle-buffer",
    type=int,
    default=1024,
    show_default=True,
    help="Objects held for shuffling (memory: this times one frame).",
)
@chunksize_option(200)
@click.option(
    "--max-points", type=int, default=None, help="Point models: points per jet (default 128)."
)
@click.option(
    "--order",
    type=click.Choice(["energy", "dr"]),
    default=None,
    help="Point models: which points survive truncation (default energy).",
)
@click.option(
    "--nproc",
    type=int,
    default=1,
    show_default=True,
    help="Data-parallel processes on this machine (gloo on CPU, nccl on CUDA).",
)
@click.option(
    "--model-option",
    "model_option",
    multiple=True,
    metavar="KEY=VALUE",
    help='Model constructor argument (JSON value), e.g. size="tiny"; repeatable.',
)
def command(
    model_option: tuple[str, ...], frames: tuple[Path, ...], precision: str, device: str, **kw: Any
) -> None:
    """Train a tagger on objects streamed from ROOT files (or frames files) and export it to ONNX.

    The split is deterministic per event (hash of run/lumi/event): 80% train, 10%
    validation, 10% test. Metrics per epoch go to OUT/NAME.metrics.json; the checkpoint
    to OUT/NAME.ckpt/. Under torchrun, each process trains one rank.
    """
    from ..runner.outputs import check_out_dir
    from ..train.tasks.training import train_task

    check_out_dir(kw["out"])  # before any data is read, as run does
    info = train_task(
        kw.pop("task"), kw.pop("model_name"), kw.pop("fileset"), kw.pop("out"),
        frames=frames, precision=None if precision == "auto" else precision,
        device=torch_device(device), model_kwargs=_model_options(model_option), **kw,
    )  # fmt: skip
    if info:
        click.echo(json.dumps(info, indent=2, default=str))
        for line in report_lines(info):
            click.echo(line)


def report_lines(info: dict[str, Any]) -> list[str]:
    """What a physicist reads first: the test AUC with its error, on how many objects per
    class, weighted or not; why training stopped; where the model is."""
    lines = []
    if info.get("test_auc") is not None:
        n, n_eff = info.get("test_n", {}), info.get("test_n_eff", {})
        sizes = ", ".join(f"{c} {k}" for c, k in n.items())
        err = info.get("test_auc_err")
        err_text = "n/a" if err is None or err != err else f"{err:.4f}"
        if info.get("test_auc_weighted"):
            eff = ", ".join(f"{c} {k:.1f}" for c, k in n_eff.items())
            how = f"weighted; effective objects {eff}; test objects {sizes}"
        else:
            how = f"unweighted; test objects {sizes}"
        lines.append(f"test AUC {info['test_auc']:.4f} +- {err_text} ({how})")
        if info.get("test_auc_weighted") and info.get("test_auc_unweighted") is not None:
            lines.append(f"test AUC unweighted {info['test_auc_unweighted']:.4f}")
    lines.append(info.get("stop_reason") or f"ran all {info.get('epochs_run')} epoch(s)")
    lines.append(f"wrote {info['path']}")
    return lines
