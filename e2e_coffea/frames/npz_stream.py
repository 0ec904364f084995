"""Frames streamed into an ``.npz`` chunk by chunk, so converting a sample never holds
all its frames (100k tau13 jets are 81 GB of float32).

An ``.npz`` is a zip of ``.npy`` members written one after the other. The frames member
is written behind a header for the known total and filled as chunks arrive; the small
per-object columns are kept and written after it. ``np.load`` reads the result like any
``np.savez_compressed`` file.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..layouts import LABELS

__all__ = ["NpzFramesWriter", "frames_file_constants", "read_frames_metadata"]


def frames_file_constants(norm: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
    """What a frames npz says about itself beside its frames: the truth label names by
    id (``label_names[i]`` names ``label_ids[i]``), so ``label`` is never a bare integer,
    and the normalisation its frames carry (``e2e-coffea frames --norm``; name ``none``:
    raw values), as JSON."""
    ids = sorted(LABELS)
    return {
        "label_ids": np.array(ids, dtype=np.int64),
        "label_names": np.array([LABELS[i] for i in ids]),
        "normalisation": np.array(json.dumps(norm)),
    }


def read_frames_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``channels``, ``label_names`` ({id: name}) and ``normalisation`` (a dict) of a frames
    npz; a key is missing when the file does not hold it (files of older versions)."""
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as z:
            have = set(z.namelist())

            def member(name: str) -> Any:
                with z.open(f"{name}.npy") as f:
                    return np.lib.format.read_array(f, allow_pickle=False)

            if "channels.npy" in have:
                out["channels"] = tuple(str(c) for c in member("channels"))
            if {"label_ids.npy", "label_names.npy"} <= have:
                ids, names = member("label_ids"), member("label_names")
                out["label_names"] = {int(i): str(n) for i, n in zip(ids, names, strict=True)}
            if "normalisation.npy" in have:
                out["normalisation"] = json.loads(str(member("normalisation")))
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        msg = f"{path}: not a readable frames npz ({type(err).__name__}: {err})"
        raise BadInputError(msg) from err
    return out


class NpzFramesWriter:
    """Write ``n`` frames of ``frame_shape`` to ``path`` in pieces, plus named columns."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        n: int,
        frame_shape: tuple[int, ...],
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        if n < 0:
            msg = f"the number of frames must be >= 0, got {n}"
            raise BadInputError(msg)
        self.path = Path(path)
        self.n = n
        self.frame_shape = tuple(frame_shape)
        self.dtype = np.dtype(dtype)
        self.written = 0
        self._cols: dict[str, list[npt.NDArray[Any]]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._zip: zipfile.ZipFile | None = zipfile.ZipFile(
            self.path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
        )
        self._frames = self._zip.open("frames.npy", "w", force_zip64=True)
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (n, *self.frame_shape),
        }
        np.lib.format.write_array_header_2_0(self._frames, header)

    def __enter__(self) -> NpzFramesWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.close()
        else:  # a half-written file must not look like a result
            self._abort()

    def write(self, frames: npt.NDArray[Any], columns: dict[str, npt.ArrayLike]) -> None:
        """Append frames ``(k, *frame_shape)`` and, per column, k values."""
        x = np.ascontiguousarray(frames, dtype=self.dtype)
        if x.shape[1:] != self.frame_shape:
            msg = f"frames of shape {x.shape[1:]} do not match the file's {self.frame_shape}"
            raise BadInputError(msg)
        if self.written + len(x) > self.n:
            msg = f"{self.written + len(x)} frames written, more than the {self.n} announced"
            raise BadInputError(msg)
        cols = {name: np.asarray(values) for name, values in columns.items()}
        for name, v in cols.items():  # all checked before anything is kept
            if v.shape[:1] != (len(x),):
                msg = f"column {name!r} has {v.shape[:1]} values for {len(x)} frames"
                raise BadInputError(msg)
        for name, v in cols.items():
            self._cols.setdefault(name, []).append(v)
        if len(x):
            self._frames.write(x.data.cast("B"))
        self.written += len(x)

    def close(self, **constants: npt.ArrayLike) -> None:
        """Finish the frames member, then write the columns and any ``constants``."""
        if self._zip is None:
            return
        if self.written != self.n:
            self._abort()
            msg = f"{self.written} frames written, {self.n} announced: {self.path} removed"
            raise BadInputError(msg)
        self._frames.close()
        arrays = {k: np.concatenate(v) for k, v in self._cols.items()}
        arrays.update({k: np.asarray(v) for k, v in constants.items()})
        for name, arr in arrays.items():
            with self._zip.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
        self._zip.close()
        self._zip = None

    def _abort(self) -> None:
        if self._zip is None:
            return
        self._frames.close()
        self._zip.close()
        self._zip = None
        self.path.unlink(missing_ok=True)
