"""Regression figures from histograms: quantiles, median response and resolution against
numpy on the unbinned values (within a bin width), and how targets choose their axis,
truth and baseline."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError, ContractError
from e2e_coffea.export import Contract
from e2e_coffea.hists.response import hist_quantiles, regression_entry, response_figures
from e2e_coffea.inference.truth import (
    regression_baseline,
    regression_quantities,
    regression_truth,
)
from e2e_coffea.processor.booking import (
    RESPONSE_BINS,
    TRUE_PT_EDGES,
    book_regression_hists,
    fill_regression,
    value_axis,
)

WIDTH = (RESPONSE_BINS[2] - RESPONSE_BINS[1]) / RESPONSE_BINS[0]


def assert_quantile(got: float, x: np.ndarray, q: float, width: float) -> None:
    """``got`` lies within one bin width of the order statistics that bracket the
    q-quantile of ``x`` (numpy's inverted_cdf picks one of them)."""
    s = np.sort(x)
    t = q * len(s)
    lo = s[max(int(np.floor(t)) - 1, 0)]
    hi = s[min(int(np.ceil(t)), len(s) - 1)]
    assert lo - width - 1e-9 <= got <= hi + width + 1e-9, (got, lo, hi)


def test_quantiles_of_binned_values_match_numpy_within_a_bin() -> None:
    rng = np.random.default_rng(1)
    edges = np.linspace(0, 2.5, 501)
    for x in (rng.normal(1.0, 0.2, 1001), rng.lognormal(0, 0.3, 1001), rng.uniform(0.1, 2.4, 77)):
        counts = np.histogram(x, bins=np.r_[-np.inf, edges, np.inf])[0]
        qs = (0.16, 0.5, 0.84)
        got = hist_quantiles(counts, edges, qs)
        for g, q in zip(got, qs, strict=True):
            assert_quantile(g, x, q, edges[1] - edges[0])
            assert abs(g - np.quantile(x, q, method="inverted_cdf")) <= edges[1] - edges[0]


def test_quantiles_in_flow_bins_and_of_nothing() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    assert hist_quantiles([5, 0, 0, 1], edges, (0.5,))[0] == -np.inf  # underflow holds the median
    assert hist_quantiles([0, 1, 0, 5], edges, (0.5,))[0] == np.inf
    assert np.isnan(hist_quantiles([0, 0, 0, 0], edges, (0.5,))[0])
    np.testing.assert_allclose(
        hist_quantiles([0, 2, 2, 0], edges, (0.25, 0.5, 0.75)), [0.5, 1, 1.5]
    )
    with pytest.raises(BadInputError, match="flow included"):
        hist_quantiles([1, 2], edges, (0.5,))


def _contract(**target: Any) -> Contract:
    return Contract(task="regression", model_name="reg", channels=("ecal",),
                    frame_size=(125, 125), class_names=("jet_mass",), target=target or None)  # fmt: skip


def test_response_and_resolution_per_true_pt_bin_match_numpy() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    true = rng.uniform(20, 300, n)
    true_pt = rng.uniform(15, 600, n)  # some below the first pT edge: in the overall figures only
    pred = true * rng.normal(1.05, 0.1, n)
    calo = true * rng.normal(0.8, 0.2, n)
    labels = rng.choice([0, 1, 2], n)
    truth = np.where(rng.random(n) < 0.1, -1.0, true)  # 10 % unmatched: no response
    hists = book_regression_hists("reg", value_axis(_contract(name="jet_mass", unit="GeV")))
    for part in np.array_split(np.arange(n), 3):  # chunk by chunk, merged by +
        fill_regression(hists, dataset="qcd", tagger="reg", labels=labels[part], values=pred[part],
                        baseline=calo[part], truth=truth[part], true_pt=true_pt[part])  # fmt: skip
    ok = truth > 0
    for est, x in (("model", pred), ("baseline", calo)):
        f = response_figures(hists["response:reg"], est)
        r = x[ok] / truth[ok]
        assert f["n_objects"] == ok.sum()
        assert_quantile(f["response_median"], r, 0.5, WIDTH)
        assert_quantile(f["response_q16"], r, 0.16, WIDTH)
        assert_quantile(f["response_q84"], r, 0.84, WIDTH)
        assert f["resolution"] == pytest.approx((f["response_q84"] - f["response_q16"]) / 2)
        ref = (np.quantile(r, 0.84) - np.quantile(r, 0.16)) / 2
        assert abs(f["resolution"] - ref) <= WIDTH
        assert f["n_outside_pt_bins"] == (ok & (true_pt < TRUE_PT_EDGES[0])).sum()
        for b in f["bias_vs_pt"]:
            sel = ok & (true_pt >= b["pt"][0]) & (true_pt < b["pt"][1])
            assert b["n"] == sel.sum()
            if sel.sum():
                assert_quantile(b["median"], x[sel] / truth[sel], 0.5, WIDTH)
    model = response_figures(hists["response:reg"], "model")
    base = response_figures(hists["response:reg"], "baseline")
    assert model["response_median"] == pytest.approx(1.05, abs=0.01)
    assert base["response_median"] == pytest.approx(0.8, abs=0.02)
    assert base["resolution"] > 1.5 * model["resolution"]  # the model beats the calo mass
    v = hists["value:reg"][{"estimator": "model", "dataset": sum, "label": sum, "tagger": "reg"}]
    assert v.sum(flow=True).value == n  # every object in the value hist, truth or not


def test_no_truth_fills_values_and_says_so() -> None:
    c = _contract(name="jet_mass", unit="GeV")
    hists = book_regression_hists("reg", value_axis(c))
    fill_regression(hists, dataset="d", tagger="reg", labels=[0, 1], values=[50.0, 400.0])
    entry = regression_entry(hists, SimpleNamespace(name="reg", contract=c))
    assert entry["n_objects"] == 2
    assert entry["n_value_outside_axis"] == 1  # 400 GeV > the 300 GeV default: counted
    assert entry["response_median"] is None
    assert entry["n_with_truth"] == 0
    assert "no response" in entry["note"]
    assert entry["truth"] == "gen_mass"
    assert entry["baseline"]["quantity"] == "mass"


@pytest.mark.parametrize(
    ("target", "truth", "baseline", "axis"),
    [
        ({"name": "jet_mass", "unit": "GeV"}, "gen_mass", "mass", (0, 300, 300)),
        ({"name": "jet_pt", "unit": "GeV"}, "gen_pt", "pt", (0, 1000, 300)),
        ({"name": "jet_mass", "truth": "gen_pt"}, "gen_pt", "pt", (0, 300, 300)),
        (
            {"name": "tau_pt", "unit": "GeV", "range": [0, 200], "bins": 200},
            "gen_vis_tau_pt",
            "pt",
            (0, 200, 200),
        ),
        ({"name": "tau_flight", "unit": "cm", "range": [0, 5], "bins": 50}, None, None, (0, 5, 50)),
    ],
)
def test_target_decides_axis_truth_and_baseline(
    target: dict[str, Any], truth: str | None, baseline: str | None, axis: tuple[float, ...]
) -> None:
    c = _contract(**target)
    a = value_axis(c)
    assert (a.lo, a.hi, a.bins) == axis
    assert regression_truth(c) == truth
    assert regression_baseline(c) == baseline
    assert set(regression_quantities(c)) == (
        {truth, "gen_pt", baseline} - {None} if truth else set()
    )


def test_bad_target_range_is_refused() -> None:
    with pytest.raises(ContractError, match="lo < hi"):
        value_axis(_contract(name="jet_mass", range=[300, 0]))


def test_classifiers_have_no_regression_truth() -> None:
    c = Contract(task="classification", model_name="m", channels=("ecal",),
                 frame_size=(125, 125), class_names=("qcd", "tau"))  # fmt: skip
    assert regression_truth(c) is None
    assert regression_quantities(c) == ()
