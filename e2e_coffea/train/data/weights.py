"""Per-object training weights: signal reweighted to the background's pT (and |eta|).

With more than two classes (a multi-class task) every class is reweighted to class 0's
(the background's) spectrum the same way; ``flat`` makes each class flat.

``flat-target`` (regressions): every object weighted so that the training sample, all
samples together, is flat in the regression's true value (the jet mass task: flat in
m_gen). A regression trained on a peaked prior learns to pull every prediction toward
the prior's mean (its response is > 1 below the peak and < 1 above); a flat prior
removes that pull [as the CMS DNN jet-mass regressions are trained flat in the generator
mass: CMS-DP-2021/017, "Mass regression of highly-boosted jets using graph neural
networks"].

The E2E taggers are trained with the signal's kinematics made to look like the
background's, so that the network cannot separate the classes by pT alone [Andrews et
al., "End-to-end jet classification of boosted top quarks with the CMS open data",
EPJ Web Conf. 251 (2021) 04030; Andrews et al., "End-to-end jet classification of quarks
and gluons with the CMS Open Data", NIM A 977 (2020) 164304]. The weight of a signal
object is the ratio of the two classes' normalised histograms in its bin; background
objects keep weight 1. ``flat`` instead makes each class flat in pT.

Binning (the choice of this module, not the papers'): pT bins of equal population in the
training objects of both classes together (``n_pt_bins``, default 40 quantiles), then
adjacent bins merged until every bin holds at least ``min_count`` objects of each class,
so no weight rests on a handful of objects and none is infinite. ``pt-eta`` adds
``n_eta_bins`` |eta| quantile bins, merged the same way; a 2-d cell that still has fewer
than ``min_count`` objects of a class falls back to the pT-only weight of its pT bin.
Objects outside the training range fall in the first or last bin. Weights are constant
within a bin, so spectra agree per bin, not within one (where a falling background
meets a rising signal, at a threshold, finer bins need more objects). Weights depend only
on (class, pT, |eta|), never on how the data were chunked or which worker read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ...exceptions import BadInputError

__all__ = ["REWEIGHT_MODES", "Reweighting", "fit_reweighting"]

REWEIGHT_MODES: Final = ("none", "pt", "pt-eta", "flat", "flat-target")

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Reweighting:
    """Weight tables per class over (pT bin, |eta| bin); ``mode='none'`` weighs 1."""

    mode: str = "none"
    pt_edges: tuple[float, ...] = ()
    eta_edges: tuple[float, ...] = ()
    tables: Mapping[int, tuple[tuple[float, ...], ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def weights(
        self,
        target: npt.ArrayLike,
        pt: npt.ArrayLike,
        abs_eta: npt.ArrayLike | None = None,
        value: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float32]:
        """The weight of each object of class ``target`` (0/1) at ``pt`` (and ``abs_eta``);
        ``flat-target`` weighs by the regression's true ``value`` instead of pT."""
        y = np.asarray(target).astype(np.int64).reshape(-1)
        if self.mode == "none":
            return np.ones(len(y), np.float32)
        if self.mode == "flat-target":
            if value is None:
                msg = "reweighting 'flat-target' needs the regression's true values"
                raise BadInputError(msg)
            pt = value
        p = np.asarray(pt, np.float64).reshape(-1)
        if not np.all(np.isfinite(p)):
            msg = f"reweighting {self.mode!r} needs a finite pT for every object; got NaN/inf (file without pT?)"
            raise BadInputError(msg)
        i = _bin(p, self.pt_edges)
        j = np.zeros(len(y), np.int64)
        if self.eta_edges:
            e = np.asarray(abs_eta, np.float64).reshape(-1)
            if not np.all(np.isfinite(e)):
                msg = "reweighting 'pt-eta' needs a finite eta for every object; got NaN/inf"
                raise BadInputError(msg)
            j = _bin(e, self.eta_edges)
        out = np.empty(len(y), np.float32)
        unknown = sorted(set(np.unique(y).tolist()) - set(self.tables))
        if unknown:
            msg = f"reweighting {self.mode!r} has weights for classes {sorted(self.tables)}, not {unknown}"
            raise BadInputError(msg)
        for cls in self.tables:
            t = np.asarray(self.tables[cls], np.float64)
            sel = y == cls
            out[sel] = t[i[sel], j[sel]]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for the model's provenance."""
        return {
            "mode": self.mode,
            "pt_edges": list(self.pt_edges),
            "eta_edges": list(self.eta_edges),
            "tables": {str(k): [list(r) for r in v] for k, v in self.tables.items()},
            "notes": list(self.notes),
        }


def _bin(x: F, edges: tuple[float, ...]) -> npt.NDArray[np.int64]:
    """Bin index of each value; values outside go to the first or last bin."""
    inner = np.asarray(edges[1:-1], np.float64)
    return np.searchsorted(inner, x, side="right").astype(np.int64)


def _edges(xs: list[F], n_bins: int, min_count: int) -> list[float]:
    """Equal-population edges over all classes, merged until each bin has ``min_count``
    objects of each class."""
    every = np.concatenate(xs)
    edges = list(np.unique(np.quantile(every, np.linspace(0.0, 1.0, n_bins + 1))))
    if len(edges) < 2:
        return [float(every.min()), float(every.max()) + 1.0]
    return _merged(edges, *xs, min_count=min_count)


def _merged(edges: list[float], *xs: F, min_count: int) -> list[float]:
    """``edges`` with sparse bins merged until each bin has ``min_count`` of each ``xs``."""
    while len(edges) > 2:
        fewest = np.min(
            [np.bincount(_bin(x, tuple(edges)), minlength=len(edges) - 1) for x in xs], axis=0
        )
        worst = int(np.argmin(fewest))
        if fewest[worst] >= min_count:
            break
        # merge the sparse bin with its sparser neighbour: drop the edge between them
        left, right = worst, worst + 1
        if left == 0 or (right < len(edges) - 1 and fewest[worst + 1] <= fewest[worst - 1]):
            edges.pop(right)
        else:
            edges.pop(left)
    return [float(e) for e in edges]


def _hist(x: F, y: F | None, pt_edges: tuple[float, ...], eta_edges: tuple[float, ...]) -> F:
    n_eta = max(len(eta_edges) - 1, 1)
    i = _bin(x, pt_edges)
    j = _bin(y, eta_edges) if eta_edges and y is not None else np.zeros(len(x), np.int64)
    h = np.zeros((len(pt_edges) - 1, n_eta))
    np.add.at(h, (i, j), 1.0)
    return h


def fit_reweighting(
    mode: str,
    pt: Mapping[int, npt.ArrayLike],
    abs_eta: Mapping[int, npt.ArrayLike] | None = None,
    *,
    n_pt_bins: int = 40,
    n_eta_bins: int = 4,
    min_count: int = 20,
    value: Mapping[int, npt.ArrayLike] | None = None,
) -> Reweighting:
    """Weights from the training objects' ``pt[cls]`` (and ``abs_eta[cls]``) of the
    classes 0 .. k-1 (``pt``'s keys); class 0 is the reference of ``pt``/``pt-eta``.
    ``flat-target`` uses the regression's true ``value[cls]`` instead."""
    if mode not in REWEIGHT_MODES:
        msg = f"unknown reweighting {mode!r}; expected one of {list(REWEIGHT_MODES)}"
        raise BadInputError(msg)
    if mode == "none":
        return Reweighting()
    if mode == "flat-target":
        if value is None or not value:
            msg = "reweighting 'flat-target' is for regression tasks: it needs the true values of the training objects"
            raise BadInputError(msg)
        return _flat_target(value, n_pt_bins, min_count)
    classes = sorted(pt)
    x = {c: np.asarray(pt[c], np.float64).reshape(-1) for c in classes}
    sizes = [len(x[c]) for c in classes]
    if (
        classes != list(range(len(classes)))
        or (mode != "flat" and len(classes) < 2)
        or min(sizes, default=0) == 0
    ):
        what = "both classes" if len(classes) <= 2 else "every class"
        msg = f"reweighting {mode!r} needs training objects of {what}; got {dict(zip(classes, sizes, strict=True))}"
        raise BadInputError(msg)
    for c in classes:
        if not np.all(np.isfinite(x[c])):
            msg = f"reweighting {mode!r} needs the pT of every object; class {c} has NaN/inf (a file without pT?)"
            raise BadInputError(msg)
    pt_edges = tuple(_edges([x[c] for c in classes], n_pt_bins, min_count))
    eta_edges: tuple[float, ...] = ()
    e: dict[int, F] = {}
    if mode == "pt-eta":
        if abs_eta is None:
            msg = "reweighting 'pt-eta' needs |eta| of the training objects"
            raise BadInputError(msg)
        e = {c: np.abs(np.asarray(abs_eta[c], np.float64).reshape(-1)) for c in classes}
        if not all(np.all(np.isfinite(e[c])) for c in classes):
            msg = "reweighting 'pt-eta' needs the eta of every object; some are NaN/inf"
            raise BadInputError(msg)
        eta_edges = tuple(_edges([e[c] for c in classes], n_eta_bins, min_count))
    h = {c: _hist(x[c], e.get(c), pt_edges, eta_edges) for c in classes}
    notes: list[str] = []
    if mode == "flat":
        width = np.diff(np.asarray(pt_edges))[:, None]
        tables = {c: len(x[c]) * (width / width.sum()) / np.maximum(h[c], 1.0) for c in classes}
    else:
        dens = {c: h[c] / h[c].sum() for c in classes}
        tables = {0: np.ones_like(dens[0])}
        thin_cells = np.zeros(dens[0].shape, bool)
        for c in classes[1:]:
            ratio = dens[0] / np.where(dens[c] > 0, dens[c], np.inf)
            if eta_edges:
                h1 = {k: h[k].sum(1, keepdims=True) for k in (0, c)}
                r1 = (h1[0] / h1[0].sum()) / (h1[c] / h1[c].sum())
                thin = (h[0] < min_count) | (h[c] < min_count)
                ratio = np.where(thin, np.broadcast_to(r1, ratio.shape), ratio)
                thin_cells |= thin
            tables[c] = ratio
        if thin_cells.any():
            notes.append(
                f"{int(thin_cells.sum())} of {thin_cells.size} (pT, |eta|) cells had < {min_count} objects of a class: pT-only weight there"
            )
    return Reweighting(
        mode,
        pt_edges,
        eta_edges,
        {c: tuple(tuple(float(v) for v in row) for row in t) for c, t in tables.items()},
        tuple(notes),
    )


def _flat_target(value: Mapping[int, npt.ArrayLike], n_bins: int, min_count: int) -> Reweighting:
    """One table for every class: the pooled true-value spectrum made flat (per unit of
    the value) between its smallest and largest training value."""
    classes = sorted(value)
    pooled = np.concatenate([np.asarray(value[c], np.float64).reshape(-1) for c in classes])
    pooled = pooled[np.isfinite(pooled)]
    if len(pooled) == 0:
        msg = "reweighting 'flat-target' got no finite true values"
        raise BadInputError(msg)
    # equal-width bins between the 0.5 % and 99.5 % quantiles (equal-population ones are
    # wide in the tails, where a falling spectrum is not flat within a bin), sparse bins
    # merged with a neighbour; values beyond them take the outer bins' weights
    lo, hi = (float(q) for q in np.quantile(pooled, [0.005, 0.995]))
    grid = list(np.linspace(lo, hi if hi > lo else lo + 1.0, n_bins + 1))
    edges = tuple(_merged(grid, pooled, min_count=min_count))
    inside = pooled[(pooled >= edges[0]) & (pooled <= edges[-1])]
    h = _hist(inside, None, edges, ())
    width = np.diff(np.asarray(edges))[:, None]
    table = (width / width.sum()) / np.maximum(h, 1.0)
    table *= len(pooled) / table[_bin(pooled, edges), 0].sum()  # mean weight 1
    rows = tuple(tuple(float(v) for v in row) for row in table)
    note = f"flat in the true value over {edges[0]:.3g}..{edges[-1]:.3g} ({len(edges) - 1} bins)"
    return Reweighting("flat-target", edges, (), dict.fromkeys(classes, rows), (note,))
