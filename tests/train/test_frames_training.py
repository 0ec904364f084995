"""Training from frames files (our npz, ML4SCI parquet/HDF5): the same objects as from the
ROOT files they were made from; and the pairings and inputs ``train`` refuses up front."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import ObjectCuts
from e2e_coffea.train import RootTaskSource
from e2e_coffea.train.data.frame_files import frames_source
from e2e_coffea.train.tasks.definitions import get_task
from e2e_coffea.train.tasks.pairing import pair_model_and_task


@pytest.mark.parametrize("suffix", [".npz", ".parquet", ".h5"])
def test_frames_files_give_the_objects_of_the_root_files(
    tau_sources: Any, tmp_path: Path, suffix: str
) -> None:
    task = get_task("tau")
    pair = pair_model_and_task("simplenet", task, dry_run=False)
    # ML4SCI files carry no in_frame column: compare without that cut there
    cuts = ObjectCuts() if suffix == ".npz" else ObjectCuts(require_in_frame=False)
    for src in tau_sources("sparse"):
        src = RootTaskSource(src.name, "Events", src.target, task, pair.inputs, cuts=cuts)
        out = tmp_path / f"{Path(src.name).name.split('.')[0]}{suffix}"
        argv = ["frames", src.name, "--layout", "sparse", "--preset", "tau13", "--norm", "tau13"]
        assert main([*argv, "--out", str(out)]) == 0
        labels = None if suffix == ".npz" else "truth"
        frames = frames_source(out, task, channels=pair.channels, labels=labels, cuts=cuts)
        got = [frames.read(a, b) for a, b in frames.units(16)]
        want = [src.read(a, b) for a, b in src.units(16)]
        # a frames file classes objects by truth alone: keep those of the file's process
        mine = np.flatnonzero(np.concatenate([g.target for g in got]) == src.target)
        ref = np.concatenate([w.inputs for w in want])
        assert len(ref) > 0
        np.testing.assert_array_equal(np.concatenate([g.inputs for g in got])[mine], ref)
        scan = np.concatenate([frames.scan(a, b).pt for a, b in frames.units(16)])
        np.testing.assert_array_equal(scan[mine], np.concatenate([w.pt for w in want]))


def test_refusals_exit_2_with_one_line(
    train_sample: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fs = str(train_sample.fileset["sparse"])
    pq = tmp_path / "x.parquet"
    pq.write_bytes(b"")
    cases = [
        (["--task", "eg", "--model", "particle_gnn", "--fileset", fs], "takes jet point clouds"),
        (
            ["--task", "tau", "--model", "vit", "--fileset", fs, "--model-option", "img_size=32"],
            "built for img_size=32",
        ),
        (
            ["--task", "tau", "--model", "simplenet", "--fileset", fs, "--max-points", "8"],
            "point-cloud options",
        ),
        (
            ["--task", "tau", "--model", "particle_gnn", "--fileset", fs, "--max-points", "4"],
            "selected index k out of range",
        ),
        (
            ["--task", "tau", "--model", "simplenet", "--frames", str(pq), "--fileset", fs],
            "not both",
        ),
        (["--task", "tau", "--model", "simplenet", "--frames", str(pq)], "--labels truth"),
        (
            ["--task", "btag", "--model", "simplenet", "--frames", str(pq), "--labels", "truth"],
            "labels its objects by 'hadron_flavour'",
        ),
        (
            ["--task", "tau", "--model", "simplenet", "--fileset", fs, "--precision", "fp16"],
            "fp16 needs a CUDA device",
        ),
    ]
    for args, match in cases:
        rc = main(["train", *args, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert rc == 2, (args, err)
        assert len(err.splitlines()) == 1, err
        assert match in err, err
        assert not (tmp_path / "o").exists()


def test_train_on_public_style_ml4sci_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0/1 labels (--labels binary), frames of the task's shape, trained through the CLI."""
    from e2e_coffea.export import load_contract
    from e2e_coffea.frames.ml4sci_files import write_ml4sci

    rng = np.random.default_rng(0)
    n = 160
    y = rng.integers(0, 2, n)
    x = rng.random((n, 3, 125, 125), dtype=np.float32) * 0.1
    x[y == 1, 0, 55:70, 55:70] += 1.0  # the signal: a central blob in the first channel
    pt = 80 + 200 * rng.random(n)  # inside the qg task's range, 70-340 GeV
    extra = {"run": np.ones(n, np.int64), "lumi": np.ones(n, np.int64), "event": np.arange(n)}
    write_ml4sci(tmp_path / "qg.h5", x, y, pt, np.zeros(n), np.zeros(n), extra=extra)
    argv = ["train", "--task", "qg", "--model", "simplenet", "--frames", str(tmp_path / "qg.h5"),
            "--labels", "binary", "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path),
            "--model-option", "width=4", "--model-option", "hidden=8"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1: train_loss=" in out  # progress: epoch, loss, validation AUC
    test_line = next(x for x in out.splitlines() if x.startswith("test AUC "))
    assert " +- " in test_line  # with its error, its size per class, unweighted
    assert "(unweighted; test objects gluon " in test_line
    assert "ran all 1 epoch(s)" in out
    c = load_contract(tmp_path / "my_qg_simplenet.onnx")
    assert c.provenance["frames"] == [str(tmp_path / "qg.h5")]
    assert c.provenance["labels"] == "binary"
    assert c.normalisation["name"] == "none"  # what --norm declared
    assert c.metrics["val_auc"] > 0.6
    task = get_task("qg")
    bad = tmp_path / "bad.h5"
    write_ml4sci(bad, x[:4, :, :32, :32], np.r_[0, 1, 2, 1], pt[:4], np.zeros(4), np.zeros(4))
    with pytest.raises(BadInputError, match="needs 0/1"):
        frames_source(bad, task, channels=("a", "b", "c"), labels="binary").scan(0, 4)
    with pytest.raises(BadInputError, match=r"needs \(3, 125, 125\)"):
        frames_source(bad, task, channels=("a", "b", "c"), labels="truth").read(0, 4)


@pytest.mark.parametrize(
    ("option", "match"),
    [
        (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
        (["--lr", "-1"], "--lr must be a finite number > 0"),
        (["--seed", str(2**63)], r"--seed must be an integer in 0..2\*\*63-1"),
        (["--epochs", "0"], "--epochs must be a positive integer"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--loader-workers", "-1"], "--loader-workers must be >= 0"),
        (["--chunksize", "0"], "--chunksize must be a positive integer"),
    ],
)
def test_bad_numbers_exit_2_before_anything_is_written(
    tmp_path: Path, capsys: Any, option: list[str], match: str
) -> None:
    import re

    from e2e_coffea.cli import main

    out = tmp_path / "models"
    args = [
        "train",
        "--task",
        "tau",
        "--model",
        "simplenet",
        "--fileset",
        str(tmp_path / "fs.json"),
        *option,
        "--out",
        str(out),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # no empty output folder left behind
