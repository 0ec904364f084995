"""The training loop: it learns, stops early, refuses NaN, and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from e2e_coffea.exceptions import BadInputError, TrainingError
from e2e_coffea.models import create_model
from e2e_coffea.train import ArrayBatches, Batch, fit, load_checkpoint, loss_for

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def small_net(n_outputs: int = 1, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("simplenet", 2, n_outputs, width=8, hidden=16, **kw)


def val_loss_of(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return float(loss_for(model)(out, torch.from_numpy(y)))


def test_learns_blob_versus_ring(blobs: Data, tmp_path: Path) -> None:
    xt, yt, xv, yv = blobs
    model = small_net()
    before = val_loss_of(model, xv, yv)
    result = fit(
        model,
        ArrayBatches(xt, yt, batch_size=32, shuffle=True),
        ArrayBatches(xv, yv, batch_size=96),
        epochs=4,
        lr=3e-3,
        device="cpu",
        progress=False,
        metrics_path=tmp_path / "m.json",
    )
    last = result.history[-1]
    assert last["val_auc"] > 0.9
    assert last["val_loss"] < 0.5 * before  # it learned, not just ranked by luck
    assert val_loss_of(model, xv, yv) == pytest.approx(result.best_metric, rel=1e-5)
    records = json.loads((tmp_path / "m.json").read_text())
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert {"train_loss", "val_loss", "val_auc", "n_train", "frames_per_s"} <= set(records[0])
    assert records[0]["n_train"] == len(xt)
    assert records[0]["n_val"] == len(xv)


def test_multiclass_and_regression_losses_fall(blobs: Data) -> None:
    xt, yt, _, _ = blobs
    for model, target in (
        (small_net(3), torch.from_numpy((yt + (xt[:, 0].mean((1, 2)) > 0.3)).astype(np.int64))),
        (small_net(1, task="regression"), torch.from_numpy(xt[:, 0].max((1, 2)))),
    ):
        batches = [
            Batch(torch.from_numpy(xt[i : i + 64]), target[i : i + 64]) for i in range(0, 384, 64)
        ]
        res = fit(model, batches, epochs=3, lr=3e-3, device="cpu", progress=False)
        assert res.monitor == "train_loss"
        assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
        assert "val_auc" not in res.history[-1]


def test_scalars_reach_the_model(blobs: Data) -> None:
    xt, yt, _xv, _yv = blobs
    # the label is in the scalars only: frames are pure noise
    noise = np.random.default_rng(0).random(xt.shape).astype(np.float32)
    sc = np.stack([yt * 2 - 1, np.zeros_like(yt)], 1)
    model = small_net(n_scalars=2)
    res = fit(
        model,
        ArrayBatches(noise, yt, sc, batch_size=64),
        ArrayBatches(noise, yt, sc),
        epochs=3,
        lr=1e-2,
        device="cpu",
        progress=False,
        monitor="val_auc",
    )
    assert res.best_metric == pytest.approx(1.0)


def test_early_stopping(blobs: Data, capsys: pytest.CaptureFixture[str]) -> None:
    xt, yt, xv, yv = blobs
    res = fit(
        small_net(),
        ArrayBatches(xt, yt, batch_size=128),
        ArrayBatches(xv, yv),
        epochs=10,
        lr=0.0,
        patience=2,
        device="cpu",
        progress=True,
        monitor="val_auc",
    )
    assert res.stopped_early
    assert res.epochs_run == 3
    assert res.best_epoch == 1
    # it says so, and why, as it stops
    assert res.stop_reason is not None
    assert res.stop_reason.startswith(
        "early stop at epoch 3/10: val_auc did not improve (by more than 0) for 2 epoch(s); best "
    )
    assert res.stop_reason.endswith("at epoch 1, whose weights are kept")
    assert res.stop_reason in capsys.readouterr().out


def test_nan_loss_stops_without_checkpoint(blobs: Data, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    bad = xt.copy()
    bad[5, 0, 3, 3] = np.nan

    def source(epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(xt[:128], yt[:128])] if epoch == 0 else [(bad[:128], yt[:128])]

    with pytest.raises(TrainingError, match=r"non-finite training loss \(nan\) at epoch 2 batch 0"):
        fit(small_net(), source, epochs=3, device="cpu", progress=False, checkpoint_dir=tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1  # the epoch-1 state, not garbage

    with pytest.raises(TrainingError, match="non-finite"):
        fit(
            small_net(),
            [(bad[:64], yt[:64])],
            epochs=1,
            device="cpu",
            progress=False,
            checkpoint_dir=tmp_path / "fresh",
        )
    assert not (tmp_path / "fresh" / "last.pt").exists()


def _run(
    ckdir: Path, epochs: int, blobs: Data, resume: bool = False
) -> tuple[torch.nn.Module, object]:
    xt, yt, xv, yv = blobs
    model = create_model("simplenet", 2, width=8, hidden=16, dropout=0.3)  # dropout uses the RNG
    res = fit(
        model,
        ArrayBatches(xt, yt, batch_size=64, shuffle=True, seed=3),
        ArrayBatches(xv, yv),
        epochs=epochs,
        lr=2e-3,
        seed=11,
        device="cpu",
        progress=False,
        checkpoint_dir=ckdir,
        resume=resume,
        restore_best=False,
    )
    return model, res


def test_resume_equals_uninterrupted_run(blobs: Data, tmp_path: Path) -> None:
    torch.manual_seed(0)
    full, full_res = _run(tmp_path / "a", 4, blobs)
    torch.manual_seed(0)
    _run(tmp_path / "b", 2, blobs)
    torch.manual_seed(123)  # a differently initialised model: resume must overwrite it
    resumed, res = _run(tmp_path / "b", 4, blobs, resume=True)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for ha, hb in zip(full_res.history, res.history, strict=True):
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=1e-6)
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["epoch"] == 4
    assert ck["model_name"] == "simplenet"
    assert (tmp_path / "b" / "best.pt").is_file()


def test_resume_errors(blobs: Data, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    data = [(xt[:32], yt[:32])]
    with pytest.raises(BadInputError, match="needs checkpoint_dir"):
        fit(small_net(), data, epochs=1, resume=True, device="cpu", progress=False)
    fit(small_net(), data, epochs=1, device="cpu", progress=False, checkpoint_dir=tmp_path)
    other = create_model("resnet15", 2)
    with pytest.raises(TrainingError, match="does not fit this model"):
        fit(
            other,
            data,
            epochs=2,
            resume=True,
            checkpoint_dir=tmp_path,
            device="cpu",
            progress=False,
        )
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="not a readable checkpoint"):
        fit(small_net(), data, epochs=2, resume=tmp_path / "junk.pt", device="cpu", progress=False)
    with pytest.raises(TrainingError, match="no such checkpoint"):
        fit(small_net(), data, epochs=2, resume=tmp_path / "none.pt", device="cpu", progress=False)


def test_bad_arguments_and_data(blobs: Data) -> None:
    xt, yt, _, _ = blobs
    data = [(xt[:32], yt[:32])]
    kw = {"device": "cpu", "progress": False}
    with pytest.raises(BadInputError, match="amp=True needs a CUDA device"):
        fit(small_net(), data, epochs=1, amp=True, **kw)
    with pytest.raises(BadInputError, match="monitor 'val_auc'"):
        fit(small_net(), data, epochs=1, monitor="val_auc", **kw)
    with pytest.raises(BadInputError, match="epochs"):
        fit(small_net(), data, epochs=0, **kw)
    with pytest.raises(BadInputError, match=r"labels must be 0 or 1.*2\.0"):
        fit(small_net(), [(xt[:4], np.array([0, 1, 2, 1], np.float32))], epochs=1, **kw)
    with pytest.raises(BadInputError, match="batch must be"):
        fit(small_net(), [xt[:4]], epochs=1, **kw)
    gen = ((xt[i : i + 32], yt[i : i + 32]) for i in range(0, 64, 32))
    with pytest.raises(TrainingError, match="one-shot generator"):
        fit(small_net(), gen, epochs=2, **kw)


def test_progress_bar_runs(blobs: Data, capsys: pytest.CaptureFixture[str]) -> None:
    xt, yt, xv, yv = blobs
    fit(small_net(), [(xt[:32], yt[:32])], lambda: [(xv[:32], yv[:32])], epochs=1, device="cpu")
    line = capsys.readouterr().out
    assert "epoch 1/1: train_loss=" in line  # the epoch of how many, the loss ...
    assert " val_loss=" in line
    assert " val_auc=" in line  # ... and the validation AUC, every epoch


def test_single_class_validation_gives_null_auc(blobs: Data, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    ones = yt == 1
    res = fit(
        small_net(),
        [(xt[:64], yt[:64])],
        [(xt[ones][:16], yt[ones][:16])],
        epochs=1,
        device="cpu",
        progress=False,
        metrics_path=tmp_path / "m.json",
    )
    assert np.isnan(res.history[0]["val_auc"])
    assert json.loads((tmp_path / "m.json").read_text())[0]["val_auc"] is None  # strict JSON


def test_fit_leaves_the_callers_random_state_alone(blobs: Data) -> None:
    import random

    xt, yt, _, _ = blobs
    model = create_model("simplenet", 2, width=8, hidden=16, dropout=0.3)  # dropout draws
    torch.manual_seed(42)
    np.random.seed(42)  # noqa: NPY002 - the caller's global RNG is what is tested
    random.seed(42)
    expected = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    torch.manual_seed(42)
    np.random.seed(42)  # noqa: NPY002
    random.seed(42)
    fit(model, [(xt[:64], yt[:64])], epochs=1, seed=7, device="cpu", progress=False)
    got = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    torch.testing.assert_close(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_bf16_on_the_cpu_learns_like_fp32(blobs: Data) -> None:
    xt, yt, xv, yv = blobs
    aucs = {}
    for precision in ("fp32", "bf16"):
        res = fit(small_net(), ArrayBatches(xt, yt, batch_size=32, shuffle=True),
                  ArrayBatches(xv, yv, batch_size=96), epochs=3, lr=3e-3, device="cpu",
                  precision=precision, progress=False, monitor="val_auc")  # fmt: skip
        assert res.extra["precision"] == precision
        aucs[precision] = res.best_metric
    assert aucs["bf16"] > 0.9
    assert abs(aucs["bf16"] - aucs["fp32"]) < 0.05


def test_precision_choices() -> None:
    from e2e_coffea.train import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision(cpu).name == "fp32"
    assert resolve_precision(cpu, "bf16").dtype == torch.bfloat16
    assert resolve_precision(cpu, amp=False).name == "fp32"
    with pytest.raises(BadInputError, match="fp16 needs a CUDA device"):
        resolve_precision(cpu, "fp16")
    with pytest.raises(BadInputError, match="unknown precision 'fp8'"):
        resolve_precision(cpu, "fp8")


def test_weighted_loss_and_weighted_validation_auc(blobs: Data) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    xt, yt, xv, yv = blobs
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(xv)).astype(np.float32)
    model = small_net()
    res = fit(model, ArrayBatches(xt[:64], yt[:64], batch_size=64, weights=np.ones(64)),
              ArrayBatches(xv, yv, batch_size=50, weights=w), epochs=1, device="cpu",
              progress=False)  # fmt: skip
    model.eval()
    with torch.no_grad():
        s = model(torch.from_numpy(xv)).reshape(-1).numpy()
    want = metrics.roc_auc_score(yv, s, sample_weight=w)
    assert res.history[0]["val_auc"] == pytest.approx(want, abs=1e-6)
    assert res.history[0]["val_auc_unweighted"] == pytest.approx(
        metrics.roc_auc_score(yv, s), abs=1e-6
    )
    per = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(s), torch.from_numpy(yv), reduction="none"
    )
    assert res.history[0]["val_loss"] == pytest.approx(
        float((per * torch.from_numpy(w)).mean()), rel=1e-4
    )
