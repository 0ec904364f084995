"""Train straight from ROOT files: uproot chunks -> frames -> fixed-size batches.

Frames are built on the fly by :func:`e2e_coffea.frames.build_jet_frames`, so no cached
copy of the images is needed; chunks are re-batched so that every batch but the last
has exactly ``batch_size`` frames whatever the chunking. The object is re-iterable (each
epoch re-reads the files), as :func:`e2e_coffea.train.fit` needs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..exceptions import BadInputError, FileLayoutError
from ..layouts import E2E_TREE, SPARSE_TREE
from .batch import Batch

__all__ = ["FrameBatches", "frame_batches"]

Builder = Callable[..., tuple[Any, Any]]


def _default_builder() -> Builder:
    if importlib.util.find_spec("e2e_coffea.frames") is None:
        msg = "e2e_coffea.frames is not available; cannot build frames from ROOT files"
        raise BadInputError(msg)
    from .. import frames

    build = getattr(frames, "build_jet_frames", None)
    if build is None:
        msg = "e2e_coffea.frames has no build_jet_frames; cannot build frames from ROOT files"
        raise BadInputError(msg)
    return build  # type: ignore[no-any-return]


def _labels_from(records: Any) -> Any:
    """``records.label`` (the frames module's JetRecords) or ``records["label"]`` (a mapping)."""
    if hasattr(records, "label"):
        return records.label
    try:
        return records["label"]
    except (KeyError, ValueError, TypeError, IndexError) as err:
        msg = "frame records have no 'label' field; pass label_fn=records -> labels"
        raise BadInputError(msg) from err


class FrameBatches:
    """Re-iterable batches built from ROOT files with a frame builder (see :func:`frame_batches`)."""

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        layout: str,
        channels: Sequence[str] | str,
        norm: Any,
        label_fn: Callable[[Any], Any] | None,
        batch_size: int,
        *,
        scalars_fn: Callable[[Any], Any] | None = None,
        step_size: int | str = "100 MB",
        branches: Sequence[str] | None = None,
        builder: Builder | None = None,
        frame_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if layout not in ("e2e", "sparse"):
            msg = f"unknown layout {layout!r}; expected 'e2e' or 'sparse'"
            raise BadInputError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise BadInputError(msg)
        self.files = [
            Path(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)
        ]
        if not self.files:
            msg = "no input files given"
            raise BadInputError(msg)
        missing = [str(f) for f in self.files if not f.is_file()]
        if missing:
            msg = f"input file(s) not found: {missing}"
            raise FileLayoutError(msg)
        # a str is a preset name ('qg', 'top8'...): pass it through, do not split it into letters
        self.layout, self.norm = layout, norm
        self.channels: str | list[str] = channels if isinstance(channels, str) else list(channels)
        self.label_fn, self.scalars_fn = label_fn or _labels_from, scalars_fn
        self.batch_size, self.step_size = batch_size, step_size
        self.branches = list(branches) if branches is not None else None
        self.builder = builder
        self.frame_kwargs = dict(frame_kwargs or {})

    def _chunks(self) -> Iterator[Any]:
        import uproot

        tree = E2E_TREE if self.layout == "e2e" else SPARSE_TREE
        for path in self.files:
            try:
                with uproot.open(path) as f:
                    t = f[tree]
                    yield from t.iterate(self.branches, step_size=self.step_size, library="ak")
            except (OSError, ValueError, KeyError) as err:
                msg = f"{path}: cannot read tree {tree!r} ({type(err).__name__}: {err})"
                raise FileLayoutError(msg) from err

    def __iter__(self) -> Iterator[Batch]:
        build = self.builder or _default_builder()
        pending: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        n_pending = 0
        for chunk in self._chunks():
            frames, records = build(
                chunk,
                layout=self.layout,
                channels=self.channels,
                norm=self.norm,
                **self.frame_kwargs,
            )
            x = np.asarray(frames, dtype=np.float32)
            if len(x) == 0:
                continue
            y = np.asarray(self.label_fn(records))
            s = (
                None
                if self.scalars_fn is None
                else np.asarray(self.scalars_fn(records), np.float32)
            )
            if len(y) != len(x) or (s is not None and len(s) != len(x)):
                msg = f"label_fn/scalars_fn gave {len(y)}/{'-' if s is None else len(s)} rows for {len(x)} frames"
                raise BadInputError(msg)
            pending.append((x, y, s))
            n_pending += len(x)
            if n_pending >= self.batch_size:
                x, y, s = _concat(pending)
                n_full = len(x) // self.batch_size * self.batch_size
                for lo in range(0, n_full, self.batch_size):
                    sl = slice(lo, lo + self.batch_size)
                    yield _to_batch(x[sl], y[sl], None if s is None else s[sl])
                pending = [(x[n_full:], y[n_full:], None if s is None else s[n_full:])]
                n_pending = len(x) - n_full
        if n_pending:
            yield _to_batch(*_concat(pending))


def _concat(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    s = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return x, y, s


def _to_batch(x: np.ndarray, y: np.ndarray, s: np.ndarray | None) -> Batch:
    yt = torch.from_numpy(
        np.ascontiguousarray(y.astype(np.float32 if y.dtype.kind == "f" else np.int64))
    )
    return Batch(
        torch.from_numpy(np.ascontiguousarray(x)),
        yt,
        None if s is None else torch.from_numpy(np.ascontiguousarray(s)),
    )


def frame_batches(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    layout: str,
    channels: Sequence[str] | str,
    norm: Any = None,
    label_fn: Callable[[Any], Any] | None = None,
    batch_size: int = 256,
    **kwargs: Any,
) -> FrameBatches:
    """Batches of jet frames built from ROOT files by ``e2e_coffea.frames.build_jet_frames``.

    ``label_fn(records) -> labels`` and ``scalars_fn(records) -> (n, s)`` turn the
    builder's per-frame records into targets and extra inputs (default labels:
    ``records.label``, the truth id of :data:`e2e_coffea.layouts.LABELS`). Keyword options: ``scalars_fn``, ``step_size`` (uproot),
    ``branches`` (default all), ``builder`` (replaces build_jet_frames), ``frame_kwargs``.
    """
    return FrameBatches(files, layout, channels, norm, label_fn, batch_size, **kwargs)
