from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from e2e_coffea.dashboards import PerformanceDashboard
from e2e_coffea.dashboards.jets import load_jets
from e2e_coffea.dashboards.plots import efficiency_vs_pt
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.processor.booking import book_score_hists
from e2e_coffea.runner.live import chunk_items, process_chunk, submit_chunks


def classes_of(run):
    return {run.spec.name: run.spec.contract.class_names}


def assert_same_roc(a, b):
    np.testing.assert_array_equal(a.signal_eff, b.signal_eff)
    np.testing.assert_array_equal(a.background_eff, b.background_eff)
    assert a.auc == b.auc
    assert a.auc_err == b.auc_err


@pytest.fixture(scope="module")
def partials(saved_run) -> list[dict[str, Any]]:
    """Each chunk's output, computed as a Dask task would, in the Runner's chunking."""
    proc = E2ETaggerProcessor([saved_run.spec], lumi_fb=None)  # unweighted, as saved_run
    items = chunk_items(saved_run.fileset, saved_run.chunksize)
    assert len(items) == 6
    return [process_chunk(proc, item) for item in items]


def test_chunking_matches_the_runner(saved_run, partials):
    assert sorted(c for p in partials for c in p["chunks"]) == sorted(saved_run.output["chunks"])


def test_live_accumulation_ends_on_the_end_of_run_picture(saved_run, partials):
    full = PerformanceDashboard(saved_run.output, classes=classes_of(saved_run))
    live = PerformanceDashboard(classes=classes_of(saved_run), total_chunks=len(partials))
    assert live.rocs() == {}
    assert live.progress.value == 0
    pictures = []
    for k, part in enumerate(reversed(partials), 1):  # any arrival order
        live.update(part, redraw=True)
        assert live.progress.value == k
        assert live.progress.max == len(partials)
        pictures.append(live.roc_png())
    live.finish()
    assert len(set(pictures)) > 1  # the ROC redrew as chunks arrived
    name = saved_run.spec.name
    assert_same_roc(live.rocs()[name], full.rocs()[name])
    assert live.roc_png() == full.roc_png()
    assert bytes(live.score_image.value) == bytes(full.score_image.value)
    summary = json.loads((saved_run.dir / "summary.json").read_text())
    assert live.rocs()[name].auc == pytest.approx(summary["taggers"][name]["auc"], abs=0)


def test_early_chunks_without_both_classes_do_not_break_the_plot(saved_run, partials):
    qcd_only = [p for p in partials if "qcd" in p["entries"]]
    live = PerformanceDashboard(classes=classes_of(saved_run))
    live.update(qcd_only[0], redraw=True)
    assert live.rocs() == {}  # background only so far: no ROC yet, and no error
    assert live.roc_png()


@pytest.fixture(scope="module")
def threaded_client() -> Iterator[Any]:
    """One in-process worker thread: enough for futures and as_completed, cheap to start."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_watch_merges_dask_futures_as_they_complete(saved_run, threaded_client):
    """In a background thread, as a notebook would keep it (the blocking form runs in notebook 03)."""
    futures = submit_chunks(
        threaded_client,
        saved_run.fileset,
        [saved_run.spec],
        chunksize=saved_run.chunksize,
        device="cpu",
        lumi_fb=None,  # as saved_run (notebook 03 checks the weighted live run)
    )
    dash = PerformanceDashboard(taggers=[saved_run.spec], min_redraw_s=0.0)
    thread = dash.watch(futures, background=True)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert dash.progress.value == 6
    assert dash.progress.max == 6
    assert dash.progress.bar_style == "success"
    assert dash.wall_time > 0
    assert dash.output["entries"] == saved_run.output["entries"]
    name = saved_run.spec.name
    assert_same_roc(
        dash.rocs()[name],
        PerformanceDashboard(saved_run.output, classes=classes_of(saved_run)).rocs()[name],
    )


def test_a_failing_chunk_stops_the_watch_and_says_so(threaded_client):
    def boom():
        msg = "chunk 3 is corrupt"
        raise OSError(msg)

    dash = PerformanceDashboard(classes={"t": ("qcd", "tau")})
    with pytest.raises(OSError, match="chunk 3 is corrupt"):
        dash.watch([threaded_client.submit(boom, pure=False)])
    assert dash.progress.bar_style == "danger"
    assert "failed</b> after 0 chunks: OSError: chunk 3 is corrupt" in dash.status.value


def test_missing_hists_are_named():
    with pytest.raises(BadInputError, match=r"lacks histogram\(s\) \['score', 'score_pt'\]"):
        PerformanceDashboard({"entries": {}}, classes={"t": ("qcd", "tau")})
    hists = book_score_hists()
    del hists["score_pt"]
    with pytest.raises(BadInputError, match=r"\['score_pt'\].*efficiency vs pT"):
        PerformanceDashboard({"hists": hists}, classes={"t": ("qcd", "tau")})
    live = PerformanceDashboard(classes={"t": ("qcd", "tau")})
    with pytest.raises(BadInputError, match="'score' for ROC curves"):
        live.update({"hists": {"score_pt": hists["score_eta"]}})
    with pytest.raises(BadInputError, match="must be the dict"):
        PerformanceDashboard([1, 2])  # type: ignore[arg-type]


def test_unknown_class_names_are_asked_for(saved_run):
    with pytest.raises(BadInputError, match=r"no class names for tagger\(s\) \['jet_simplenet'\]"):
        PerformanceDashboard(saved_run.output)


def test_from_run_draws_every_panel(saved_run):
    dash = PerformanceDashboard.from_run(saved_run.dir)
    assert dash.classes == {saved_run.spec.name: ("qcd", "tau")}
    assert dash.wall_time
    assert dash.wall_time > 0
    images = [
        dash.roc_image,
        dash.score_image,
        dash.efficiency_image,
        dash.mean_image,
        dash.throughput_image,
    ]
    assert len({bytes(i.value) for i in images}) == 5
    before = bytes(dash.efficiency_image.value)
    dash.working_point.value = 0.9
    assert bytes(dash.efficiency_image.value) != before


def test_efficiency_vs_pt_counts_jets_like_a_slow_reference(saved_run):
    """Score and pT of every jet, recomputed from the files, binned by hand."""
    table = load_jets(saved_run.fileset, saved_run.spec, max_events=40).table
    name = saved_run.spec.name
    e = efficiency_vs_pt(saved_run.output, name, ("qcd", "tau"), 0.5)
    edges = e["pt_edges"]
    score_bin = np.floor(np.clip(table.scores[name], 0, 1 - 1e-12) * 50)  # score_pt has 50 bins
    for group, labels in (
        ("signal", ["tau"]),
        ("background", [x for x in set(table.label) if x != "tau"]),
    ):
        sel = np.isin(table.label, labels)
        total = np.histogram(table.pt[sel], bins=edges)[0]
        passed = np.histogram(table.pt[sel & (score_bin >= 25)], bins=edges)[0]
        np.testing.assert_array_equal(e[group]["total"], total)
        np.testing.assert_array_equal(e[group]["passed"], passed)
    assert e["cut"] == 0.5


def test_several_taggers_share_one_roc_plot_with_auc_and_error():
    from e2e_coffea.dashboards.plots import roc_figure
    from e2e_coffea.processor.booking import fill_scores

    rng = np.random.default_rng(3)
    hists = book_score_hists()
    for name, sep in (("good", 2.0), ("weak", 0.5)):
        # a tau sample and a background sample: a ROC needs both (not one sample's own jets)
        for ds, label, mean in (("tau", 2, sep), ("qcd", 0, 0.0)):
            fill_scores(
                hists,
                dataset=ds,
                tagger=name,
                labels=np.full(300, label),
                scores=1 / (1 + np.exp(-rng.normal(mean, 1, 300))),
                pt=np.full(300, 50.0),
                eta=np.zeros(300),
            )
    output = {"hists": hists}
    classes = {"good": ("qcd", "tau"), "weak": ("qcd", "tau")}
    dash = PerformanceDashboard(output, classes=classes)
    rocs = dash.rocs()
    assert rocs["good"].auc > rocs["weak"].auc > 0.5
    # the status line gives the physical headline and the unweighted AUC beside each
    dash.redraw()
    for name, roc in rocs.items():  # one pT bin, unit weights: both equal the plain AUC
        assert (
            f"{name} AUC {roc.auc:.3f}±{roc.auc_err:.3f} (headline {roc.auc:.3f}, unweighted {roc.auc:.3f})"
            in dash.status.value
        )
    texts = [t.get_text() for t in roc_figure(output, classes).axes[0].get_legend().get_texts()]
    for name, roc in rocs.items():
        # the legend says the AUC is unweighted here, and on how many objects per class
        assert f"{name}: AUC {roc.auc:.3f} ± {roc.auc_err:.3f} (unweighted, N 300 + 300)" in texts


def _kinds_output():
    """A multi-class and a regression tagger's histograms, filled from known numbers."""
    from scipy.special import softmax

    from e2e_coffea.export import Contract
    from e2e_coffea.processor.booking import (
        book_class_hists,
        book_regression_hists,
        fill_class_scores,
        fill_regression,
        value_axis,
    )

    rng = np.random.default_rng(4)
    hists = {**book_score_hists(), **book_class_hists()}
    labels = rng.choice([0, 1, 2], 600)  # quark, gluon, tau
    logits = rng.normal(0, 1, (600, 3)) + 2.0 * np.eye(3)[labels]
    fill_class_scores(hists, dataset="mix", tagger="multi", labels=labels,
                      probabilities=softmax(logits, axis=1), class_names=("quark", "gluon", "tau"))  # fmt: skip
    target = {"name": "jet_mass", "unit": "GeV"}
    c = Contract(task="regression", model_name="reg", channels=("ecal",), frame_size=(125, 125),
                 class_names=("jet_mass",), target=target)  # fmt: skip
    hists.update(book_regression_hists("reg", value_axis(c)))
    true = rng.uniform(20, 200, 600)
    fill_regression(hists, dataset="mix", tagger="reg", labels=labels, values=true * rng.normal(1, 0.1, 600),
                    baseline=true * rng.normal(0.8, 0.2, 600), truth=true, true_pt=rng.uniform(30, 400, 600))  # fmt: skip
    return {
        "hists": hists,
        "metrics": {"entries": 600, "objects": 1200, "chunks": 1},
        "chunks": {"c": 1},
    }


def test_multi_class_and_regression_taggers_get_their_panels():
    from e2e_coffea.hists.multiclass import one_vs_rest

    output = _kinds_output()
    dash = PerformanceDashboard(output)  # no classes needed: read from the hists
    assert dash.classes == {"multi": ("quark", "gluon", "tau"), "reg": ()}
    rocs = dash.rocs()
    assert set(rocs) == {"multi: quark", "multi: gluon", "multi: tau"}
    ref = one_vs_rest(output["hists"], "multi", ("quark", "gluon", "tau"))
    for c, (roc, _) in ref.items():
        assert_same_roc(rocs[f"multi: {c}"], roc)
        assert roc.auc > 0.8
    assert "multi: tau AUC" in dash.status.value
    pictures = {}
    for name in ("multi", "reg"):
        dash.tagger.value = name
        pictures[name] = {k: bytes(getattr(dash, f"{k}_image").value)
                          for k in ("score", "efficiency", "response")}  # fmt: skip
    assert pictures["multi"]["response"] != pictures["reg"]["response"]  # reg: the real panel
    assert pictures["multi"]["score"] != pictures["reg"]["score"]  # multi: a panel per class


def test_response_panel_plots_the_summary_numbers():
    from e2e_coffea.dashboards.response_plots import response_figure
    from e2e_coffea.hists.response import response_figures

    output = _kinds_output()
    fig = response_figure(output, "reg")
    ax = fig.axes[1]
    figs = response_figures(output["hists"]["response:reg"], "model")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert (
        f"model: median {figs['response_median']:.3f}, resolution {figs['resolution']:.3f}"
        in legend
    )
    medians = ax.containers[0].lines[0].get_ydata()  # model's errorbar points
    np.testing.assert_allclose(medians, [b["median"] for b in figs["bias_vs_pt"] if b["n"] > 0])
    assert "not a regression tagger" in response_figure(output, "multi").texts[0].get_text()
