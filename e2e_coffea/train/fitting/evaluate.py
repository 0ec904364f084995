"""Model outputs over a stream of batches, and the (weighted) AUC of a classifier.

Used by :func:`~e2e_coffea.train.fit` for validation and by task training for the test split, so both
report the same number the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import softmax
from torch import nn

from ..data.batch import Batch, expect_batch
from ..tasks.definitions import Target, Task
from .metrics import auc_error, effective_n, roc_auc
from .precision import Precision

__all__ = ["Outputs", "auc_of", "predict", "response_of", "test_metrics", "test_sizes"]


@dataclass(frozen=True)
class Outputs:
    """Model outputs (n, k), labels (n,), per-object weights (n,) or None, and the mean
    loss when a loss function was given."""

    outputs: npt.NDArray[np.float32]
    labels: npt.NDArray[Any]
    weights: npt.NDArray[np.float32] | None
    loss: float | None = None

    def __len__(self) -> int:
        return len(self.labels)


def predict(
    model: nn.Module,
    batches: Iterable[Batch],
    device: torch.device,
    precision: Precision | None = None,
    loss: Any = None,
) -> Outputs:
    """Run ``model`` (eval mode, no gradients) over ``batches``; weights are kept when
    every batch has them."""
    model.eval()
    outs: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    weights: list[torch.Tensor | None] = []
    total = 0.0
    p = precision
    with torch.no_grad():
        for item in batches:
            b = expect_batch(item).to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=p.dtype if p else None, enabled=bool(p and p.autocast)
            ):
                out = model(b.frames, b.scalars) if b.scalars is not None else model(b.frames)
            out = out.float()
            if loss is not None:
                total += float(loss(out, b.labels, b.weights)) * len(b)
            outs.append(out.cpu())
            labels.append(b.labels.cpu())
            weights.append(None if b.weights is None else b.weights.cpu())
    n = sum(len(y) for y in labels)
    have_w = bool(weights) and all(w is not None for w in weights)
    return Outputs(
        torch.cat(outs).numpy() if outs else np.zeros((0, 1), np.float32),
        torch.cat(labels).numpy().reshape(-1) if labels else np.zeros(0),
        torch.cat(weights).numpy() if have_w else None,  # type: ignore[arg-type]
        total / n if loss is not None and n else None,
    )


def auc_of(o: Outputs, *, weighted: bool = True) -> float:
    """ROC AUC of a binary classifier (one logit), or the macro one-vs-rest mean over
    classes (softmax of n logits); weighted by ``o.weights`` unless ``weighted=False``."""
    if not len(o):  # an empty split (a tiny sample): no AUC, never an error
        return float("nan")
    w = o.weights if weighted else None
    s = o.outputs.reshape(len(o), -1)
    if s.shape[1] == 1:
        return roc_auc(o.labels, s[:, 0], w)
    p = softmax(s.astype(np.float64), axis=1)
    aucs = [roc_auc(o.labels == k, p[:, k], w) for k in range(s.shape[1])]
    return float("nan") if all(math.isnan(a) for a in aucs) else float(np.nanmean(aucs))


def response_of(o: Outputs, target: Target) -> dict[str, float]:
    """A regression's predicted / true on the objects of ``o`` (outputs and labels in the
    network's units, converted back): the median, the resolution (half the 16-84 %
    interquantile range, as the main job's summary defines it) and the mean squared error
    of the network."""
    pred = target.inverse(o.outputs.reshape(len(o), -1)[:, 0])
    true = target.inverse(o.labels)
    if not len(o):
        return {"response_median": math.nan, "resolution": math.nan, "mse": math.nan}
    r = pred / true
    q16, q50, q84 = np.quantile(r, [0.16, 0.5, 0.84])
    mse = float(np.mean((o.outputs.reshape(len(o), -1)[:, 0] - o.labels) ** 2))
    return {"response_median": float(q50), "resolution": float((q84 - q16) / 2), "mse": mse}


def test_metrics(o: Outputs, task: Task) -> dict[str, Any]:
    """The test split's figures: (weighted and unweighted) AUC of a classifier, with the
    one-vs-rest AUC of each class of a multi-class one; response and resolution of a
    regression."""
    if task.target is not None:
        return {f"test_{k}": v for k, v in response_of(o, task.target).items()}
    out: dict[str, Any] = {"test_auc": auc_of(o), "test_auc_unweighted": auc_of(o, weighted=False)}
    out.update(test_sizes(o, task.classes))
    n_eff = out["test_n_eff"]
    if task.n_outputs > 1 and len(o):
        p = softmax(o.outputs.astype(np.float64), axis=1)
        w = o.weights
        out["test_auc_per_class"] = {
            name: roc_auc(o.labels == k, p[:, k], w) for k, name in enumerate(task.classes)
        }
        total = sum(n_eff.values())
        errs = {
            name: auc_error(out["test_auc_per_class"][name], n_eff[name], total - n_eff[name])
            for name in task.classes
        }
        out["test_auc_per_class_err"] = errs
        # the macro mean's error, as if the per-class errors were fully correlated (an
        # upper bound: they share every object)
        out["test_auc_err"] = float(np.mean(list(errs.values())))
    else:
        neg, pos = task.classes[0], task.classes[-1]
        out["test_auc_err"] = auc_error(out["test_auc"], n_eff[pos], n_eff[neg])
    return out


def test_sizes(o: Outputs, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Test objects per class, their effective number (sum w)^2 / sum w^2, and whether
    the test AUC is weighted (weights other than 1): what an AUC's error rests on."""
    labels = np.asarray(o.labels).astype(np.int64) if len(o) else np.zeros(0, np.int64)
    w = None if o.weights is None else np.asarray(o.weights, dtype=np.float64)
    n, n_eff = {}, {}
    for k, name in enumerate(classes):
        mine = labels == k
        n[name] = int(mine.sum())
        n_eff[name] = effective_n(None if w is None else w[mine], n[name])
    weighted = w is not None and len(w) > 0 and not np.allclose(w, 1.0)
    return {"test_n": n, "test_n_eff": n_eff, "test_auc_weighted": bool(weighted)}
