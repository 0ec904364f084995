"""``e2e-coffea frames``: ROOT files -> frames on disk, replacing E2E's per-event converters."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
from tqdm.auto import tqdm

from ..layouts import Layout, ObjectKind
from .options import (
    branches_option,
    chunksize_option,
    device_option,
    norm_option,
    precision_option,
    torch_device,
)

__all__ = ["DTYPES", "command"]

DTYPES = {"fp32": "float32", "fp16": "float16"}
"""``--precision`` of the frames written -> the array dtype."""


@click.command("frames")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--layout", type=click.Choice(["e2e", "sparse"]), required=True)
@click.option(
    "--preset", default=None, help="Channel preset: qg, top8, tau13 (jets) or eg (e/gamma)."
)
@click.option(
    "--channels", default=None, help="Comma-separated channel names, in the order wanted."
)
@click.option(
    "--kind",
    type=click.Choice(["jet", "fatjet", "eg"]),
    default=None,
    help="Jet windows (125x125), the same on R = 0.8 FatJets, or e/gamma crops (32x32); default from the preset.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="OUT.npz, OUT.parquet or OUT.h5"
)
@norm_option("none", "Applied to the frames written.")
@click.option(
    "--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True
)
@device_option("cpu", "With --backend torch.")
@precision_option(list(DTYPES), "fp32", "Of the frames written.")
@chunksize_option(200)
@branches_option
def command(
    inputs: tuple[str, ...],
    layout: Layout,
    preset: str | None,
    channels: str | None,
    kind: ObjectKind | None,
    out: Path,
    norm: str,
    backend: Literal["numpy", "torch"],
    device: str,
    precision: str,
    chunksize: int,
    branches: str | None,
) -> None:
    """Build frames of every jet (or e/gamma candidate) in INPUT.root files and save them.

    npz holds `frames` (n, C, H, W), per object `event`, `index`, `seed_row`, `seed_col`, `pt`,
    `eta`, `label`, `in_frame`, and `channels`, the label names (`label_ids`, `label_names`)
    and the `normalisation` (JSON); parquet/h5 use the ML4SCI columns.
    """
    from ..frames.convert import convert_files

    chans: list[str] | str
    if preset is not None and channels is None:
        chans = preset
    elif channels is not None and preset is None:
        chans = [c.strip() for c in channels.split(",") if c.strip()]
    else:
        msg = "give exactly one of --preset and --channels"
        raise click.UsageError(msg)
    with tqdm(unit="ev", desc="frames", disable=None) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        report = convert_files(
            inputs, out, layout=layout, channels=chans, kind=kind or ("eg" if preset == "eg" else "jet"),
            norm=None if norm == "none" else norm, backend=backend, device=torch_device(device),
            dtype=DTYPES[precision], step=chunksize, profile=branches, progress=advance,
        )  # fmt: skip
    click.echo(
        f"wrote {report.n_objects} {report.kind} frames {report.shape} from {report.n_events} "
        f"events to {report.out}"
    )
    if report.outside:
        click.echo(
            f"note: {report.outside} of them reach outside the eta acceptance (zero-padded, "
            f"in_frame=False), kept and flagged, not dropped"
        )
