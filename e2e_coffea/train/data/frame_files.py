"""Frames files as training sources: our ``.npz`` (``e2e-coffea frames``) and ML4SCI
parquet / HDF5 (the public E2E datasets, or ``e2e-coffea frames --out X.parquet``).

The small per-object columns (label, pT, eta, event) are read once per process; frames
are read unit by unit. An npz member is one deflated stream, so an npz source is read
forward only (``sequential``); parquet units are its row groups, HDF5 units row ranges.

Labels: ``truth`` columns hold :data:`e2e_coffea.layouts.LABELS` ids (our files), which
the task maps to signal and background; ``binary`` columns already hold 0 (background)
and 1 (signal), as the public ML4SCI datasets do. Objects pass the same cuts as in the
ROOT path where the file has the quantity (pT, eta, ``in_frame``).
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError, FileLayoutError
from ...frames.ml4sci_files import IMAGE_COLUMNS, ml4sci_format, nested_to_numpy
from ...frames.model_inputs import window_size
from ...frames.selection import ObjectCuts
from ...io.npyfiles import check_npy_member
from ...layouts import ObjectKind
from ..tasks.definitions import Task, class_mask
from .sources import ObjectChunk, Select, fallback_ids, units_of
from .split import split_of

__all__ = ["LABEL_MODES", "ML4SCISource", "NpzFramesSource", "frames_source"]

LABEL_MODES: Final = ("truth", "binary")


class _Columns:
    """Target, split, pT, |eta| and the cut of every row of a frames file."""

    def __init__(
        self, path: str, cols: dict[str, npt.NDArray[Any]], label: str, task: Task,
        labels: str, cuts: ObjectCuts, kind: ObjectKind,
    ) -> None:  # fmt: skip
        if label not in cols:
            msg = f"{path}: no label column {label!r}; the file has {sorted(cols)}"
            raise FileLayoutError(msg)
        y = np.asarray(cols[label]).astype(np.int64)
        n = len(y)
        if labels == "binary":
            bad = (y != 0) & (y != 1)
            if bad.any():
                msg = f"{path}: --labels binary needs 0/1 in {label!r}, found {sorted(set(y[bad].tolist()))[:5]}; use --labels truth"
                raise BadInputError(msg)
            target, known = y, np.ones(n, bool)
        else:  # the first class whose truth requirement the label meets
            target, known = np.zeros(n, np.int64), np.zeros(n, bool)
            for cls in range(task.n_classes):
                fits = class_mask(task, y, cls) & ~known
                target[fits], known = cls, known | fits
        pt = np.asarray(cols.get("pt", np.full(n, np.nan)), np.float32)
        eta = np.asarray(cols.get("eta", np.full(n, np.nan)), np.float32)
        keep = known & cuts.passes(  # the ROOT path's cuts, where the file has the quantity
            kind, n, pt=pt if "pt" in cols else None, eta=eta if "eta" in cols else None,
            in_frame=cols.get("in_frame"),
        )  # fmt: skip
        if all(k in cols for k in ("run", "lumi", "event")):
            split = split_of(cols["run"], cols["lumi"], cols["event"])
        else:
            ev = np.asarray(cols["event"] if "event" in cols else np.arange(n), np.int64)
            run, lumi, event = fallback_ids(path, ev)
            split = split_of(run, lumi, event)
        self.target, self.split, self.pt, self.abs_eta = (
            target,
            split.astype(np.int8),
            pt,
            np.abs(eta),
        )
        self.keep = keep

    def chunk(self, start: int, stop: int) -> tuple[npt.NDArray[np.int64], ObjectChunk]:
        """Rows of ``[start, stop)`` that pass (relative to ``start``) and their objects."""
        rows = np.flatnonzero(self.keep[start:stop])
        at = start + rows
        return rows, ObjectChunk(self.target[at], self.split[at], self.pt[at], self.abs_eta[at])


class _FrameFile:
    """What the two formats share: lazily read columns, per-process handles, checks."""

    sequential = False
    label_column = "y"

    def __init__(
        self, path: str | os.PathLike[str], task: Task, *, labels: str,
        shape: tuple[int, ...], cuts: ObjectCuts | None = None, kind: ObjectKind = "jet",
    ) -> None:  # fmt: skip
        self.name = str(path)
        if not Path(path).is_file():
            msg = f"{path}: no such frames file"
            raise FileLayoutError(msg)
        if labels not in LABEL_MODES:
            msg = f"labels must be one of {list(LABEL_MODES)}, got {labels!r}"
            raise BadInputError(msg)
        self.task, self.labels, self.shape = task, labels, tuple(shape)
        self.cuts, self.kind = cuts or task.cuts(), kind
        self._cols: _Columns | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cols": None, "_pid": -1, **self._handles_reset()}

    def _handles_reset(self) -> dict[str, Any]:
        return {}

    def columns(self) -> _Columns:
        if self._cols is None or self._pid != os.getpid():
            self._cols = _Columns(self.name, self._read_columns(), self.label_column,
                                  self.task, self.labels, self.cuts, self.kind)  # fmt: skip
            self._pid = os.getpid()
        return self._cols

    def _read_columns(self) -> dict[str, npt.NDArray[Any]]:
        raise NotImplementedError

    def _check(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.shape:
            msg = f"{self.name}: frames of shape {tuple(x.shape[1:])}, the task needs {self.shape} (C, H, W)"
            raise BadInputError(msg)
        return np.ascontiguousarray(x, dtype=np.float32)

    def scan(self, start: int, stop: int) -> ObjectChunk:
        return self.columns().chunk(start, stop)[1]

    def read(self, start: int, stop: int, select: Select | None = None) -> ObjectChunk:
        rows, c = self.columns().chunk(start, stop)
        if select is not None:
            wanted = np.flatnonzero(select(c))
            rows, c = rows[wanted], c.take(wanted)
        x = self._check(self._frames(start, stop, rows))
        return ObjectChunk(c.target, c.split, c.pt, c.abs_eta, x)

    def _frames(self, start: int, stop: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """Frames (n, C, H, W) of ``start + rows``."""
        raise NotImplementedError


class NpzFramesSource(_FrameFile):
    """An ``.npz`` of ``e2e-coffea frames``: ``frames`` (n, C, H, W), ``label``, ``pt``,
    ``eta``, ``event``, ``in_frame`` and ``channels`` (checked against the task's)."""

    sequential = True
    label_column = "label"
    _SMALL: Final = ("label", "pt", "eta", "event", "in_frame")

    def __init__(
        self, path: str | os.PathLike[str], task: Task, *, channels: tuple[str, ...], **kw: Any
    ) -> None:
        super().__init__(path, task, **kw)
        with zipfile.ZipFile(self.name) as z:
            names = {Path(n).stem for n in z.namelist()}
            if "frames" not in names:
                msg = f"{path}: not a frames npz (members {sorted(names)})"
                raise FileLayoutError(msg)
            for info in z.infolist():  # every small member's header, before any allocation
                if info.filename.endswith(".npy") and info.filename != "frames.npy":
                    check_npy_member(z, info, source=str(path))
            if "channels" in names:
                with z.open("channels.npy") as f:
                    have = tuple(str(c) for c in np.lib.format.read_array(f, allow_pickle=False))
                if have != tuple(channels):
                    msg = (
                        f"{path}: frames of channels {list(have)}, the task needs {list(channels)}"
                    )
                    raise BadInputError(msg)
            with z.open("frames.npy") as f:
                self.n_rows, self.row_shape = self._header(f)
                claimed = f.tell() + self.n_rows * math.prod(self.row_shape) * 4
            held = z.getinfo("frames.npy").file_size
            if claimed != held:  # truncated, or a forged header: found now, not mid-epoch
                msg = (
                    f"{path}: frames.npy's header claims {self.n_rows} frames of "
                    f"{self.row_shape} ({claimed} bytes), but the member holds {held}"
                )
                raise FileLayoutError(msg)
        if self.row_shape != self.shape:
            msg = f"{path}: frames of shape {self.row_shape}, the task needs {self.shape} (C, H, W)"
            raise BadInputError(msg)
        self._stream: Any = None
        self._zip: Any = None
        self._row = 0
        self._pid_stream = -1

    def _handles_reset(self) -> dict[str, Any]:
        return {"_stream": None, "_zip": None, "_row": 0, "_pid_stream": -1}

    @staticmethod
    def _header(f: Any) -> tuple[int, tuple[int, ...]]:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            msg = f"frames.npy has npy format version {version}, expected 1.0 or 2.0"
            raise FileLayoutError(msg)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
        if dtype != np.float32:
            msg = f"frames are {dtype}, expected float32"
            raise FileLayoutError(msg)
        return int(shape[0]), tuple(int(s) for s in shape[1:])

    def _read_columns(self) -> dict[str, npt.NDArray[Any]]:
        out: dict[str, npt.NDArray[Any]] = {}
        with zipfile.ZipFile(self.name) as z:
            have = {Path(n).stem for n in z.namelist()}
            for name in self._SMALL:
                if name in have:
                    with z.open(f"{name}.npy") as f:
                        out[name] = np.lib.format.read_array(f, allow_pickle=False)
        return out

    def units(self, step: int) -> list[tuple[int, int]]:
        return units_of(self.n_rows, step)

    def _frames(self, start: int, stop: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        row_bytes = int(np.prod(self.row_shape)) * 4
        if self._stream is None or self._row > start or self._pid_stream != os.getpid():
            if self._zip is not None:
                self._zip.close()
            self._zip = zipfile.ZipFile(self.name)
            self._stream = self._zip.open("frames.npy")
            self._header(self._stream)
            self._row, self._pid_stream = 0, os.getpid()
        if start > self._row:
            self._stream.seek((start - self._row) * row_bytes, os.SEEK_CUR)
        buf = self._stream.read((stop - start) * row_bytes)
        self._row = stop
        return np.frombuffer(buf, np.float32).reshape(stop - start, *self.row_shape)[rows]


class ML4SCISource(_FrameFile):
    """An ML4SCI parquet (units: row groups) or HDF5 (units: ``step`` rows) file."""

    _SMALL: Final = ("y", "pt", "eta", "run", "lumi", "event")

    def __init__(self, path: str | os.PathLike[str], task: Task, **kw: Any) -> None:
        super().__init__(path, task, **kw)
        self.format = ml4sci_format(Path(self.name))
        names = self._names()
        image = [c for c in IMAGE_COLUMNS if c in names]
        if not image:
            msg = f"{path}: no frame column {list(IMAGE_COLUMNS)}; the file has {sorted(names)}"
            raise FileLayoutError(msg)
        self.image = image[0]

    def _names(self) -> list[str]:
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return list(pq.ParquetFile(self.name).schema_arrow.names)
            import h5py

            with h5py.File(self.name, "r") as f:
                return list(f.keys())
        except (OSError, ValueError) as err:
            msg = f"{self.name}: not a readable {self.format} file ({type(err).__name__}: {err})"
            raise FileLayoutError(msg) from err

    def _read_columns(self) -> dict[str, npt.NDArray[Any]]:
        names = [c for c in self._SMALL if c in self._names()]
        if self.format == "parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(self.name, columns=names)
            return {c: t.column(c).to_numpy() for c in names}
        import h5py

        with h5py.File(self.name, "r") as f:
            return {c: np.asarray(f[c][:]) for c in names}

    def units(self, step: int) -> list[tuple[int, int]]:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            md = pq.ParquetFile(self.name).metadata
            ends = np.cumsum([md.row_group(i).num_rows for i in range(md.num_row_groups)])
            return [
                (int(a), int(b)) for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True) if b > a
            ]
        import h5py

        with h5py.File(self.name, "r") as f:
            return units_of(int(f[self.image].shape[0]), step)

    def _frames(self, start: int, stop: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(self.name)
            md = pf.metadata
            ends = np.cumsum([md.row_group(i).num_rows for i in range(md.num_row_groups)])
            group = int(np.searchsorted(ends, start, side="right"))
            first = int(ends[group - 1]) if group else 0
            col = pf.read_row_group(group, columns=[self.image]).column(self.image)
            return nested_to_numpy(col, Path(self.name))[start - first + rows]
        import h5py

        with h5py.File(self.name, "r") as f:
            ds = f[self.image]
            if not len(rows):
                return np.zeros((0, ds.shape[3], ds.shape[1], ds.shape[2]), np.float32)
            # h5py reads a sorted index list directly: only the wanted rows leave the disk
            return np.asarray(ds[start + rows], np.float32).transpose(0, 3, 1, 2)


def frames_source(
    path: str | os.PathLike[str], task: Task, *, channels: tuple[str, ...], labels: str | None,
    cuts: ObjectCuts | None = None,
) -> NpzFramesSource | ML4SCISource:  # fmt: skip
    """The source for a frames file of ``task``'s ``channels``, by suffix. npz labels are
    always truth ids; ML4SCI files must say which they hold (``labels``), since both
    conventions exist."""
    p = Path(path)
    kind = task.kind
    shape = (len(channels), *window_size(kind))  # the frames ModelInputs builds
    if p.suffix == ".npz":
        if labels not in (None, "truth"):
            msg = (
                f"{p}: npz frames of e2e-coffea hold truth labels; --labels {labels} does not apply"
            )
            raise BadInputError(msg)
        return NpzFramesSource(
            p, task, channels=channels, labels="truth", shape=shape, cuts=cuts, kind=kind
        )
    if labels == "binary" and task.n_classes != 2:
        msg = f"{p}: --labels binary holds 0/1 targets; task {task.name!r} has {task.n_classes} classes, use --labels truth"
        raise BadInputError(msg)
    if labels is None:
        msg = (
            f"{p}: say what its 'y' column holds with --labels truth (files of e2e-coffea frames) "
            "or --labels binary (0/1 targets, as in the public ML4SCI datasets)"
        )
        raise BadInputError(msg)
    return ML4SCISource(p, task, labels=labels, shape=shape, cuts=cuts, kind=kind)
