"""Results say what they are: weighted or not, on how many effective objects, and where
the background runs out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hist
import matplotlib
import numpy as np
import pytest

from e2e_coffea.hists.roc import roc_from_counts

matplotlib.use("Agg")

EDGES = np.linspace(0, 1, 11)


def test_unit_weights_make_an_unweighted_roc_on_the_object_counts() -> None:
    s, b = np.r_[0, 0, 0, 0, 0, 1, 2, 3, 4, 10.0], np.r_[10, 8, 6, 4, 2, 0, 0, 0, 0, 0.0]
    roc = roc_from_counts(s, b, EDGES, signal_var=s, background_var=b)
    assert roc.weighted is False
    assert (roc.n_signal, roc.n_background) == (20, 30)
    assert roc.describe() == "unweighted: signal 20, background 30 objects"
    # a binomial error where every object weighs 1: e(1 - e) / N
    eff = roc.background_eff
    assert roc.background_eff_err is not None
    assert np.allclose(roc.background_eff_err, np.sqrt(eff * (1 - eff) / 30))


def test_weights_give_the_effective_number_of_objects() -> None:
    # background: 29 light objects (w = 1) and one heavy one (w = 100) in the top bin
    b = np.r_[29.0, 0, 0, 0, 0, 0, 0, 0, 0, 100]
    b_var = np.r_[29.0, 0, 0, 0, 0, 0, 0, 0, 0, 100**2]
    s = np.r_[0, 0, 0, 0, 0, 0, 0, 0, 5, 5.0]
    roc = roc_from_counts(s, b, EDGES, signal_var=s, background_var=b_var)
    assert roc.weighted is True
    assert roc.n_background == pytest.approx(129**2 / (29 + 100**2))  # about 1.66, not 30
    assert roc.weighting() == {
        "auc_weighted": True,
        "n_eff": {"signal": 10.0, "background": pytest.approx(129**2 / 10029)},
    }
    assert "weighted: effective objects signal 10.0, background 1.7" == roc.describe()


def test_the_roc_stops_where_the_background_runs_out_and_its_band_shows_one_object() -> None:
    b = np.r_[99.0, 0, 0, 0, 0, 0, 0, 0, 1, 0]  # one background object above 0.8
    s = np.r_[0, 0, 0, 0, 0, 0, 0, 0, 10, 90.0]
    roc = roc_from_counts(s, b, EDGES, signal_var=s, background_var=b)
    sig, rej, lo, hi = roc.curve()
    assert (roc.background_eff == 0).sum() == 2  # cuts at 0.9 and 1.0 keep no background
    assert len(sig) == len(rej) == len(EDGES) - 2  # and are not on the curve
    assert rej[-1] == pytest.approx(100)  # the last point: one object of 100
    assert lo[-1] < rej[-1] < hi[-1]
    assert hi[-1] > 100 * rej[-1]  # one object: the band spans orders of magnitude
    assert np.all(lo <= rej)
    assert np.all(rej <= hi)


def test_roc_plots_draw_the_band(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from e2e_coffea.hists.summary import draw_roc, roc_legend

    s, b = np.r_[1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0], np.r_[10, 9, 8, 7, 6, 5, 4, 3, 2, 1.0]
    roc = roc_from_counts(s, b, EDGES, signal_var=s, background_var=b)
    assert roc_legend("t", roc).endswith("; unweighted, N 55 + 55)")  # roc.png's legend
    fig, ax = plt.subplots()
    draw_roc(ax, roc, label="x")
    assert len(ax.lines) == 1
    assert len(ax.collections) == 1
    plt.close(fig)


def test_score_histograms_in_the_dashboard_carry_error_bars() -> None:
    from matplotlib.container import ErrorbarContainer

    from e2e_coffea.dashboards.plots import score_figure
    from e2e_coffea.processor.booking import book_score_hists, fill_scores

    hists = book_score_hists()
    rng = np.random.default_rng(1)
    fill_scores(
        hists, dataset="mix", tagger="t", labels=np.r_[np.full(50, 2), np.full(50, 0)],
        scores=rng.uniform(size=100), pt=np.full(100, 50.0), eta=np.zeros(100),
        weight=np.full(100, 3.0),
    )  # fmt: skip
    ax = score_figure({"hists": hists}, "t").axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # one per truth label
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("sum w 150" in t for t in texts)  # a weighted yield says so


def test_summary_names_weighted_yields_and_the_auc_weighting(
    sample: Any, jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from e2e_coffea.cli import main

    out = tmp_path / "out"
    argv = ["run", "--fileset", str(sample.fileset["sparse"]), "--tagger", str(jet_tagger),
            "--device", "cpu", "--chunksize", "40", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    t = json.loads((out / "summary.json").read_text())["taggers"]["jet_simplenet"]
    assert t["auc_weighted"] is True  # the sample's cross-sections weight the objects
    assert set(t["signal_weight"]) == {"tau"}
    assert set(t["background_weight"]) == {"qcd"}
    assert "counts" not in json.dumps({k: v for k, v in t.items() if "weight" in k})
    # raw counts beside the weights: whole objects, adding up to n_jets
    counts = [*t["signal_counts"].values(), *t["background_counts"].values()]
    assert all(isinstance(n, int) for n in counts)
    assert sum(counts) == t["n_jets"]
    assert 0 < t["n_eff"]["background"] <= t["background_counts"]["qcd"]
    assert 0 < t["n_eff"]["signal"] <= t["signal_counts"]["tau"]
    line = next(x for x in capsys.readouterr().out.splitlines() if "jet_simplenet: AUC" in x)
    assert "(weighted; effective objects: signal " in line


def test_notebook_07_histograms_carry_their_errors() -> None:
    nb = json.loads((Path(__file__).parents[2] / "notebooks" / "07_analysis.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert ".Double()" not in code
    assert code.count(".Weight()") == 2
    calls = code.count("mplhep.histplot(")
    assert calls >= 2
    assert code.count("yerr=True") == calls


def test_hist_variances_survive_unweighted_fills() -> None:
    """The ground the error bars stand on: Weight storage keeps sum w^2 even at w = 1."""
    h = hist.Hist.new.Reg(2, 0, 1).Weight().fill([0.1, 0.2, 0.7])
    assert list(h.variances()) == [2.0, 1.0]
