"""ML4SCI parquet/HDF5: write, read back in batches, ragged and foreign files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from e2e_coffea.exceptions import BadInputError, FileLayoutError
from e2e_coffea.models import create_model
from e2e_coffea.train import ML4SCIDataset, ML4SCIWriter, fit, split_of, write_ml4sci

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
h5py = pytest.importorskip("h5py")


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


def read_all(ds: ML4SCIDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    batches = list(ds)
    x = np.concatenate([b.frames.numpy() for b in batches])
    y = np.concatenate([b.labels.numpy() for b in batches])
    s = None if batches[0].scalars is None else np.concatenate([b.scalars.numpy() for b in batches])
    return x, y, s


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
    ds = ML4SCIDataset(path, batch_size=5, scalars=("ieta", "iphi"), block_size=8)
    assert len(ds) == n
    sizes = [len(b) for b in ds]
    assert sizes == [5, 5, 5, 5, 3]  # exact batches across 8-row blocks
    x, y, s = read_all(ds)
    np.testing.assert_array_equal(x, d["frames"])
    np.testing.assert_array_equal(y, d["y"])
    np.testing.assert_array_equal(s, np.stack([d["ieta"], d["iphi"]], 1).astype(np.float32))
    _, m0, _ = read_all(ML4SCIDataset(path, batch_size=50, target="m0"))
    np.testing.assert_array_equal(m0, d["m0"])
    # split selection agrees with split_of on the stored event ids
    want = split_of(1, 0, np.arange(n), (0.5, 0.25, 0.25)) == 1
    _, yv, _ = read_all(ML4SCIDataset(path, batch_size=4, split="val", fractions=(0.5, 0.25, 0.25)))
    np.testing.assert_array_equal(yv, d["y"][want])


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
    ds = ML4SCIDataset(tmp_path / "qg.snappy.parquet", batch_size=4)
    x, _y, _ = read_all(ds)
    np.testing.assert_allclose(x, d["frames"])
    assert ds.image_column == "X_jets"


def test_shuffle_is_a_permutation_per_epoch(tmp_path: Path) -> None:
    d = sample(n=40)
    ids = np.arange(40)
    write_ml4sci(tmp_path / "a.h5", d["frames"], ids, d["pt"], d["ieta"], d["iphi"])
    ds = ML4SCIDataset(tmp_path / "a.h5", batch_size=8, shuffle=True, seed=5, block_size=40)
    e0 = read_all(ds)[1]
    ds.set_epoch(1)
    e1 = read_all(ds)[1]
    assert sorted(e0.tolist()) == sorted(e1.tolist()) == ids.tolist()
    assert not np.array_equal(e0, e1)
    ds.set_epoch(0)
    np.testing.assert_array_equal(read_all(ds)[1], e0)


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
        np.testing.assert_array_equal(
            read_all(ML4SCIDataset(tmp_path / f"inc{suffix}"))[0], d["frames"]
        )


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
    with pytest.raises(FileLayoutError, match="no such file"):
        ML4SCIDataset(tmp_path / "none.h5")
    write_ml4sci(tmp_path / "ok.h5", *args)
    with pytest.raises(FileLayoutError, match=r"missing column\(s\) \['m0'\]"):
        ML4SCIDataset(tmp_path / "ok.h5", target="m0")
    with pytest.raises(FileLayoutError, match=r"missing column.*'run'"):
        ML4SCIDataset(tmp_path / "ok.h5", split="train")
    with pytest.raises(BadInputError, match="split must be one of"):
        ML4SCIDataset(tmp_path / "ok.h5", split="training")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(FileLayoutError, match="not a readable parquet file"):
        ML4SCIDataset(tmp_path / "junk.parquet")
    pq.write_table(
        pa.table({"X_jet": [[[[1.0, 2.0]]], [[[1.0]]]], "y": [0, 1]}), tmp_path / "ragged.parquet"
    )
    with pytest.raises(FileLayoutError, match="ragged"):
        list(ML4SCIDataset(tmp_path / "ragged.parquet"))
    pq.write_table(pa.table({"img": [1.0], "y": [0]}), tmp_path / "noimg.parquet")
    with pytest.raises(FileLayoutError, match="no frame column"):
        ML4SCIDataset(tmp_path / "noimg.parquet")


def test_fit_streams_from_a_file(tmp_path: Path) -> None:
    d = sample(n=64, c=2, h=16, w=16)
    write_ml4sci(tmp_path / "t.parquet", d["frames"], d["y"], d["pt"], d["ieta"], d["iphi"])
    torch.manual_seed(0)
    model = create_model("simplenet", 2, width=4, hidden=8)
    ds = ML4SCIDataset(tmp_path / "t.parquet", batch_size=16, shuffle=True)
    res = fit(model, ds, ds, epochs=2, device="cpu", progress=False)
    assert res.history[-1]["n_train"] == 64
    assert res.history[-1]["n_val"] == 64
