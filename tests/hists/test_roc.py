from __future__ import annotations

import hist
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.hists.roc import roc_from_counts, roc_from_hists


def _hists(sig, bkg, bins=1000):
    hs = hist.Hist(hist.axis.Regular(bins, 0, 1), storage=hist.storage.Weight()).fill(sig)
    hb = hist.Hist(hist.axis.Regular(bins, 0, 1), storage=hist.storage.Weight()).fill(bkg)
    return hs, hb


@pytest.mark.parametrize("sep", [0.0, 0.5, 1.5, 4.0])
def test_auc_agrees_with_sklearn_within_binning_error(sep):
    rng = np.random.default_rng(1)
    sig = 1 / (1 + np.exp(-rng.normal(sep, 1, 4000)))
    bkg = 1 / (1 + np.exp(-rng.normal(0, 1, 5000)))
    roc = roc_from_hists(*_hists(sig, bkg))
    exact = roc_auc_score(np.r_[np.ones_like(sig), np.zeros_like(bkg)], np.r_[sig, bkg])
    assert abs(roc.auc - exact) <= roc.binning_err + 1e-12
    assert 0 < roc.auc_err < 0.02


def test_coarse_binning_has_a_larger_bound_that_still_holds():
    rng = np.random.default_rng(2)
    sig, bkg = rng.beta(3, 2, 3000), rng.beta(2, 3, 3000)
    fine, coarse = roc_from_hists(*_hists(sig, bkg)), roc_from_hists(*_hists(sig, bkg, bins=5))
    exact = roc_auc_score(np.r_[np.ones(3000), np.zeros(3000)], np.r_[sig, bkg])
    assert coarse.binning_err > fine.binning_err
    assert abs(coarse.auc - exact) <= coarse.binning_err


def test_efficiency_at_fixed_background():
    # signal uniform in [0.5, 1), background uniform in [0, 1): cut at 0.9 keeps 10% bkg, 20% sig
    edges = np.linspace(0, 1, 11)
    sig = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1.0])
    bkg = np.ones(10)
    roc = roc_from_counts(sig, bkg, edges)
    assert roc.signal_eff_at(0.1) == pytest.approx(0.2)
    assert roc.signal_eff_at(0.5) == pytest.approx(1.0)
    assert roc.auc == pytest.approx(0.75)  # mean over signal bins k=5..9 of (k + 0.5) / 10


def test_perfect_and_inverted_separation():
    edges = np.linspace(0, 1, 5)
    assert roc_from_counts([0, 0, 0, 5], [5, 0, 0, 0], edges).auc == pytest.approx(1.0)
    assert roc_from_counts([5, 0, 0, 0], [0, 0, 0, 5], edges).auc == pytest.approx(0.0)


def test_bad_inputs():
    edges = np.linspace(0, 1, 3)
    with pytest.raises(BadInputError, match="both classes"):
        roc_from_counts([0, 0], [1, 1], edges)
    with pytest.raises(BadInputError, match="do not match"):
        roc_from_counts([1, 1, 1], [1, 1], edges)
    roc = roc_from_counts([1, 1], [1, 1], edges)
    with pytest.raises(BadInputError, match="background efficiency"):
        roc.signal_eff_at(0.0)
