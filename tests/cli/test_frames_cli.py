"""``e2e-coffea frames``: every object of every file, streamed to npz, parquet or h5, equal
to building the whole file at once; and the streaming npz writer on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import build_eg_frames, build_jet_frames, object_branches
from e2e_coffea.frames.ml4sci_files import nested_to_numpy
from e2e_coffea.frames.npz_stream import NpzFramesWriter
from e2e_coffea.io import read_arrays


def _present(path: Path, branches: list[str], layout: str) -> list[str]:
    """The branches of ``branches`` that the file holds (object kinematics are optional)."""
    from e2e_coffea.io import open_tree

    with open_tree(path, layout) as tree:  # type: ignore[arg-type]
        keys = set(tree.keys())
    return [b for b in branches if b in keys]


def _reference(files: list[Path], layout: str, preset: str, kind: str) -> tuple[np.ndarray, Any]:
    build = build_eg_frames if kind == "eg" else build_jet_frames
    parts = [
        build(
            read_arrays(
                f, _present(f, object_branches(preset, layout, kind), layout), layout=layout
            ),  # type: ignore[arg-type]
            layout=layout,
            channels=preset,
        )
        for f in files
    ]
    return np.concatenate([f for f, _ in parts]), [r for _, r in parts]


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_npz_holds_every_jet_of_every_file(
    sample: Any, tmp_path: Path, layout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [sample.files[("qcd", layout)], sample.files[("tau", layout)]]
    out = tmp_path / "jets.npz"
    code = main(
        [
            "frames",
            *map(str, files),
            "--layout",
            layout,
            "--preset",
            "qg",
            "--chunksize",
            "7",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    ref, recs = _reference(files, layout, "qg", "jet")
    got = np.load(out)
    assert set(got.files) == {
        "frames",
        "event",
        "index",
        "seed_row",
        "seed_col",
        "pt",
        "eta",
        "label",
        "in_frame",
        "channels",
        "label_ids",
        "label_names",
        "normalisation",
    }
    assert len(ref) > 0
    np.testing.assert_array_equal(got["frames"], ref)
    assert list(got["channels"]) == ["track_pt", "ecal", "hcal"]
    n0 = len(recs[0])
    np.testing.assert_array_equal(got["event"], np.concatenate([recs[0].event, recs[1].event + 40]))
    np.testing.assert_array_equal(got["index"][:n0], recs[0].index)
    np.testing.assert_array_equal(got["label"], np.concatenate([r.label for r in recs]))
    assert f"wrote {len(ref)} jet frames" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".parquet", ".h5"])
def test_ml4sci_outputs_stream_the_same_frames(sample: Any, tmp_path: Path, suffix: str) -> None:
    files = [sample.files[("tau", "sparse")]]
    out = tmp_path / f"eg{suffix}"
    assert (
        main(
            [
                "frames",
                str(files[0]),
                "--layout",
                "sparse",
                "--preset",
                "eg",
                "--chunksize",
                "9",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    ref, recs = _reference(files, "sparse", "eg", "eg")
    if suffix == ".h5":  # channels last on disk, as in the public HDF5 files
        import h5py

        with h5py.File(out) as f:
            frames, labels = f["X_jets"][:].transpose(0, 3, 1, 2), f["y"][:]
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        frames, labels = nested_to_numpy(table.column("X_jet"), out), table.column("y").to_numpy()
    np.testing.assert_array_equal(frames, ref)
    np.testing.assert_array_equal(labels, recs[0].label)


def test_npz_writer_round_trip_and_refusals(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 2, 3, 3)).astype(np.float32)
    path = tmp_path / "a.npz"
    with NpzFramesWriter(path, 5, (2, 3, 3)) as w:
        w.write(x[:2], {"pt": np.arange(2.0)})
        w.write(x[2:2], {"pt": np.arange(0.0)})
        w.write(x[2:], {"pt": np.arange(2.0, 5.0)})
        w.close(channels=np.array(["a", "b"]))
    got = np.load(path)
    np.testing.assert_array_equal(got["frames"], x)
    np.testing.assert_array_equal(got["pt"], np.arange(5.0))
    assert list(got["channels"]) == ["a", "b"]

    with NpzFramesWriter(tmp_path / "b.npz", 2, (2, 3, 3)) as w:
        with pytest.raises(
            BadInputError, match=r"frames of shape \(2, 3, 4\) do not match the file's \(2, 3, 3\)"
        ):
            w.write(np.zeros((1, 2, 3, 4), np.float32), {})
        with pytest.raises(BadInputError, match="column 'pt' has"):
            w.write(x[:2], {"pt": np.arange(3.0)})
        with pytest.raises(BadInputError, match="3 frames written, more than the 2 announced"):
            w.write(x[:3], {})
        w.write(x[:1], {})
        with pytest.raises(BadInputError, match=r"1 frames written, 2 announced: .*b\.npz removed"):
            w.close()
    assert not (tmp_path / "b.npz").exists()

    with (
        pytest.raises(RuntimeError, match="boom"),
        NpzFramesWriter(tmp_path / "c.npz", 1, (1,)) as w,
    ):
        raise RuntimeError("boom")
    assert not (tmp_path / "c.npz").exists()  # an interrupted conversion leaves nothing
