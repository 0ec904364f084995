"""ML4SCI-compatible cached frame datasets: parquet and HDF5, read in batches and written.

The layouts are those of the public ML4SCI E2E datasets (e.g. the quark/gluon and boosted
top samples): parquet with one row per jet, the frame as nested lists (C, H, W) in
``X_jet`` (``X_jets`` in some releases) next to ``y``, ``pt``, ``m0``, ``ieta``, ``iphi``;
HDF5 with ``X_jets`` as (N, H, W, C), channels last, and the same 1-d columns. We read
both spellings, write ``X_jet`` (parquet) / ``X_jets`` (HDF5), and stream: memory holds
one batch (HDF5) or one parquet record batch at a time, never the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import torch

from ...exceptions import BadInputError, FileLayoutError
from ...frames.ml4sci_files import (
    IMAGE_COLUMNS,
    ML4SCIWriter,
    ml4sci_format,
    nested_to_numpy,
    write_ml4sci,
)
from .batch import Batch
from .split import SPLIT_NAMES, split_of

__all__ = [
    "IMAGE_COLUMNS",
    "ML4SCIDataset",
    "ML4SCIWriter",
    "ml4sci_format",
    "nested_to_numpy",
    "write_ml4sci",
]

_SPLIT_COLUMNS: Final = ("run", "lumi", "event")


class ML4SCIDataset:
    """Batches (frames, labels, scalars) from an ML4SCI parquet or HDF5 file; re-iterable.

    ``target`` is the label column (``y``, or ``m0`` for mass regression); ``scalars``
    names columns stacked as extra model inputs. ``split`` keeps only one of
    train/val/test via :func:`split_of` on the file's ``run``/``lumi``/``event`` columns.
    ``shuffle`` permutes rows per epoch within blocks of ``block_size`` rows (default
    4 batches), which bounds memory; shuffle the files themselves for a global shuffle.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch_size: int = 256,
        target: str = "y",
        scalars: Sequence[str] = (),
        split: str | None = None,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        shuffle: bool = False,
        seed: int = 0,
        block_size: int | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            msg = f"{self.path}: no such file"
            raise FileLayoutError(msg)
        self.format = ml4sci_format(self.path)
        if split is not None and split not in SPLIT_NAMES:
            msg = f"split must be one of {list(SPLIT_NAMES)}, got {split!r}"
            raise BadInputError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise BadInputError(msg)
        self.batch_size, self.target, self.scalars = batch_size, target, tuple(scalars)
        self.split, self.fractions, self.shuffle, self.seed = split, tuple(fractions), shuffle, seed
        self.block_size, self.epoch = max(block_size or 4 * batch_size, batch_size), 0
        self.columns = self._column_names()
        need = [target, *self.scalars, *(_SPLIT_COLUMNS if split else ())]
        missing = [c for c in need if c not in self.columns]
        if missing:
            msg = f"{self.path}: missing column(s) {missing}; the file has {sorted(self.columns)}"
            raise FileLayoutError(msg)
        image = [c for c in IMAGE_COLUMNS if c in self.columns]
        if not image:
            msg = f"{self.path}: no frame column {list(IMAGE_COLUMNS)}; the file has {sorted(self.columns)}"
            raise FileLayoutError(msg)
        self.image_column = image[0]

    def _column_names(self) -> list[str]:
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return list(pq.ParquetFile(self.path).schema_arrow.names)
            import h5py

            with h5py.File(self.path, "r") as f:
                return list(f.keys())
        except (OSError, ValueError) as err:
            msg = f"{self.path}: not a readable {self.format} file ({type(err).__name__}: {err})"
            raise FileLayoutError(msg) from err

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Rows in the file (before any split)."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        import h5py

        with h5py.File(self.path, "r") as f:
            return int(f[self.image_column].shape[0])

    def _blocks(self) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        cols = list(
            dict.fromkeys([self.target, *self.scalars, *(_SPLIT_COLUMNS if self.split else ())])
        )
        if self.format == "parquet":
            import pyarrow.parquet as pq

            f = pq.ParquetFile(self.path)
            for rb in f.iter_batches(
                batch_size=self.block_size, columns=[self.image_column, *cols]
            ):
                x = nested_to_numpy(rb.column(self.image_column), self.path)
                yield x, {c: rb.column(c).to_numpy(zero_copy_only=False) for c in cols}
            return
        import h5py

        with h5py.File(self.path, "r") as f:
            n = f[self.image_column].shape[0]
            for lo in range(0, n, self.block_size):
                hi = min(lo + self.block_size, n)
                x = np.asarray(f[self.image_column][lo:hi], dtype=np.float32).transpose(0, 3, 1, 2)
                yield x, {c: np.asarray(f[c][lo:hi]) for c in cols}

    def __iter__(self) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, self.epoch])
        bs = self.batch_size
        left: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
        for x, cols in self._blocks():
            if self.split is not None:
                s = split_of(cols["run"], cols["lumi"], cols["event"], self.fractions)
                order = np.flatnonzero(s == SPLIT_NAMES.index(self.split))
            else:
                order = np.arange(len(x))
            if self.shuffle:
                order = rng.permutation(order)
            x, cols = x[order], {k: v[order] for k, v in cols.items()}
            if left is not None:  # fewer than batch_size rows carried over from the last block
                x = np.concatenate([left[0], x])
                cols = {k: np.concatenate([left[1][k], v]) for k, v in cols.items()}
            n_full = len(x) // bs
            for i in range(n_full):
                yield self._batch(
                    x[i * bs : (i + 1) * bs], {k: v[i * bs : (i + 1) * bs] for k, v in cols.items()}
                )
            left = (x[n_full * bs :], {k: v[n_full * bs :] for k, v in cols.items()})
        if left is not None and len(left[0]):
            yield self._batch(*left)

    def _batch(self, x: np.ndarray, cols: dict[str, np.ndarray]) -> Batch:
        y = cols[self.target]
        labels = torch.from_numpy(
            np.ascontiguousarray(y.astype(np.float32 if y.dtype.kind == "f" else np.int64))
        )
        sc = (
            torch.from_numpy(np.stack([cols[c].astype(np.float32) for c in self.scalars], 1))
            if self.scalars
            else None
        )
        return Batch(torch.from_numpy(np.ascontiguousarray(x)), labels, sc)
