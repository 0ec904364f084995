"""The training loop: it learns, stops early, refuses NaN, and resumes exactly.

Batches reach it the one way training has: arrays as an ``ArraySource``, indexed and
streamed by ``ObjectStream`` (the ``streams`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from e2e_coffea.exceptions import BadInputError, TrainingError
from e2e_coffea.models import create_model
from e2e_coffea.train import (
    Batch,
    ObjectStream,
    fit,
    fit_reweighting,
    load_checkpoint,
    loss_for,
)
from e2e_coffea.train.tasks.definitions import Target

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def batches(streams: Any, x: np.ndarray, y: np.ndarray, size: int = 64) -> list[Batch]:
    """One epoch of the stream of ``(x, y)``, as a list (what ``fit`` also takes)."""
    return list(streams(x, y, batch_size=size)[0])


class PerEpoch:
    """Other batches in each epoch, chosen by ``set_epoch`` as an ObjectStream does."""

    def __init__(self, *epochs: list[Batch]) -> None:
        self.epochs, self.epoch = epochs, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Any:
        return iter(self.epochs[min(self.epoch, len(self.epochs) - 1)])


def small_net(n_outputs: int = 1, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("simplenet", 2, n_outputs, width=8, hidden=16, **kw)


def val_loss_of(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return float(loss_for(model)(out, torch.from_numpy(y)))


def test_learns_blob_versus_ring(blobs: Data, streams: Any, tmp_path: Path) -> None:
    xt, yt, xv, yv = blobs
    model = small_net()
    before = val_loss_of(model, xv, yv)
    result = fit(
        model,
        *streams(xt, yt, xv, yv, batch_size=32, shuffle_buffer=len(xt)),
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


def test_multiclass_and_regression_losses_fall(blobs: Data, streams: Any) -> None:
    xt, yt, _, _ = blobs
    three = (yt + (xt[:, 0].mean((1, 2)) > 0.3)).astype(np.int64)
    peak = Target("peak", "", "none", "peak")
    for model, train in (
        (small_net(3), streams(xt, three, class_names=("a", "b", "c"))[0]),
        (small_net(1, task="regression"),
         streams(xt, np.zeros(len(xt)), source={"value": xt[:, 0].max((1, 2))}, target=peak)[0]),
    ):  # fmt: skip
        res = fit(model, train, epochs=3, lr=3e-3, device="cpu", progress=False)
        assert res.monitor == "train_loss"
        assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
        assert "val_auc" not in res.history[-1]


def test_scalars_reach_the_model(blobs: Data, streams: Any) -> None:
    xt, yt, _xv, _yv = blobs
    # the label is in the scalars only: frames are pure noise
    noise = np.random.default_rng(0).random(xt.shape).astype(np.float32)
    sc = np.stack([yt * 2 - 1, np.zeros_like(yt)], 1)
    model = small_net(n_scalars=2)
    norm = (np.zeros(2), np.ones(2))  # the stream standardises the scalars with these
    res = fit(
        model,
        *streams(noise, yt, noise, yt, source={"scalars": np.vstack([sc, sc])}, scalar_norm=norm),
        epochs=3,
        lr=1e-2,
        device="cpu",
        progress=False,
        monitor="val_auc",
    )
    assert res.best_metric == pytest.approx(1.0)


def test_early_stopping(blobs: Data, streams: Any, capsys: pytest.CaptureFixture[str]) -> None:
    xt, yt, xv, yv = blobs
    res = fit(
        small_net(),
        *streams(xt, yt, xv, yv, batch_size=128),
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


def test_nan_loss_stops_without_checkpoint(blobs: Data, streams: Any, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    bad = xt.copy()
    bad[5, 0, 3, 3] = np.nan
    source = PerEpoch(batches(streams, xt[:128], yt[:128], 128),
                      batches(streams, bad[:128], yt[:128], 128))  # fmt: skip

    with pytest.raises(TrainingError, match=r"non-finite training loss \(nan\) at epoch 2 batch 0"):
        fit(small_net(), source, epochs=3, device="cpu", progress=False, checkpoint_dir=tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1  # the epoch-1 state, not garbage

    with pytest.raises(TrainingError, match="non-finite"):
        fit(
            small_net(),
            batches(streams, bad[:64], yt[:64]),
            epochs=1,
            device="cpu",
            progress=False,
            checkpoint_dir=tmp_path / "fresh",
        )
    assert not (tmp_path / "fresh" / "last.pt").exists()


def _run(
    ckdir: Path, epochs: int, train: tuple[ObjectStream, ObjectStream], resume: bool = False
) -> tuple[torch.nn.Module, object]:
    model = create_model("simplenet", 2, width=8, hidden=16, dropout=0.3)  # dropout uses the RNG
    res = fit(
        model,
        *train,
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


def test_resume_equals_uninterrupted_run(blobs: Data, streams: Any, tmp_path: Path) -> None:
    def data() -> tuple[ObjectStream, ObjectStream]:
        return streams(*blobs, shuffle_buffer=100, seed=3)

    torch.manual_seed(0)
    full, full_res = _run(tmp_path / "a", 4, data())
    torch.manual_seed(0)
    _run(tmp_path / "b", 2, data())
    torch.manual_seed(123)  # a differently initialised model: resume must overwrite it
    resumed, res = _run(tmp_path / "b", 4, data(), resume=True)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for ha, hb in zip(full_res.history, res.history, strict=True):
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=1e-6)
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["epoch"] == 4
    assert ck["model_name"] == "simplenet"
    assert (tmp_path / "b" / "best.pt").is_file()


def test_resume_errors(blobs: Data, streams: Any, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    data = batches(streams, xt[:32], yt[:32])
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


def test_bad_arguments_and_data(blobs: Data, streams: Any) -> None:
    xt, yt, _, _ = blobs
    data = batches(streams, xt[:32], yt[:32])
    kw = {"device": "cpu", "progress": False}
    with pytest.raises(TypeError, match="unexpected keyword argument 'amp'"):
        fit(small_net(), data, epochs=1, amp=True, **kw)  # the 0.1.0 switch: use precision
    with pytest.raises(BadInputError, match="precision fp16 needs a CUDA device"):
        fit(small_net(), data, epochs=1, precision="fp16", **kw)
    with pytest.raises(BadInputError, match="monitor 'val_auc'"):
        fit(small_net(), data, epochs=1, monitor="val_auc", **kw)
    with pytest.raises(BadInputError, match="epochs"):
        fit(small_net(), data, epochs=0, **kw)
    three = Batch(torch.from_numpy(xt[:4]), torch.tensor([0, 1, 2, 1.0]))
    with pytest.raises(BadInputError, match=r"labels must be 0 or 1.*2\.0"):
        fit(small_net(), [three], epochs=1, **kw)
    with pytest.raises(BadInputError, match=r"a batch must be a Batch .*got ndarray"):
        fit(small_net(), [xt[:4]], epochs=1, **kw)
    with pytest.raises(BadInputError, match=r"a batch must be a Batch .*got tuple"):
        fit(small_net(), [(xt[:4], yt[:4])], epochs=1, **kw)  # tuples are no second feeder
    gen = (b for b in data)
    with pytest.raises(TrainingError, match="one-shot generator"):
        fit(small_net(), gen, epochs=2, **kw)


def test_progress_bar_runs(blobs: Data, streams: Any, capsys: pytest.CaptureFixture[str]) -> None:
    xt, yt, xv, yv = blobs
    fit(small_net(), *streams(xt[:32], yt[:32], xv[:32], yv[:32]), epochs=1, device="cpu")
    line = capsys.readouterr().out
    assert "epoch 1/1: train_loss=" in line  # the epoch of how many, the loss ...
    assert " val_loss=" in line
    assert " val_auc=" in line  # ... and the validation AUC, every epoch


def test_single_class_validation_gives_null_auc(blobs: Data, streams: Any, tmp_path: Path) -> None:
    xt, yt, _, _ = blobs
    ones = yt == 1
    res = fit(
        small_net(),
        *streams(xt[:64], yt[:64], xt[ones][:16], yt[ones][:16]),
        epochs=1,
        device="cpu",
        progress=False,
        metrics_path=tmp_path / "m.json",
    )
    assert np.isnan(res.history[0]["val_auc"])
    assert json.loads((tmp_path / "m.json").read_text())[0]["val_auc"] is None  # strict JSON


def test_fit_leaves_the_callers_random_state_alone(blobs: Data, streams: Any) -> None:
    import random

    xt, yt, _, _ = blobs
    data = batches(streams, xt[:64], yt[:64])
    model = create_model("simplenet", 2, width=8, hidden=16, dropout=0.3)  # dropout draws
    torch.manual_seed(42)
    np.random.seed(42)  # noqa: NPY002 - the caller's global RNG is what is tested
    random.seed(42)
    expected = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    torch.manual_seed(42)
    np.random.seed(42)  # noqa: NPY002
    random.seed(42)
    fit(model, data, epochs=1, seed=7, device="cpu", progress=False)
    got = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    torch.testing.assert_close(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_bf16_on_the_cpu_learns_like_fp32(blobs: Data, streams: Any) -> None:
    xt, yt, xv, yv = blobs
    aucs = {}
    for precision in ("fp32", "bf16"):
        res = fit(small_net(), *streams(xt, yt, xv, yv, batch_size=32, shuffle_buffer=len(xt)),
                  epochs=3, lr=3e-3, device="cpu",
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
    assert resolve_precision(cpu, "auto").name == "fp32"
    with pytest.raises(BadInputError, match="fp16 needs a CUDA device"):
        resolve_precision(cpu, "fp16")
    with pytest.raises(BadInputError, match="unknown precision 'fp8'"):
        resolve_precision(cpu, "fp8")


def test_weighted_loss_and_weighted_validation_auc(blobs: Data, streams: Any) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    xt, yt, xv, yv = blobs
    pt = np.random.default_rng(1).uniform(20.0, 200.0, len(xt[:64]) + len(xv)).astype(np.float32)
    train, val = streams(xt[:64], yt[:64], xv, yv, val_batch_size=50, source={"pt": pt})
    # weights per object from the stream's reweighting, as training makes them
    rw = fit_reweighting("pt", train.index.pt, n_pt_bins=4, min_count=5)
    train.reweighting = val.reweighting = rw
    model = small_net()
    res = fit(model, train, val, epochs=1, device="cpu", progress=False)
    got = list(val)
    x = torch.cat([b.frames for b in got])
    y = torch.cat([b.labels for b in got]).numpy()
    w = torch.cat([b.weights for b in got]).numpy()
    assert len(np.unique(w)) > 2  # the weights matter: else weighted = unweighted
    model.eval()
    with torch.no_grad():
        s = model(x).reshape(-1).numpy()
    want = metrics.roc_auc_score(y, s, sample_weight=w)
    assert res.history[0]["val_auc"] == pytest.approx(want, abs=1e-6)
    assert res.history[0]["val_auc_unweighted"] == pytest.approx(
        metrics.roc_auc_score(y, s), abs=1e-6
    )
    per = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(s), torch.from_numpy(y), reduction="none"
    )
    assert res.history[0]["val_loss"] == pytest.approx(
        float((per * torch.from_numpy(w)).mean()), rel=1e-4
    )
