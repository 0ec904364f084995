"""Synthetic frames with an easy, known answer (a bright central blob (1) or a ring (0)),
and a generated sample for task training."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from e2e_coffea.train import ArraySource, ObjectStream, build_index


def blob_or_ring(n: int, seed: int, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, size, size) frames: channel 0 holds the signal shape plus noise, channel 1 noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    blob = np.exp(-(r**2) / (2 * 2.0**2))
    ring = np.exp(-((r - 6.0) ** 2) / (2 * 1.0**2))
    shape = np.where(y[:, None, None] == 1, blob, ring) * rng.uniform(0.5, 1.5, (n, 1, 1))
    noise = 0.3 * rng.random((n, 2, size, size))
    x = noise + np.stack([shape, np.zeros_like(shape)], 1)
    return x.astype(np.float32), y.astype(np.float32)


def _streams(
    xt: np.ndarray,
    yt: np.ndarray,
    xv: np.ndarray | None = None,
    yv: np.ndarray | None = None,
    *,
    batch_size: int = 64,
    val_batch_size: int = 96,
    class_names: tuple[str, ...] = ("background", "signal"),
    source: dict[str, Any] | None = None,
    **stream: Any,
) -> tuple[ObjectStream, ObjectStream]:
    """The training path for arrays: (train, val) streams of one index over
    ``ArraySource(xt + xv, yt + yv, **source)`` (train in split 0, val in split 1).
    ``stream`` keywords go to both streams, but ``shuffle_buffer`` and ``seed`` to the
    training one only."""
    xs, ys = (xt,) if xv is None else (xt, xv), (yt,) if yv is None else (yt, yv)
    split = np.repeat(np.arange(len(xs)), [len(x) for x in xs])
    arrays = ArraySource(np.concatenate(xs), np.concatenate(ys).astype(np.int64), split=split,
                         **(source or {}))  # fmt: skip
    index = build_index([arrays], step=batch_size, class_names=class_names)
    shuffle = {k: stream.pop(k) for k in ("shuffle_buffer", "seed") if k in stream}
    return (
        ObjectStream(index, 0, batch_size, **shuffle, **stream),
        ObjectStream(index, 1, val_batch_size, **stream),
    )


@pytest.fixture
def streams() -> Any:
    """:func:`_streams`: arrays into the one training path (index, ObjectStream)."""
    return _streams


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xt, yt = blob_or_ring(384, seed=1)
    xv, yv = blob_or_ring(192, seed=2)
    return xt, yt, xv, yv


@pytest.fixture(scope="session")
def train_sample(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """tau + qcd events in both layouts, enough for objects of both classes in every
    split (the shared 40-event sample has no tau jet in its validation split)."""
    from e2e_coffea.sim.generate import generate

    root = tmp_path_factory.getbasetemp() / "train-sample"
    done = root.parent / "train-sample.done"
    if not done.exists():
        generate(["tau", "qcd"], 90, root, layout="both", seed=11, events_per_file=45)
        done.touch()
    return SimpleNamespace(
        root=root, fileset={lay: root / f"fileset.{lay}.json" for lay in ("sparse", "e2e")}
    )


@pytest.fixture
def tau_sources(train_sample: SimpleNamespace) -> Any:
    """``tau_sources(layout)``: the tau task's ROOT sources of ``train_sample`` (image inputs)."""
    from e2e_coffea.io import load_fileset
    from e2e_coffea.train import RootTaskSource
    from e2e_coffea.train.tasks.definitions import get_task
    from e2e_coffea.train.tasks.pairing import pair_model_and_task

    def make(layout: str) -> list[Any]:
        task = get_task("tau")
        pair = pair_model_and_task("simplenet", task, dry_run=False)
        return [
            RootTaskSource(path, tree, int(ds == "tau"), task, pair.inputs)
            for ds, entry in load_fileset(train_sample.fileset[layout]).items()
            for path, tree in entry["files"].items()
        ]

    return make
