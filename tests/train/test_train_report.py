"""``train`` reports as a physicist expects: the test AUC with its error, the test size per
class and the weighting, and a default name that is never a shipped tagger's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from e2e_coffea.cli.train import report_lines
from e2e_coffea.inference.shipped import list_taggers
from e2e_coffea.models import list_models
from e2e_coffea.train.fitting import evaluate  # not its test_* functions: pytest would collect them
from e2e_coffea.train.fitting.evaluate import Outputs
from e2e_coffea.train.fitting.metrics import auc_error
from e2e_coffea.train.tasks.definitions import TASKS, get_task
from e2e_coffea.train.tasks.training import TrainConfig


def test_the_default_name_is_never_a_shipped_tagger() -> None:
    shipped = set(list_taggers())
    assert "tau_simplenet" in shipped  # the collision the old default made
    for task in TASKS:
        for model in list_models():
            assert TrainConfig(task, model, Path("models")).tag not in shipped, (task, model)
    assert TrainConfig("tau", "simplenet", Path("m"), name="mine").tag == "mine"


def _outputs(weights: np.ndarray | None) -> Outputs:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(30), np.ones(20)].astype(np.float32)
    scores = (labels + rng.normal(0, 1, 50)).astype(np.float32).reshape(-1, 1)
    return Outputs(scores, labels, weights)


def test_the_test_auc_comes_with_its_error_size_and_weighting() -> None:
    task = get_task("tau")  # classes (qcd, tau)
    plain = evaluate.test_metrics(_outputs(None), task)
    assert plain["test_n"] == {"qcd": 30, "tau": 20}
    assert plain["test_n_eff"] == {"qcd": 30.0, "tau": 20.0}
    assert plain["test_auc_weighted"] is False
    assert plain["test_auc_err"] == pytest.approx(auc_error(plain["test_auc"], 20, 30))
    assert 0.03 < plain["test_auc_err"] < 0.1  # 50 objects: a few per cent
    # ten background objects carry almost all the weight: fewer effective objects, a larger error
    w = np.r_[np.full(10, 50.0), np.ones(20), np.ones(20)].astype(np.float32)
    weighted = evaluate.test_metrics(_outputs(w), task)
    assert weighted["test_auc_weighted"] is True
    assert weighted["test_n"] == {"qcd": 30, "tau": 20}
    assert weighted["test_n_eff"]["qcd"] == pytest.approx(520**2 / (10 * 2500 + 20))
    assert weighted["test_auc_err"] > plain["test_auc_err"]


def test_the_report_says_error_size_weighting_and_the_stop() -> None:
    info = {
        "path": "models/my_tau_simplenet.onnx", "test_auc": 0.9123, "test_auc_err": 0.0312,
        "test_auc_unweighted": 0.9011, "test_auc_weighted": True,
        "test_n": {"qcd": 14, "tau": 13}, "test_n_eff": {"qcd": 8.04, "tau": 12.9},
        "epochs_run": 5, "stop_reason": "early stop at epoch 5/20: val_auc did not improve",
    }  # fmt: skip
    assert report_lines(info) == [
        "test AUC 0.9123 +- 0.0312 (weighted; effective objects qcd 8.0, tau 12.9; "
        "test objects qcd 14, tau 13)",
        "test AUC unweighted 0.9011",
        "early stop at epoch 5/20: val_auc did not improve",
        "wrote models/my_tau_simplenet.onnx",
    ]
    plain = {**info, "test_auc_weighted": False, "stop_reason": None}
    assert report_lines(plain)[0] == (
        "test AUC 0.9123 +- 0.0312 (unweighted; test objects qcd 14, tau 13)"
    )
    assert report_lines(plain)[1] == "ran all 5 epoch(s)"
