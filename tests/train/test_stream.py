"""frame_batches: ROOT chunks -> frames -> exact-size batches, with a fake and the real builder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.exceptions import BadInputError, FileLayoutError
from e2e_coffea.train import frame_batches


def _write_toy(path: Path, n: int) -> None:
    with uproot.recreate(path) as f:
        f["Events"] = {"value": np.arange(n, dtype=np.float32), "label": np.arange(n) % 2}


def _fake_builder(
    chunk: Any, *, layout: str, channels: list[str], norm: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    v = np.asarray(chunk["value"], dtype=np.float32)
    frames = np.broadcast_to(v[:, None, None, None], (len(v), len(channels), 3, 3)).copy()
    return frames, {"label": np.asarray(chunk["label"]), "value": v}


def test_rebatches_across_chunks_and_files(tmp_path: Path) -> None:
    _write_toy(tmp_path / "a.root", 11)
    _write_toy(tmp_path / "b.root", 6)
    stream = frame_batches(
        [tmp_path / "a.root", tmp_path / "b.root"],
        "sparse",
        ["x", "y"],
        batch_size=4,
        builder=_fake_builder,
        step_size=3,
        scalars_fn=lambda r: r["value"][:, None] * 2,
    )
    for _ in range(2):  # re-iterable: every epoch re-reads the files
        batches = list(stream)
        assert [len(b) for b in batches] == [4, 4, 4, 4, 1]
        values = np.concatenate([b.frames[:, 1, 2, 2].numpy() for b in batches])
        np.testing.assert_array_equal(values, np.r_[np.arange(11), np.arange(6)])
        labels = np.concatenate([b.labels.numpy() for b in batches])
        np.testing.assert_array_equal(labels, values.astype(int) % 2)
        np.testing.assert_array_equal(
            np.concatenate([b.scalars.numpy() for b in batches])[:, 0], 2 * values
        )


def test_errors(tmp_path: Path) -> None:
    _write_toy(tmp_path / "a.root", 3)
    with pytest.raises(FileLayoutError, match="not found"):
        frame_batches([tmp_path / "none.root"], "sparse", ["x"], builder=_fake_builder)
    with pytest.raises(BadInputError, match="unknown layout 'nano'"):
        frame_batches([tmp_path / "a.root"], "nano", ["x"], builder=_fake_builder)
    with pytest.raises(FileLayoutError, match="cannot read tree 'fevt/RHTree'"):
        list(frame_batches(tmp_path / "a.root", "e2e", ["x"], builder=_fake_builder))
    bad = frame_batches(
        tmp_path / "a.root", "sparse", ["x"], builder=_fake_builder, label_fn=lambda r: [1]
    )
    with pytest.raises(BadInputError, match="gave 1/- rows for 3 frames"):
        list(bad)


HAVE_FRAMES = importlib.util.find_spec("e2e_coffea.frames") is not None


@pytest.mark.skipif(not HAVE_FRAMES, reason="e2e_coffea.frames (build_jet_frames) is not available")
def test_real_frames_from_a_sparse_file(tmp_path: Path) -> None:
    from e2e_coffea.frames import build_jet_frames
    from e2e_coffea.frames.testing import synthetic_sparse_chunk

    chunk = synthetic_sparse_chunk(6, seed=1, ecal=200, tracker=100)
    data: dict[str, Any] = {}
    for coll in ("EcalHit", "HcalHit", "Track", "Jet"):
        data[coll] = ak.zip(
            {f[len(coll) + 1 :]: chunk[f] for f in chunk.fields if f.startswith(coll + "_")}
        )
    data["event"] = np.asarray(chunk["event"])
    with uproot.recreate(tmp_path / "s.root") as f:  # mktree: NanoAOD-style Jet_pt + nJet branches
        types = {k: ak.type(v) if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
        f.mktree("Events", types).extend(data)
    stream = frame_batches(
        tmp_path / "s.root",
        "sparse",
        "qg",
        batch_size=5,
        step_size=2,
        label_fn=lambda r: r.label == 1,
    )
    batches = list(stream)
    frames = np.concatenate([b.frames.numpy() for b in batches])
    with uproot.open(tmp_path / "s.root") as f:
        whole = f["Events"].arrays()
    want, rec = build_jet_frames(whole, layout="sparse", channels="qg")
    assert frames.shape == want.shape == (len(rec), 3, 125, 125)
    np.testing.assert_array_equal(frames, want)
    np.testing.assert_array_equal(
        np.concatenate([b.labels.numpy() for b in batches]), rec.label == 1
    )
    assert all(len(b) == 5 for b in batches[:-1])
