"""``e2e-coffea frames``: ROOT files -> frames on disk, replacing E2E's per-event converters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import awkward as ak
import click
import numpy as np
from tqdm.auto import tqdm

from ..exceptions import BadInputError, FileLayoutError
from ..layouts import Layout, ObjectKind

__all__ = ["command"]


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
    type=click.Choice(["jet", "eg"]),
    default=None,
    help="Jet windows (125x125) or e/gamma crops (32x32); default from the preset.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="OUT.npz, OUT.parquet or OUT.h5"
)
@click.option(
    "--norm",
    default="none",
    show_default=True,
    help="Normalisation preset, or none for raw values.",
)
@click.option(
    "--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (torch backend).")
@click.option(
    "--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True
)
@click.option("--step", type=int, default=200, show_default=True, help="Events read per chunk.")
@click.option(
    "--branches",
    "profile",
    default=None,
    metavar="PROFILE",
    help="Branch profile (shipped name or YAML/JSON file) for ntuples that name branches differently.",
)
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
    dtype: str,
    step: int,
    profile: str | None,
) -> None:
    """Build frames of every jet (or e/gamma candidate) in INPUT.root files and save them.

    npz holds `frames` (n, C, H, W), per object `event`, `index`, `seed_row`, `seed_col`, `pt`,
    `eta`, `label`, `in_frame`, and `channels`; parquet/h5 use the ML4SCI columns.
    """
    from ..frames import build_eg_frames, build_jet_frames
    from ..io import open_tree

    chans: list[str] | str
    if preset is not None and channels is None:
        chans = preset
    elif channels is not None and preset is None:
        chans = [c.strip() for c in channels.split(",") if c.strip()]
    else:
        msg = "give exactly one of --preset and --channels"
        raise click.UsageError(msg)
    kind = kind or ("eg" if preset == "eg" else "jet")
    if out.suffix not in (".npz", ".parquet", ".h5", ".hdf5"):
        msg = f"--out must end in .npz, .parquet or .h5, got {out.name!r}"
        raise BadInputError(msg)
    if step < 1:
        msg = f"--step must be positive, got {step}"
        raise BadInputError(msg)
    from ..io.files import check_output_file

    check_output_file(out)
    from ..frames import required_branches, resolve_channels
    from ..frames.objects import object_table
    from ..io.arrays import entries_from
    from ..io.columns import plan_columns, read_columns
    from ..io.profiles import load_profile

    prof = load_profile(profile) if profile else None
    if prof is not None and prof.layout != layout:
        msg = f"--branches {prof.name!r} is a profile of the {prof.layout} layout, not {layout}"
        raise BadInputError(msg)
    table = object_table(layout, kind)
    required = [*required_branches(chans, layout, frame=kind), table["seed_row"], table["seed_col"]]
    build = build_eg_frames if kind == "eg" else build_jet_frames
    try:  # every file checked before work starts; an unreadable one is a bad argument
        trees = [(p, open_tree(p, layout)) for p in inputs]
    except FileLayoutError as err:
        raise BadInputError(str(err)) from None
    plans = [
        plan_columns(t.keys(), required, list(table.values()), prof, where=str(p)) for p, t in trees
    ]
    names = tuple(s.name for s in resolve_channels(chans, frame=kind))
    size = 125 if kind == "jet" else 32
    seed = prof.file_name(table["seed_row"]) if prof else table["seed_row"]
    n_objects = sum(_count_objects(t, seed, str(p)) for p, t in trees)
    total = sum(t.num_entries for _, t in trees)
    norm_arg = None if norm == "none" else norm
    offset = outside = 0
    with (
        _Sink(out, n_objects, (len(names), size, size), dtype) as write,
        tqdm(total=total, unit="ev", desc="frames", disable=None) as bar,
    ):
        for (_p, tree), plan in zip(trees, plans, strict=True):
            entry = 0  # the file's entry of the chunk's first event, for messages
            for raw in _chunks(tree, plan.file_names, step, str(_p)):
                chunk = read_columns(raw, plan)
                with entries_from(entry):
                    frames, rec = build(
                        chunk, layout=layout, channels=chans, backend=backend,
                        device=device, dtype=dtype, norm=norm_arg,
                    )  # fmt: skip
                entry += len(raw)
                host = frames if isinstance(frames, np.ndarray) else frames.cpu().numpy()
                cols = rec.to_dict()
                cols["event"] = cols["event"] + offset
                outside += int((~cols["in_frame"]).sum())
                write(host, cols)
                offset += len(chunk)
                bar.update(len(chunk))
        write.finish(channels=np.array(names))
    click.echo(
        f"wrote {n_objects} {kind} frames {(len(names), size, size)} from {offset} events to {out}"
    )
    if outside:
        click.echo(
            f"note: {outside} of them reach outside the eta acceptance (zero-padded, "
            f"in_frame=False), kept and flagged, not dropped"
        )


class _Sink:
    """One chunk's frames and records into the output format, streamed (constant memory)."""

    def __init__(self, out: Path, n: int, shape: tuple[int, int, int], dtype: str) -> None:
        self.out = out
        if out.suffix == ".npz":
            from ..frames.npz_stream import NpzFramesWriter

            self.npz: Any = NpzFramesWriter(out, n, shape, dtype)
            self.ml4sci: Any = None
        else:
            from ..train import ML4SCIWriter

            self.npz = None
            self.ml4sci = ML4SCIWriter(out)
        self._empty: tuple[Any, dict[str, Any]] | None = None  # ML4SCI: schema if no frames

    def __call__(self, frames: Any, cols: dict[str, Any]) -> None:
        if self.npz is not None:
            self.npz.write(
                frames,
                {
                    "event": cols["event"],
                    "index": cols["index"],
                    "seed_row": cols["seed_row"],
                    "seed_col": cols["seed_col"],
                    "pt": cols["pt"],
                    "eta": cols["eta"],
                    "label": cols["label"],
                    "in_frame": cols["in_frame"],
                },
            )
        elif len(frames):
            self._ml4sci_write(frames, cols)
        else:
            self._empty = (frames, cols)

    def _ml4sci_write(self, frames: Any, cols: dict[str, Any]) -> None:
        self.ml4sci.write(
            frames,
            cols["label"],
            cols["pt"],
            cols["seed_row"],
            cols["seed_col"],
            extra={"eta": cols["eta"], "event": cols["event"]},
        )

    def finish(self, **constants: Any) -> None:
        if self.npz is not None:
            self.npz.close(**constants)
        elif self.ml4sci.n == 0 and self._empty is not None:  # a valid file with no rows
            self._ml4sci_write(*self._empty)

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if self.npz is not None:
            self.npz.__exit__(et, ev, tb)
        else:
            self.ml4sci.close()
            if et is not None:
                self.out.unlink(missing_ok=True)


def _chunks(tree: Any, branches: Any, step: int, where: str) -> Any:
    """The tree's chunks; a read failure (a truncated file) named by file and entries."""
    start = 0
    it = tree.iterate(list(branches), step_size=step)
    while True:
        try:
            raw = next(it)
        except StopIteration:
            return
        except Exception as err:  # uproot raises OSError, ValueError, its own types
            stop = min(start + step, int(tree.num_entries))
            msg = f"{where}: entries {start}-{stop} cannot be read ({type(err).__name__}: {err})"
            raise FileLayoutError(" ".join(msg.split())) from None
        start += len(raw)
        yield raw


def _count_objects(tree: Any, seed: str, where: str) -> int:
    """Objects in a file (the npz header needs the total up front), read errors named."""
    try:
        return int(ak.sum(ak.num(tree[seed].array(), axis=1)))
    except Exception as err:  # uproot raises OSError, ValueError, its own types
        msg = f"{where}: branch {seed!r} cannot be read ({type(err).__name__}: {err})"
        raise FileLayoutError(" ".join(msg.split())) from None
