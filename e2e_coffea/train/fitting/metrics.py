"""ROC AUC without scikit-learn: ranks, with ties counted half (the Mann-Whitney U), and
its standard error."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["auc_error", "effective_n", "roc_auc"]


def _average_ranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # start index of each run of equal values, and its average 1-based rank
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def roc_auc(
    labels: npt.ArrayLike, scores: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> float:
    """Area under the ROC curve for binary ``labels`` (truthy = signal); NaN if one class is absent.

    With ``weights`` the exact weighted AUC is computed by sorting (O(n log n)).
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.size != s.size:
        msg = f"labels ({y.size}) and scores ({s.size}) differ in length"
        raise ValueError(msg)
    if weights is None:
        n_pos = int(y.sum())
        n_neg = y.size - n_pos
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        r = _average_ranks(s)
        return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
    w = np.asarray(weights, dtype=np.float64).ravel()
    wp, wn = np.where(y, w, 0.0), np.where(y, 0.0, w)
    if wp.sum() <= 0 or wn.sum() <= 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss, wp, wn = s[order], wp[order], wn[order]
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    gp, gn = np.add.reduceat(wp, starts), np.add.reduceat(wn, starts)
    neg_below = np.cumsum(gn) - gn
    return float(np.sum(gp * (neg_below + 0.5 * gn)) / (wp.sum() * wn.sum()))


def effective_n(weights: npt.ArrayLike | None, n: int) -> float:
    """(sum w)^2 / sum w^2: as many unweighted objects as carry the same information
    (``n`` itself without weights)."""
    if weights is None:
        return float(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    w2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / w2 if w2 > 0 else 0.0


def auc_error(auc: float, n_pos: float, n_neg: float) -> float:
    """Standard error of an AUC from (effective) class sizes [Hanley & McNeil, Radiology
    143 (1982) 29]; NaN below two objects per class."""
    if math.isnan(auc) or n_pos <= 1 or n_neg <= 1:
        return float("nan")
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(math.sqrt(max(var, 0.0)))
