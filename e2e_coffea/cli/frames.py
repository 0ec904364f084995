"""``e2e-coffea frames``: ROOT files -> frames on disk, replacing E2E's per-event converters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
from tqdm.auto import tqdm

from ..exceptions import BadInputError

__all__ = ["command"]

@click.command("frames")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--layout", type=click.Choice(["e2e", "sparse"]), required=True)
@click.option("--preset", default=None, help="Channel preset: qg, top8, tau13 (jets) or eg (e/gamma).")
@click.option("--channels", default=None, help="Comma-separated channel names, in the order wanted.")
@click.option("--kind", type=click.Choice(["jet", "eg"]), default=None,
              help="Jet windows (125x125) or e/gamma crops (32x32); default from the preset.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="OUT.npz, OUT.parquet or OUT.h5")
@click.option("--norm", default="none", show_default=True, help="Normalisation preset, or none for raw values.")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (torch backend).")
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--step", type=int, default=200, show_default=True, help="Events read per chunk.")
def command(inputs: tuple[Path, ...], layout: str, preset: str | None, channels: str | None,
            kind: str | None, out: Path, norm: str, backend: str, device: str, dtype: str,
            step: int) -> None:
    """Build frames of every jet (or e/gamma candidate) in INPUT.root files and save them.

    npz holds `frames` (n, C, H, W), per object `event`, `jet`, `ieta`, `iphi`, `pt`,
    `eta`, `label`, `in_frame`, and `channels`; parquet/h5 use the ML4SCI columns.
    """
    from ..frames import build_eg_frames, build_jet_frames
    from ..io import open_tree

    if (preset is None) == (channels is None):
        msg = "give exactly one of --preset and --channels"
        raise click.UsageError(msg)
    chans: list[str] | str = preset if preset is not None else [c.strip() for c in channels.split(",") if c.strip()]  # type: ignore[union-attr]
    kind = kind or ("eg" if preset == "eg" else "jet")
    if out.suffix not in (".npz", ".parquet", ".h5", ".hdf5"):
        msg = f"--out must end in .npz, .parquet or .h5, got {out.name!r}"
        raise BadInputError(msg)
    if step < 1:
        msg = f"--step must be positive, got {step}"
        raise BadInputError(msg)
    from ..objects import object_branches

    branches = object_branches(chans, layout, kind)  # type: ignore[arg-type]
    build = build_eg_frames if kind == "eg" else build_jet_frames
    trees = [(p, open_tree(p, layout)) for p in inputs]  # every file checked before work starts
    for p, tree in trees:
        missing = [b for b in branches if b not in tree.keys()]
        if missing:
            from ..exceptions import MissingBranchError

            msg = f"{p}: missing branch(es) {missing} needed for channels {chans}"
            raise MissingBranchError(msg)
    parts: list[tuple[Any, dict[str, Any]]] = []
    names: tuple[str, ...] = ()
    total = sum(t.num_entries for _, t in trees)
    offset = 0
    with tqdm(total=total, unit="ev", desc="frames", disable=None) as bar:
        for _p, tree in trees:
            for chunk in tree.iterate(branches, step_size=step):
                norm_arg = None if norm == "none" else norm
                frames, rec = build(chunk, layout=layout, channels=chans, backend=backend,  # type: ignore[arg-type]
                                    device=device, dtype=dtype, norm=norm_arg)
                host = frames if isinstance(frames, np.ndarray) else frames.cpu().numpy()
                cols = rec.to_dict()
                cols["event"] = cols["event"] + offset
                parts.append((host, cols))
                offset += len(chunk)
                bar.update(len(chunk))
    from ..frames import resolve_channels

    names = tuple(s.name for s in resolve_channels(chans, frame=kind))  # type: ignore[arg-type]
    frames_all, cols_all = _concat(parts, len(names), 125 if kind == "jet" else 32, dtype)
    outside = int((~cols_all["in_frame"]).sum()) if "in_frame" in cols_all else 0
    _save(out, frames_all, cols_all, names, kind)
    click.echo(f"wrote {len(frames_all)} {kind} frames {frames_all.shape[1:]} from {offset} events to {out}")
    if outside:
        click.echo(f"note: {outside} of them reach outside the eta acceptance (zero-padded, "
                   f"in_frame=False), kept and flagged, not dropped")


def _concat(parts: list[tuple[Any, dict[str, Any]]], c: int, size: int, dtype: str) -> tuple[Any, dict[str, Any]]:
    if not parts:
        return np.zeros((0, c, size, size), dtype), {}
    frames = np.concatenate([f for f, _ in parts])
    cols = {k: np.concatenate([d[k] for _, d in parts]) for k in parts[0][1]}
    return frames, cols


def _save(out: Path, frames: Any, cols: dict[str, Any], names: tuple[str, ...], kind: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        jet_index = cols.get("jet", cols.get("index", np.zeros(len(frames), np.int64)))
        ieta = cols.get("ieta", cols.get("seed_row"))
        iphi = cols.get("iphi", cols.get("seed_col"))
        np.savez_compressed(out, frames=frames, event=cols.get("event"), jet=jet_index, ieta=ieta,
                            iphi=iphi, pt=cols.get("pt"), eta=cols.get("eta"), label=cols.get("label"),
                            in_frame=cols.get("in_frame"), channels=np.array(names))
        return
    from ..train import write_ml4sci

    ieta = cols.get("ieta", cols.get("seed_row"))
    iphi = cols.get("iphi", cols.get("seed_col"))
    write_ml4sci(out, frames, cols.get("label"), cols.get("pt"), ieta, iphi,
                 extra={"eta": cols.get("eta"), "event": cols.get("event")})
