"""ML4SCI-compatible frame files: parquet and HDF5, written in batches and read back.

The layouts are those of the public ML4SCI E2E datasets (e.g. the quark/gluon and boosted
top samples): parquet with one row per jet, the frame as nested lists (C, H, W) in
``X_jet`` (``X_jets`` in some releases) next to ``y``, ``pt``, ``m0``, ``ieta``, ``iphi``;
HDF5 with ``X_jets`` as (N, H, W, C), channels last, and the same 1-d columns. We read
both spellings and write ``X_jet`` (parquet) / ``X_jets`` (HDF5). A frames file format,
so it lives with the frames; :class:`~e2e_coffea.train.data.frame_files.ML4SCISource` reads
them for training.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, FileLayoutError

__all__ = ["IMAGE_COLUMNS", "ML4SCIWriter", "ml4sci_format", "nested_to_numpy", "write_ml4sci"]

IMAGE_COLUMNS: Final = ("X_jet", "X_jets")
_ROW_GROUP: Final = 1024


def ml4sci_format(path: Path) -> str:
    """``parquet`` or ``h5``, from the file suffix; BadInputError for anything else."""
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".parquet" else path.suffix
    if suffix.endswith(".parquet"):
        return "parquet"
    if path.suffix in (".h5", ".hdf5"):
        return "h5"
    msg = f"{path}: unknown ML4SCI format {path.suffix!r}; expected .parquet, .h5 or .hdf5"
    raise BadInputError(msg)


class ML4SCIWriter:
    """Append batches of frames to one parquet or HDF5 file (format from the suffix)."""

    def __init__(self, path: str | os.PathLike[str], *, compression: str | None = None) -> None:
        self.path = Path(path)
        self.format = ml4sci_format(self.path)
        self.compression = compression
        self.n = 0
        self._h5: Any = None
        self._pq: Any = None
        self._columns: list[str] | None = None

    def __enter__(self) -> ML4SCIWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def write(
        self,
        frames: npt.ArrayLike,
        y: npt.ArrayLike,
        pt: npt.ArrayLike,
        ieta: npt.ArrayLike,
        iphi: npt.ArrayLike,
        m0: npt.ArrayLike | None = None,
        extra: Mapping[str, npt.ArrayLike] | None = None,
    ) -> None:
        """Append ``n`` frames (n, C, H, W) and their per-frame columns."""
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 4:
            msg = f"frames must have shape (n, C, H, W), got {x.shape}"
            raise BadInputError(msg)
        n = x.shape[0]
        cols: dict[str, np.ndarray] = {
            "y": np.asarray(y),
            "pt": np.asarray(pt, np.float32),
            "ieta": np.asarray(ieta),
            "iphi": np.asarray(iphi),
        }
        if m0 is not None:
            cols["m0"] = np.asarray(m0, np.float32)
        for k, v in (extra or {}).items():
            if k in cols or k in IMAGE_COLUMNS:
                msg = f"extra column {k!r} collides with a standard ML4SCI column"
                raise BadInputError(msg)
            cols[k] = np.asarray(v)
        for k, v in cols.items():
            if v.shape != (n,):
                msg = f"column {k!r} must have shape ({n},) like the frames, got {v.shape}"
                raise BadInputError(msg)
        if self._columns is None:
            self._columns = list(cols)
        elif list(cols) != self._columns:
            msg = f"columns {list(cols)} differ from the first batch's {self._columns}"
            raise BadInputError(msg)
        (self._write_parquet if self.format == "parquet" else self._write_h5)(x, cols)
        self.n += n

    def _write_parquet(self, x: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        # row groups of <= 1024 frames: int32 list offsets cannot overflow, readers stream
        for lo in range(0, len(x), _ROW_GROUP):
            sl = slice(lo, lo + _ROW_GROUP)
            self._write_parquet_group(x[sl], {k: v[sl] for k, v in cols.items()})

    def _write_parquet_group(self, x: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        n, c, h, w = x.shape
        # nested list<list<list<float>>> built from offsets: no Python loop over pixels
        rows = pa.array(x.reshape(-1))
        for count, size in ((n * c * h, w), (n * c, h), (n, c)):
            rows = pa.ListArray.from_arrays(np.arange(count + 1, dtype=np.int32) * size, rows)
        table = pa.table({"X_jet": rows, **{k: pa.array(v) for k, v in cols.items()}})
        if self._pq is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._pq = pq.ParquetWriter(
                self.path, table.schema, compression=self.compression or "snappy"
            )
        self._pq.write_table(table)

    def _write_h5(self, x: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        import h5py

        img = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # ML4SCI HDF5 is channels-last
        if self._h5 is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._h5 = h5py.File(self.path, "w")
            chunk = (1, *img.shape[1:])
            self._h5.create_dataset(
                "X_jets",
                data=img,
                maxshape=(None, *img.shape[1:]),
                chunks=chunk,
                compression=self.compression,
            )
            for k, v in cols.items():
                self._h5.create_dataset(k, data=v, maxshape=(None,), chunks=True)
            return
        for k, v in (("X_jets", img), *cols.items()):
            ds = self._h5[k]
            ds.resize(ds.shape[0] + len(v), axis=0)
            ds[-len(v) :] = v


def write_ml4sci(
    path: str | os.PathLike[str],
    frames: npt.ArrayLike,
    y: npt.ArrayLike,
    pt: npt.ArrayLike,
    ieta: npt.ArrayLike,
    iphi: npt.ArrayLike,
    m0: npt.ArrayLike | None = None,
    extra: Mapping[str, npt.ArrayLike] | None = None,
) -> Path:
    """Write frames (n, C, H, W) and columns as ML4SCI parquet or HDF5 (chosen by suffix)."""
    with ML4SCIWriter(path) as w:
        w.write(frames, y, pt, ieta, iphi, m0=m0, extra=extra)
    return Path(path)


def nested_to_numpy(col: Any, path: Path) -> np.ndarray:
    """list<list<list<float>>> arrow column -> (n, C, H, W) float32; refuses ragged frames."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n, dims = len(arr), list[int]()
    for _ in range(3):
        if not pa.types.is_list(arr.type) and not pa.types.is_large_list(arr.type):
            msg = f"{path}: frame column is not a 3-level nested list (type {col.type})"
            raise FileLayoutError(msg)
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        if lengths.size and (lengths.min() != lengths.max()):
            msg = f"{path}: frames are ragged (lengths {lengths.min()}..{lengths.max()} at depth {len(dims)})"
            raise FileLayoutError(msg)
        dims.append(int(lengths[0]) if lengths.size else 0)
        arr = arr.flatten()
    flat = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(n, *dims)
