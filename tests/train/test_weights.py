"""pT (and |eta|) reweighting: the reweighted signal spectrum is the background's within
statistics, on objects the weights were not fitted on; weights depend on nothing but
(class, pT, |eta|)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.train import fit_reweighting


def spectra(n: int, seed: int) -> dict[str, dict[int, np.ndarray]]:
    """Background falls steeply in pT (QCD-like), signal is harder; |eta| differs too."""
    rng = np.random.default_rng(seed)
    pt = {0: 20 + rng.exponential(40.0, n), 1: 20 + rng.gamma(3.0, 25.0, n)}
    eta = {0: np.abs(rng.uniform(-2.4, 2.4, n)), 1: np.abs(rng.normal(0, 1.0, n)).clip(0, 2.39)}
    return {"pt": pt, "eta": eta}


def chi2_pvalue(xs: np.ndarray, ws: np.ndarray, xb: np.ndarray, edges: np.ndarray) -> float:
    """p-value that weighted and unweighted histograms have the same shape
    (normalised bins, variances sum w^2 and N) [Gagunashvili, arXiv:physics/0605123]."""
    W, _ = np.histogram(xs, edges, weights=ws)
    W2, _ = np.histogram(xs, edges, weights=ws**2)
    N, _ = np.histogram(xb, edges)
    chi2 = np.sum((W / W.sum() - N / N.sum()) ** 2 / (W2 / W.sum() ** 2 + N / N.sum() ** 2))
    return float(stats.chi2.sf(chi2, len(N) - 1))


def test_reweighted_signal_pt_matches_background() -> None:
    # fitted on 100k, checked on 20k others: the fit's own fluctuations stay small
    fit_on, check = spectra(100_000, seed=1), spectra(20_000, seed=2)
    rw = fit_reweighting("pt", fit_on["pt"])
    edges = np.asarray(rw.pt_edges[::2])  # histogram-ratio weights are exact per fit bin only
    w = rw.weights(np.ones(20_000), check["pt"][1])
    assert chi2_pvalue(check["pt"][1], w, check["pt"][0], edges) > 1e-3
    one = np.ones(20_000)
    assert chi2_pvalue(check["pt"][1], one, check["pt"][0], edges) < 1e-12  # it was needed
    assert np.array_equal(rw.weights(np.zeros(5), check["pt"][0][:5]), np.ones(5))  # background
    assert np.mean(rw.weights(np.ones(100_000), fit_on["pt"][1])) == pytest.approx(1.0, rel=1e-6)


def test_pt_eta_reweighting_matches_both_marginals() -> None:
    fit_on, check = spectra(100_000, seed=3), spectra(30_000, seed=4)
    rw = fit_reweighting("pt-eta", fit_on["pt"], fit_on["eta"])
    w = rw.weights(np.ones(30_000), check["pt"][1], check["eta"][1])
    pt_edges, eta_edges = np.asarray(rw.pt_edges[::2]), np.asarray(rw.eta_edges)
    assert chi2_pvalue(check["pt"][1], w, check["pt"][0], pt_edges) > 1e-3
    assert chi2_pvalue(check["eta"][1], w, check["eta"][0], eta_edges) > 1e-3
    w_pt = fit_reweighting("pt", fit_on["pt"]).weights(np.ones(30_000), check["pt"][1])
    assert chi2_pvalue(check["eta"][1], w_pt, check["eta"][0], eta_edges) < 1e-12


def test_flat_makes_each_class_flat_in_pt() -> None:
    fit_on, check = spectra(100_000, seed=5), spectra(20_000, seed=6)
    rw = fit_reweighting("flat", fit_on["pt"])
    edges = np.asarray(rw.pt_edges[::2])
    width = np.diff(edges)
    for cls in (0, 1):
        x = check["pt"][cls]
        x = x[(x >= edges[0]) & (x <= edges[-1])]
        for w, flat in ((rw.weights(np.full(len(x), cls), x), True), (np.ones(len(x)), False)):
            W, _ = np.histogram(x, edges, weights=w)
            W2, _ = np.histogram(x, edges, weights=w**2)
            expect = W.sum() * width / width.sum()
            p = stats.chi2.sf(np.sum((W - expect) ** 2 / W2), len(W) - 1)
            assert (p > 1e-3) if flat else (p < 1e-12)


def test_weights_do_not_depend_on_chunking() -> None:
    data = spectra(5_000, seed=7)
    rw = fit_reweighting("pt-eta", data["pt"], data["eta"])
    y = np.r_[np.zeros(5_000), np.ones(5_000)]
    pt = np.r_[data["pt"][0], data["pt"][1]]
    eta = np.r_[data["eta"][0], data["eta"][1]]
    whole = rw.weights(y, pt, eta)
    order = np.random.default_rng(0).permutation(len(y))
    pieces = np.empty_like(whole)
    for part in np.array_split(order, 37):
        pieces[part] = rw.weights(y[part], pt[part], eta[part])
    np.testing.assert_array_equal(pieces, whole)
    assert rw.to_dict()["mode"] == "pt-eta"


def test_bins_are_merged_until_populated_and_refusals() -> None:
    rng = np.random.default_rng(8)
    bkg = 20 + rng.exponential(30.0, 5_000)
    sig = 20 + rng.exponential(300.0, 60)  # few signal objects spread wide
    rw = fit_reweighting("pt", {0: bkg, 1: sig}, min_count=20)
    counts = np.histogram(sig, rw.pt_edges)[0]
    assert counts.min() >= 20 - 1  # edges are quantiles: at most one object sits on an edge
    assert np.all(np.isfinite(rw.weights(np.ones(60), sig)))
    assert fit_reweighting("none", {0: bkg, 1: sig}).weights([1, 0], [1.0, 2.0]).tolist() == [1, 1]
    with pytest.raises(BadInputError, match="unknown reweighting 'eta'"):
        fit_reweighting("eta", {0: bkg, 1: sig})
    with pytest.raises(BadInputError, match="NaN"):
        fit_reweighting("pt", {0: bkg, 1: np.full(5, np.nan)})
    with pytest.raises(BadInputError, match="finite pT"):
        rw.weights([1], [np.nan])


def test_every_class_of_a_multiclass_task_is_reweighted_to_class_zero() -> None:
    rng = np.random.default_rng(7)
    fit_on = {0: 20 + rng.exponential(40.0, 100_000), 1: 20 + rng.gamma(3.0, 25.0, 100_000),
              2: 20 + rng.gamma(2.0, 15.0, 100_000)}  # fmt: skip
    check = {0: 20 + rng.exponential(40.0, 20_000), 2: 20 + rng.gamma(2.0, 15.0, 20_000)}
    rw = fit_reweighting("pt", fit_on)
    assert sorted(rw.tables) == [0, 1, 2]
    edges = np.asarray(rw.pt_edges[::2])
    w = rw.weights(np.full(20_000, 2), check[2])
    assert chi2_pvalue(check[2], w, check[0], edges) > 1e-3
    assert chi2_pvalue(check[2], np.ones(20_000), check[0], edges) < 1e-12
    with pytest.raises(BadInputError, match=r"classes \[0, 1, 2\], not \[3\]"):
        rw.weights(np.full(3, 3), check[0][:3])
    with pytest.raises(BadInputError, match="needs training objects of both classes"):
        fit_reweighting("pt", {0: check[0]})  # a one-sample regression has nothing to match
