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
    proc = E2ETaggerProcessor([saved_run.spec])
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
    labels = np.r_[np.full(300, 2), np.full(300, 0)]  # tau, quark
    for name, sep in (("good", 2.0), ("weak", 0.5)):
        s = 1 / (1 + np.exp(-np.r_[rng.normal(sep, 1, 300), rng.normal(0, 1, 300)]))
        fill_scores(
            hists,
            dataset="mix",
            tagger=name,
            labels=labels,
            scores=s,
            pt=np.full(600, 50.0),
            eta=np.zeros(600),
        )
    output = {"hists": hists}
    classes = {"good": ("qcd", "tau"), "weak": ("qcd", "tau")}
    rocs = PerformanceDashboard(output, classes=classes).rocs()
    assert rocs["good"].auc > rocs["weak"].auc > 0.5
    texts = [t.get_text() for t in roc_figure(output, classes).axes[0].get_legend().get_texts()]
    for name, roc in rocs.items():
        assert f"{name}: AUC {roc.auc:.3f} ± {roc.auc_err:.3f}" in texts
