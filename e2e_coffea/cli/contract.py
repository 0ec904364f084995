"""``e2e-coffea contract``: show a model's contract, or attach one to a foreign ONNX file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from .options import (
    INFERENCE_PRECISION,
    norm_option,
    precision_option,
    scalar_option,
)

__all__ = ["command"]


@click.group("contract")
def command() -> None:
    """Inspect or attach the contract an ONNX tagger carries (channels, frames, classes)."""


@command.command("show")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(model: Path, as_json: bool) -> None:
    """Print MODEL.onnx's contract and graph inputs/outputs, or say exactly what is missing."""
    from ..exceptions import BadInputError
    from ..export.attach import describe_model

    if not model.is_file():
        msg = f"{model}: no such model file"
        raise BadInputError(msg)
    info = describe_model(model)
    contract = info["contract"]
    if as_json:
        out = {**info, "contract": asdict(contract) if contract is not None else None}
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(f"{model}")
        for role in ("inputs", "outputs"):
            for t in info[role]:
                shape = ", ".join(str(d) for d in t["shape"])
                click.echo(f"  {role[:-1]:<6} {t['name']}: ({shape}) {t['dtype']}")
        if contract is None:
            click.echo(f"no e2e-coffea contract: {info['missing']}")
            click.echo(
                "attach one with: e2e-coffea contract attach MODEL.onnx (--preset NAME | --channels a,b) "
                "--classes NEG,POS --kind {jet,fatjet,eg} --out OUT.onnx"
            )
        else:
            for key, value in asdict(contract).items():
                if value not in (None, {}, (), ""):
                    click.echo(f"  {key}: {json.dumps(value, default=str)}")
    if contract is None:
        raise click.exceptions.Exit(1)  # printed above what is missing


@command.command("attach")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--preset",
    default=None,
    help="Channel preset (qg, top8, tau13, eg): channels and normalisation.",
)
@click.option(
    "--channels", default=None, help="Comma-separated channel names, in the model's input order."
)
@click.option(
    "--classes", required=True, help="Comma-separated class names: NEG,POS for a binary tagger."
)
@click.option("--kind", type=click.Choice(["jet", "fatjet", "eg"]), required=True,
              help="jet: 125x125 windows around HCAL seeds; eg: 32x32 EB crops.")  # fmt: skip
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    default="classification",
    show_default=True,
)
@norm_option(
    "preset",
    "Recorded in the contract; also preset (the channel preset's) or a normalisation JSON file.",
)
@click.option(
    "--frame-size",
    default=None,
    metavar="H,W",
    help="Default: 125,125 for jets, 32,32 for e/gamma.",
)
@click.option("--outputs", type=click.Choice(["logits", "probabilities"]), default="logits", show_default=True,
              help="What the model's first output holds.")  # fmt: skip
@scalar_option
@click.option("--name", default=None, help="Model name in the contract (default: the file name).")
@click.option(
    "--frames",
    "frames_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A frames .npz the model was trained on: the normalisation recorded must be its "
    "frames' own (raw frames from `e2e-coffea frames` need --norm none).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Where to write the copy."
)
def attach(model: Path, preset: str | None, channels: str | None, classes: str, kind: str, task: str,
           norm: str, frame_size: str | None, outputs: str, scalars: tuple[str, ...], name: str | None,
           frames_file: Path | None, out: Path) -> None:  # fmt: skip
    """Write a copy of a foreign MODEL.onnx with an e2e-coffea contract, after checking its
    declared input shape and one zero-batch inference against the channels and classes."""
    from ..exceptions import BadInputError
    from ..export.attach import attach_contract, describe_normalisation
    from ..runner.outputs import check_out_file

    if (preset is None) == (channels is None):
        msg = "give exactly one of --preset and --channels"
        raise click.UsageError(msg)
    if not model.is_file():
        msg = f"{model}: no such model file"
        raise BadInputError(msg)
    if out.resolve() == model.resolve():
        msg = f"--out {out} is the input model; write the copy elsewhere"
        raise click.UsageError(msg)
    check_out_file(out)  # before the model is read and run, as run checks its --out
    size = None
    if frame_size is not None:
        try:
            h, w = (int(v) for v in frame_size.split(","))
        except ValueError:
            msg = f"--frame-size must be H,W (two integers), got {frame_size!r}"
            raise click.UsageError(msg) from None
        size = (h, w)
    chans = (
        preset
        if preset is not None
        else [c.strip() for c in (channels or "").split(",") if c.strip()]
    )
    contract = attach_contract(
        model, out, channels=chans, classes=[c.strip() for c in classes.split(",") if c.strip()],
        kind=kind, task=task, norm=norm,
        frame_size=size, outputs=outputs, model_name=name,
        scalar_inputs=list(scalars),
        frames=frames_file,
    )  # fmt: skip
    click.echo(
        f"wrote {out}: {contract.task} {list(contract.class_names)} on {contract.n_channels} channel(s) "
        f"{contract.frame_size[0]}x{contract.frame_size[1]} ({contract.kind}); use it as --tagger {out}"
    )
    click.echo(f"normalisation recorded: {describe_normalisation(contract)}")
    if frames_file is None:
        click.echo(
            "note: --frames FILE.npz checks this against the frames the model was trained on "
            "(`e2e-coffea frames` writes raw frames unless given --norm)"
        )


@command.command("variants")
@click.argument("tagger")
@precision_option(detail=INFERENCE_PRECISION)
@click.option(
    "--sample",
    type=click.Path(path_type=Path),
    required=True,
    metavar="FILESET_OR_DIR",
    help="Held-out events of the tagger's training task (e2e-coffea generate --seed 2 "
    "--process ...): a fileset JSON or the folder holding fileset.json.",
)
@click.option("--per-class", type=int, default=200, show_default=True,
              help="Objects per class taken from the sample (a quarter calibrates int8).")  # fmt: skip
def variants(tagger: str, precision: str, sample: Path, per_class: int) -> None:
    """Build TAGGER's --precision variant (int8: static quantisation calibrated on the
    sample; fp16: float16 conversion), measure fp32 and variant AUC on the same held-out
    objects and record both in TAGGER's contract (in place). A variant losing more than
    the allowed AUC is recorded with its drop, and its int8 file removed: it never runs."""
    from ..export.precision import MAX_AUC_DROP
    from ..inference.shipped import resolve_tagger
    from ..inference.variants import measure_and_record, task_frames

    if per_class < 2:
        msg = f"--per-class must be >= 2, got {per_class}"
        raise click.UsageError(msg)
    spec = resolve_tagger(tagger)
    frames = task_frames(spec, sample, per_class=per_class)
    record, ok = measure_and_record(spec, precision, frames, str(sample))
    drop = record["auc_fp32"] - record["auc_variant"]
    click.echo(
        f"{spec.name} {precision}: AUC {record['auc_fp32']:.4f} -> {record['auc_variant']:.4f} "
        f"(drop {drop:.4f}) on {record['n_objects']} held-out objects; "
        + ("passes the gate" if ok else f"refused (drop > {MAX_AUC_DROP})")
    )
