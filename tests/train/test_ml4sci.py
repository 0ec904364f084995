"""ML4SCI parquet/HDF5: written by the frames writer, read back by training's one reader
(:class:`ML4SCISource`) unit by unit; ragged, foreign and unreadable files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError, FileLayoutError
from e2e_coffea.frames import ObjectCuts
from e2e_coffea.frames.ml4sci_files import ML4SCIWriter, write_ml4sci
from e2e_coffea.train import split_of
from e2e_coffea.train.data.frame_files import ML4SCISource
from e2e_coffea.train.tasks.definitions import get_task

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
h5py = pytest.importorskip("h5py")

NO_CUTS = ObjectCuts(pt_min=0.0, abs_eta_max=10.0, require_in_frame=False)


def sample(n: int = 23, c: int = 3, h: int = 9, w: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "frames": rng.random((n, c, h, w), dtype=np.float32),
        "y": rng.integers(0, 2, n).astype(np.float32),
        "pt": rng.uniform(20, 200, n).astype(np.float32),
        "ieta": rng.integers(0, 56, n),
        "iphi": rng.integers(0, 72, n),
        "m0": rng.uniform(0, 50, n).astype(np.float32),
    }


def source(path: Path, shape: tuple[int, ...] = (3, 9, 7)) -> ML4SCISource:
    return ML4SCISource(path, get_task("qg"), labels="binary", shape=shape, cuts=NO_CUTS)


def read_all(src: ML4SCISource, step: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames, targets and splits of every unit, in file order."""
    chunks = [src.read(a, b) for a, b in src.units(step)]
    x = np.concatenate([c.inputs for c in chunks if c.inputs is not None])
    return x, np.concatenate([c.target for c in chunks]), np.concatenate([c.split for c in chunks])


@pytest.mark.parametrize("suffix", [".parquet", ".h5"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    d = sample()
    n = len(d["y"])
    path = write_ml4sci(
        tmp_path / f"jets{suffix}",
        d["frames"],
        d["y"],
        d["pt"],
        d["ieta"],
        d["iphi"],
        m0=d["m0"],
        extra={"run": np.ones(n, int), "lumi": np.zeros(n, int), "event": np.arange(n)},
    )
    src = source(path)
    x, y, split = read_all(src)
    np.testing.assert_array_equal(x, d["frames"])
    np.testing.assert_array_equal(y, d["y"])
    # the split is split_of on the stored event ids
    np.testing.assert_array_equal(split, split_of(1, 0, np.arange(n)))
    # units read alone give the same rows (HDF5: row ranges; parquet: row groups)
    assert sum(b - a for a, b in src.units(5)) == n
    a0, b0 = src.units(5)[-1]
    np.testing.assert_array_equal(src.read(a0, b0).inputs, d["frames"][a0:b0])


def test_h5_layout_is_channels_last(tmp_path: Path) -> None:
    d = sample()
    write_ml4sci(tmp_path / "a.h5", d["frames"], d["y"], d["pt"], d["ieta"], d["iphi"])
    with h5py.File(tmp_path / "a.h5") as f:
        assert f["X_jets"].shape == (23, 9, 7, 3)
        np.testing.assert_array_equal(f["X_jets"][4, :, :, 1], d["frames"][4, 1])
        assert "m0" not in f


def test_parquet_schema_is_nested_lists(tmp_path: Path) -> None:
    d = sample()
    write_ml4sci(
        tmp_path / "a.parquet", d["frames"], d["y"], d["pt"], d["ieta"], d["iphi"], m0=d["m0"]
    )
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.column_names == ["X_jet", "y", "pt", "ieta", "iphi", "m0"]
    row = table.column("X_jet")[2].as_py()
    np.testing.assert_allclose(np.array(row), d["frames"][2])


def test_reads_foreign_ml4sci_parquet(tmp_path: Path) -> None:
    # like the public ML4SCI files: float64 nested lists written row by row, 'X_jets' spelling
    d = sample(n=6)
    rows = [f.astype(np.float64).tolist() for f in d["frames"]]
    pq.write_table(
        pa.table({"X_jets": rows, "y": d["y"].astype(np.float64), "pt": d["pt"], "m0": d["m0"]}),
        tmp_path / "qg.snappy.parquet",
    )
    src = source(tmp_path / "qg.snappy.parquet")
    x, y, _ = read_all(src)
    np.testing.assert_allclose(x, d["frames"])
    np.testing.assert_array_equal(y, d["y"])
    assert src.image == "X_jets"


def test_incremental_writer(tmp_path: Path) -> None:
    d = sample(n=20)
    for suffix in (".parquet", ".h5"):
        with ML4SCIWriter(tmp_path / f"inc{suffix}") as w:
            for lo in (0, 7, 15):
                hi = {0: 7, 7: 15, 15: 20}[lo]
                w.write(
                    d["frames"][lo:hi],
                    d["y"][lo:hi],
                    d["pt"][lo:hi],
                    d["ieta"][lo:hi],
                    d["iphi"][lo:hi],
                )
        assert w.n == 20
        np.testing.assert_array_equal(read_all(source(tmp_path / f"inc{suffix}"))[0], d["frames"])


def test_errors(tmp_path: Path) -> None:
    d = sample(n=4)
    args = (d["frames"], d["y"], d["pt"], d["ieta"], d["iphi"])
    with pytest.raises(BadInputError, match=r"unknown ML4SCI format '\.npz'"):
        write_ml4sci(tmp_path / "a.npz", *args)
    with pytest.raises(BadInputError, match=r"frames must have shape \(n, C, H, W\)"):
        write_ml4sci(tmp_path / "a.h5", d["frames"][0], *args[1:])
    with pytest.raises(BadInputError, match="column 'pt' must have shape"):
        write_ml4sci(tmp_path / "a.h5", d["frames"], d["y"], d["pt"][:2], d["ieta"], d["iphi"])
    with pytest.raises(BadInputError, match="collides"):
        write_ml4sci(tmp_path / "a.h5", *args, extra={"y": d["y"]})
    with pytest.raises(FileLayoutError, match="no such frames file"):
        source(tmp_path / "none.h5")
    write_ml4sci(tmp_path / "ok.h5", *args)
    with pytest.raises(BadInputError, match=r"frames of shape \(3, 9, 7\), the task needs"):
        source(tmp_path / "ok.h5", shape=(3, 9, 9)).read(0, 4)
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(FileLayoutError, match="not a readable parquet file"):
        source(tmp_path / "junk.parquet")
    pq.write_table(
        pa.table({"X_jet": [[[[1.0, 2.0]]], [[[1.0]]]], "y": [0, 1]}), tmp_path / "ragged.parquet"
    )
    with pytest.raises(FileLayoutError, match="ragged"):
        source(tmp_path / "ragged.parquet", shape=(1, 1, 2)).read(0, 2)
    pq.write_table(pa.table({"img": [1.0], "y": [0]}), tmp_path / "noimg.parquet")
    with pytest.raises(FileLayoutError, match="no frame column"):
        source(tmp_path / "noimg.parquet")
