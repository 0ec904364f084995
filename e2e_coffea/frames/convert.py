"""ROOT files -> frames files (npz, ML4SCI parquet/HDF5), chunk by chunk, in constant memory.

What ``e2e-coffea frames`` does, as a library: every input opened and its branches planned
(through a branch profile) before any work, then each chunk's frames built and appended
to the output, so memory stays at one chunk whatever the sample size. Messages name the
files' entry numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np

from ..exceptions import BadInputError, FileLayoutError
from ..io import open_tree
from ..io.arrays import entries_from
from ..io.columns import plan_columns, read_columns
from ..io.files import check_output_file
from ..io.profiles import BranchProfile, load_profile
from ..layouts import Layout, ObjectKind
from .ml4sci_files import ML4SCIWriter
from .model_inputs import ModelInputs
from .normalisation import IDENTITY, load_norm
from .npz_stream import NpzFramesWriter, frames_file_constants
from .objects import object_table

__all__ = ["FRAME_SUFFIXES", "ConvertReport", "FramesWriter", "convert_files"]

FRAME_SUFFIXES = (".npz", ".parquet", ".h5", ".hdf5")


@dataclass(frozen=True)
class ConvertReport:
    """What a conversion wrote: objects, frame shape, events read, windows off the grid."""

    out: Path
    kind: str
    n_objects: int
    shape: tuple[int, int, int]
    n_events: int
    outside: int


def convert_files(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    layout: Layout,
    channels: Sequence[str] | str,
    kind: ObjectKind = "jet",
    norm: str | None = None,
    backend: Literal["numpy", "torch"] = "numpy",
    device: str = "cpu",
    dtype: str = "float32",
    step: int = 200,
    profile: str | os.PathLike[str] | BranchProfile | None = None,
    progress: Callable[[int], None] | None = None,
) -> ConvertReport:
    """Frames of every ``kind`` object of ``inputs`` (local paths or URLs) into ``out``.

    Inputs that cannot be opened are bad input (BadInputError); a file that fails while
    being read (truncated) is a FileLayoutError naming the file and entries. ``progress``
    is called with the events of each chunk."""
    out = Path(out)
    if out.suffix not in FRAME_SUFFIXES:
        msg = f"--out must end in .npz, .parquet or .h5, got {out.name!r}"
        raise BadInputError(msg)
    if step < 1:
        msg = f"--step must be positive, got {step}"
        raise BadInputError(msg)
    check_output_file(out)
    prof = load_profile(profile) if profile is not None else None
    if prof is not None and prof.layout != layout:
        msg = f"--branches {prof.name!r} is a profile of the {prof.layout} layout, not {layout}"
        raise BadInputError(msg)
    table = object_table(layout, kind)
    spec = ModelInputs(
        "image", kind, channels if isinstance(channels, str) else tuple(channels), norm
    )
    required = spec.branches(layout)
    with ExitStack() as files:  # every input open until its frames are written
        try:  # every file checked before work starts; an unreadable one is a bad argument
            trees = [(str(p), files.enter_context(open_tree(p, layout))) for p in inputs]
        except FileLayoutError as err:
            raise BadInputError(str(err)) from None
        plans = [
            plan_columns(t.keys(), required, list(table.values()), prof, where=p) for p, t in trees
        ]
        names, size = spec.names, spec.size[0]
        seed = prof.file_name(table["seed_row"]) if prof else table["seed_row"]
        n_objects = sum(_count_objects(t, seed, p) for p, t in trees)
        offset = outside = 0
        with FramesWriter(out, n_objects, (len(names), size, size), dtype) as write:
            for (path, tree), plan in zip(trees, plans, strict=True):
                entry = 0  # the file's entry of the chunk's first event, for messages
                for raw in _chunks(tree, plan.file_names, step, path):
                    chunk = read_columns(raw, plan)
                    with entries_from(entry):
                        frames, rec = spec.frames(
                            chunk, layout, backend=backend, device=device, dtype=dtype
                        )
                    entry += len(raw)
                    host = frames if isinstance(frames, np.ndarray) else frames.cpu().numpy()
                    cols = rec.to_dict()
                    cols["event"] = cols["event"] + offset
                    outside += int((~cols["in_frame"]).sum())
                    write(host, cols)
                    offset += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            nrm = IDENTITY if norm is None else load_norm(norm)
            write.finish(channels=np.array(names), **frames_file_constants(nrm.to_dict()))
        return ConvertReport(out, kind, n_objects, (len(names), size, size), offset, outside)


class FramesWriter:
    """A chunk's frames and records into npz or ML4SCI parquet/h5, streamed (constant memory).

    npz holds ``frames`` (n, C, H, W) and per object ``event``, ``index``, ``seed_row``,
    ``seed_col``, ``pt``, ``eta``, ``label``, ``in_frame``, then ``channels``, the label
    names (``label_ids``, ``label_names``) and the ``normalisation`` as JSON; a
    half-written file is removed."""

    def __init__(self, out: Path, n: int, shape: tuple[int, int, int], dtype: str) -> None:
        self.out = out
        if out.suffix == ".npz":
            self.npz: Any = NpzFramesWriter(out, n, shape, dtype)
            self.ml4sci: Any = None
        else:
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
            extra={"eta": cols["eta"], "event": cols["event"], "in_frame": cols["in_frame"]},
        )

    def finish(self, **constants: Any) -> None:
        if self.npz is not None:
            self.npz.close(**constants)
        elif self.ml4sci.n == 0 and self._empty is not None:  # a valid file with no rows
            self._ml4sci_write(*self._empty)

    def __enter__(self) -> FramesWriter:
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
