"""``e2e-coffea triton-repo``: a Triton model repository for shipped or user taggers."""

from __future__ import annotations

from pathlib import Path

import click

from .options import INFERENCE_PRECISION, precision_option

__all__ = ["command"]


@click.command("triton-repo")
@click.argument("taggers", nargs=-1, required=True, metavar="TAGGER...")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="New (or empty) folder for the repository.",
)
@click.option(
    "--max-batch-size",
    type=int,
    default=64,
    show_default=True,
    help="Objects per request the server accepts (and batches up to).",
)
@click.option(
    "--wire",
    type=click.Choice(["dense", "sparse"]),
    default="dense",
    show_default=True,
    help="sparse: Python-backend models that take each object's hits and build the frames "
    "(for run --triton-wire sparse; the server's Python needs e2e-coffea and onnxruntime).",
)
@precision_option(detail=INFERENCE_PRECISION)
def command(
    taggers: tuple[str, ...], out: Path, max_batch_size: int, wire: str, precision: str
) -> None:
    """Write OUT/<tagger>/config.pbtxt and OUT/<tagger>/1/model.onnx for each TAGGER (a
    shipped name or an .onnx path), ready for `tritonserver --model-repository OUT`;
    then run with `e2e-coffea run --triton HOST:PORT`. With --precision the model file is
    the tagger's gated variant (fp16 converted, int8 quantised)."""
    from ..inference.triton_repo import write_model_repository
    from ..inference.triton_repo_sparse import write_sparse_repository
    from ..runner.outputs import check_out_dir

    check_out_dir(out)  # before any model is read, as run does
    if wire == "sparse":
        if precision != "fp32":
            msg = "--wire sparse serves the fp32 models (the server builds the frames); drop --precision"
            raise click.UsageError(msg)
        folders = write_sparse_repository(list(taggers), out)
    else:
        folders = write_model_repository(
            list(taggers), out, max_batch_size=max_batch_size, precision=precision
        )
    for folder in folders:
        click.echo(f"{folder}")
