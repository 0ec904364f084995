"""ROC curves, AUCs and efficiencies computed from score histograms.

Working from histograms (not raw scores) is what makes the result mergeable across
chunks and workers: the fine binning (1000 bins in [0, 1]) bounds the error, which we
report alongside the statistical uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError

__all__ = ["RocCurve", "auc_binning_bound", "roc_from_counts", "roc_from_hists"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RocCurve:
    """Efficiencies for cuts ``score >= edge`` at every bin edge, tightest cut last."""

    thresholds: FloatArray
    signal_eff: FloatArray
    background_eff: FloatArray
    auc: float
    auc_err: float
    binning_err: float
    n_signal: float
    """Effective signal objects, (sum w)^2 / sum w^2 (the count itself when unweighted)."""
    n_background: float
    """Effective background objects, as :attr:`n_signal`."""
    weighted: bool = False
    """Whether the objects carried weights other than 1 (then n_* are effective counts)."""
    background_eff_err: FloatArray | None = None
    """Standard error of each :attr:`background_eff` (weighted binomial, normal
    approximation): the band that shows where the background runs out."""

    def describe(self) -> str:
        """``"weighted: effective objects signal 20.3, background 26.1"`` or
        ``"unweighted: signal 20, background 26 objects"``: what every printed AUC says."""
        if self.weighted:
            return (
                f"weighted: effective objects signal {self.n_signal:.1f}, "
                f"background {self.n_background:.1f}"
            )
        return f"unweighted: signal {self.n_signal:.0f}, background {self.n_background:.0f} objects"

    def weighting(self) -> dict[str, Any]:
        """What an AUC in summary.json rests on: whether it is weighted, and the
        effective objects per class, (sum w)^2 / sum w^2."""
        return {
            "auc_weighted": self.weighted,
            "n_eff": {"signal": self.n_signal, "background": self.n_background},
        }

    def curve(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(signal efficiency, background rejection, its lower and upper 1-sigma edge) at
        every cut that still keeps background: the curve stops where the background runs
        out, and the band reaches to infinite rejection where a cut keeps about one
        effective background object (``inf`` upper edge)."""
        ok = self.background_eff > 0
        eff, sig = self.background_eff[ok], self.signal_eff[ok]
        err = np.zeros_like(eff) if self.background_eff_err is None else self.background_eff_err[ok]
        with np.errstate(divide="ignore"):
            hi = np.where(eff - err > 0, 1 / np.maximum(eff - err, 1e-300), np.inf)
        return sig, 1 / eff, 1 / (eff + err), hi

    def signal_eff_at(self, background_eff: float) -> float:
        """Signal efficiency where the background efficiency equals ``background_eff``."""
        if not 0.0 < background_eff <= 1.0:
            msg = f"background efficiency must be in (0, 1], got {background_eff}"
            raise BadInputError(msg)
        # background_eff decreases with the threshold; np.interp wants increasing x
        return float(np.interp(background_eff, self.background_eff[::-1], self.signal_eff[::-1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "auc_err": self.auc_err,
            "binning_err": self.binning_err,
            "n_signal": self.n_signal,
            "n_background": self.n_background,
            "weighted": self.weighted,
        }


def _effective_n(sumw: FloatArray, sumw2: FloatArray | None) -> float:
    w = float(sumw.sum())
    if sumw2 is None:
        return w
    w2 = float(sumw2.sum())
    return w * w / w2 if w2 > 0 else 0.0


def roc_from_counts(
    signal: npt.ArrayLike,
    background: npt.ArrayLike,
    edges: npt.ArrayLike,
    *,
    signal_var: npt.ArrayLike | None = None,
    background_var: npt.ArrayLike | None = None,
) -> RocCurve:
    """ROC from per-bin weights; ties inside a bin count one half, like sklearn's ties."""
    s = np.asarray(signal, dtype=np.float64)
    b = np.asarray(background, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    if s.shape != b.shape or e.shape != (s.size + 1,):
        msg = f"signal {s.shape}, background {b.shape} and edges {e.shape} do not match"
        raise BadInputError(msg)
    s_tot, b_tot = float(s.sum()), float(b.sum())
    if s_tot <= 0 or b_tot <= 0:
        msg = f"a ROC needs both classes: signal weight {s_tot}, background weight {b_tot}"
        raise BadInputError(msg)
    # efficiency of "score >= edge[i]": cumulative sums from the top
    sig_eff = np.concatenate([np.cumsum(s[::-1])[::-1], [0.0]]) / s_tot
    bkg_eff = np.concatenate([np.cumsum(b[::-1])[::-1], [0.0]]) / b_tot
    # P(score_s > score_b) + 0.5 P(same bin): trapezoids under (bkg_eff, sig_eff)
    auc = float(np.sum((bkg_eff[:-1] - bkg_eff[1:]) * (sig_eff[:-1] + sig_eff[1:]) / 2))
    s_var = None if signal_var is None else np.asarray(signal_var, np.float64)
    b_var = None if background_var is None else np.asarray(background_var, np.float64)
    n_s = _effective_n(s, s_var)
    n_b = _effective_n(b, b_var)
    weighted = any(v is not None and not np.allclose(v, w) for v, w in ((s_var, s), (b_var, b)))
    return RocCurve(
        thresholds=e,
        signal_eff=sig_eff,
        background_eff=bkg_eff,
        auc=auc,
        auc_err=_hanley_mcneil(auc, n_s, n_b),
        binning_err=auc_binning_bound(s, b),
        n_signal=n_s,
        n_background=n_b,
        weighted=weighted,
        background_eff_err=_efficiency_err(b, b if b_var is None else b_var),
    )


def _efficiency_err(w: FloatArray, w2: FloatArray) -> FloatArray:
    """Standard error of the efficiency of ``score >= edge`` for every edge, from the
    per-bin sums of weights and of squared weights: var = ((1-e)^2 W2_pass + e^2 W2_fail) /
    W^2, which is the binomial e(1-e)/N for unit weights."""
    total = float(w.sum())
    w2_pass = np.concatenate([np.cumsum(w2[::-1])[::-1], [0.0]])
    eff = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]]) / total
    var = ((1 - eff) ** 2 * w2_pass + eff**2 * (float(w2.sum()) - w2_pass)) / total**2
    return np.asarray(np.sqrt(np.maximum(var, 0.0)), dtype=np.float64)


def auc_binning_bound(signal: npt.ArrayLike, background: npt.ArrayLike) -> float:
    """Largest change of the AUC that orderings hidden inside bins could cause."""
    s = np.asarray(signal, dtype=np.float64)
    b = np.asarray(background, dtype=np.float64)
    return float(0.5 * np.sum(s * b) / (s.sum() * b.sum()))


def _hanley_mcneil(auc: float, n_s: float, n_b: float) -> float:
    """Standard error of an AUC [Hanley & McNeil, Radiology 143 (1982) 29]."""
    if n_s <= 1 or n_b <= 1:
        return float("nan")
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_s - 1) * (q1 - auc**2) + (n_b - 1) * (q2 - auc**2)) / (n_s * n_b)
    return float(np.sqrt(max(var, 0.0)))


def roc_from_hists(signal_hist: Any, background_hist: Any) -> RocCurve:
    """ROC from two 1D ``hist.Hist`` score histograms with the same axis."""
    for h in (signal_hist, background_hist):
        if h.ndim != 1:
            msg = f"roc_from_hists wants 1D score histograms, got {h.ndim}D"
            raise BadInputError(msg)
    edges = signal_hist.axes[0].edges
    if not np.array_equal(edges, background_hist.axes[0].edges):
        msg = "signal and background histograms have different binning"
        raise BadInputError(msg)
    return roc_from_counts(
        signal_hist.values(flow=False),
        background_hist.values(flow=False),
        edges,
        signal_var=signal_hist.variances(flow=False),
        background_var=background_hist.variances(flow=False),
    )
