"""Our rank-based ROC AUC against scikit-learn, ties and weights included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e2e_coffea.train import roc_auc

metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    s = np.round(rng.normal(size=2000) + y, 1)  # rounding creates many ties
    w = rng.random(2000)
    assert roc_auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    assert roc_auc(y, s, w) == pytest.approx(
        metrics.roc_auc_score(y, s, sample_weight=w), abs=1e-12
    )


def test_auc_edge_cases() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert roc_auc([0, 1, 0, 1], [1.0, 1.0, 1.0, 1.0]) == 0.5
    assert math.isnan(roc_auc([1, 1], [0.3, 0.4]))
    with pytest.raises(ValueError, match="differ in length"):
        roc_auc([0, 1], [0.5])


@pytest.mark.parametrize("classes", [1, 3])
def test_an_empty_split_has_no_auc_and_no_error(classes: int) -> None:
    """A tiny sample can leave the test split empty: NaN (null in the contract), not a crash."""
    from e2e_coffea.train.fitting.evaluate import Outputs, auc_of

    empty = Outputs(np.zeros((0, classes), np.float32), np.zeros(0, np.int64), None)
    assert math.isnan(auc_of(empty))
    assert math.isnan(auc_of(empty, weighted=False))
