"""Every kind of model through run -> hists -> summary -> dashboard -> console.

Tiny transparent torch modules are exported as taggers (multi-class, pT and mass
regression, a point-cloud GNN) and run over the shared sample with ``e2e_coffea.run``.
The references are computed the slow way: the same taggers called on each file's events
(unbinned outputs), the truth read straight from the file with uproot, then sklearn's
AUC and numpy's quantiles.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_type_hints

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
from sklearn.metrics import roc_auc_score

import e2e_coffea
from e2e_coffea.dashboards import PerformanceDashboard
from e2e_coffea.dashboards.plots import score_figure
from e2e_coffea.dashboards.response_plots import response_figure
from e2e_coffea.export import Contract, export_onnx, export_tagger
from e2e_coffea.frames import FEATURES, PointCloudSpec, load_norm, resolve_channels
from e2e_coffea.hists.report import RunReport
from e2e_coffea.hists.run_summary import FailedRange, RunSummary
from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.layouts import LABELS
from e2e_coffea.models import create_model
from e2e_coffea.processor.booking import RESPONSE_BINS
from e2e_coffea.processor.serialize import save_output

QG = tuple(s.name for s in resolve_channels("qg", frame="jet"))
MULTI = ("quark", "gluon", "tau")
WIDTH = (RESPONSE_BINS[2] - RESPONSE_BINS[1]) / RESPONSE_BINS[0]


class MeanNet(torch.nn.Module):
    """Per-channel means through a fixed linear map: logits that differ jet by jet."""

    def __init__(self, n_out: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(11 + n_out)
        self.w = torch.nn.Parameter(torch.randn(3, n_out, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(2, 3)) * 100) @ self.w


class LogSum(torch.nn.Module):
    """log(20 + summed |pixel|): a 'regressed' jet quantity of tens of GeV."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(20.0 + x.abs().sum(dim=(1, 2, 3)))[:, None]


def _contract(**kw: Any) -> Contract:
    base = dict(task="classification", model_name="m", channels=QG, frame_size=(125, 125),
                class_names=("qcd", "tau"), channel_preset="qg", normalisation=load_norm("qg").to_dict())  # fmt: skip
    return Contract(**{**base, **kw})  # type: ignore[arg-type]


def _regression(name: str) -> Contract:
    return _contract(task="regression", model_name=name, class_names=(name,),
                     target={"name": name, "unit": "GeV", "transform": "log"})  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("model-kinds")
    torch.manual_seed(0)
    gnn = create_model("particle_gnn", len(FEATURES), 1, dropout=0.0).eval()
    points = Contract(task="classification", model_name="particle_gnn", channels=FEATURES,
                      frame_size=(32, len(FEATURES)), class_names=("qcd", "tau"),
                      input_kind="points", points=PointCloudSpec(max_points=32).to_dict())  # fmt: skip
    return {
        "multi": export_tagger(MeanNet(3), _contract(model_name="multi", class_names=MULTI), d / "multi.onnx"),
        "jet_pt": export_tagger(LogSum(), _regression("jet_pt"), d / "jet_pt.onnx"),
        "jet_mass": export_tagger(LogSum(), _regression("jet_mass"), d / "jet_mass.onnx"),
        "points": export_onnx(gnn, d / "points.onnx", points, (2, 32, len(FEATURES))).path,
    }  # fmt: skip


@pytest.fixture(scope="module")
def run(sample: Any, models: dict[str, Path]) -> SimpleNamespace:
    specs = [resolve_tagger(p) for p in models.values()]
    # unweighted: the figures are compared with sklearn on the raw per-jet outputs
    # (weighting has its own tests, tests/processor/test_weights.py)
    result = e2e_coffea.run(
        sample.fileset["sparse"], specs, chunksize=15, progress=False, unweighted=True
    )
    summary = json.loads(json.dumps(summarize(result, specs)))  # as summary.json holds it
    return SimpleNamespace(result=result, output=result.output, summary=summary, specs=specs)


@pytest.fixture(scope="module")
def unbinned(sample: Any, models: dict[str, Path]) -> dict[str, np.ndarray]:
    """Per selected jet of both files: dataset, label, true and calo pT, every output."""
    cols: dict[str, list[Any]] = {}
    for ds in ("qcd", "tau"):
        events = uproot.open(sample.files[(ds, "sparse")])["Events"].arrays()
        flat = {k: ak.to_numpy(ak.flatten(events[b])) for k, b in
                (("label", "Jet_label"), ("gen_pt", "Jet_genPt"), ("pt", "Jet_pt"))}  # fmt: skip
        multi = Tagger(models["multi"], device="cpu")(events)
        outs = {c: ak.to_numpy(ak.fill_none(ak.flatten(multi[c]), np.nan)) for c in MULTI}
        for name in ("jet_pt", "points"):
            outs[name] = ak.to_numpy(
                ak.fill_none(ak.flatten(Tagger(models[name], device="cpu")(events)), np.nan)
            )
        keep = np.isfinite(outs["jet_pt"])
        assert np.array_equal(keep, np.isfinite(outs["tau"]))  # one selection for every kind
        for k, v in {**flat, **outs, "dataset": np.full(len(keep), ds)}.items():
            cols.setdefault(k, []).append(v[keep])
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out["label"] = np.array([LABELS[int(i)] for i in out["label"]])
    return out


def _bracket(got: float | None, x: np.ndarray, q: float) -> None:
    """Within a response bin of the order statistics around the q-quantile of ``x``."""
    assert got is not None
    s = np.sort(x)
    t = q * len(s)
    lo, hi = s[max(int(np.floor(t)) - 1, 0)], s[min(int(np.ceil(t)), len(s) - 1)]
    assert lo - WIDTH - 1e-9 <= got <= hi + WIDTH + 1e-9, (got, lo, hi)


def test_multi_class_auc_per_class_matches_sklearn(run: Any, unbinned: dict[str, Any]) -> None:
    entry = run.summary["taggers"]["multi"]
    assert entry["task"] == "classification"
    assert entry["auc"] is None  # the binary field; the figures are per class
    assert set(entry["per_class"]) == set(MULTI)
    lab = unbinned["label"]
    for c in MULTI:
        got = entry["per_class"][c]
        sig, bkg = lab == c, np.isin(lab, [x for x in MULTI if x != c])  # "unmatched" in neither
        y = np.r_[np.ones(sig.sum()), np.zeros(bkg.sum())]
        auc = roc_auc_score(y, np.r_[unbinned[c][sig], unbinned[c][bkg]])
        assert abs(got["auc"] - auc) <= got["auc_binning_err"] + 1e-12, c
        assert got["n_jets"] == sig.sum() + bkg.sum()
    h = run.output["hists"]["class_score"][{"tagger": "multi"}]
    n = len(lab)
    for c in MULTI:  # every class probability kept for every jet
        assert h[{"class": c}].sum(flow=True).value == n
    assert "multi" not in list(run.output["hists"]["score"].axes["tagger"])


def test_regression_response_matches_numpy(run: Any, unbinned: dict[str, Any]) -> None:
    entry = run.summary["taggers"]["jet_pt"]
    assert (entry["task"], entry["target"], entry["unit"], entry["truth"]) == (
        "regression",
        "jet_pt",
        "GeV",
        "gen_pt",
    )
    truth = unbinned["gen_pt"]
    ok = truth > 0  # Jet_genPt is -1 without a matched generator jet
    assert entry["n_objects"] == len(truth)
    assert entry["n_with_truth"] == ok.sum() > 20
    for figs, x in ((entry, unbinned["jet_pt"]), (entry["baseline"], unbinned["pt"])):
        r = x[ok] / truth[ok]
        src = figs.get("response", figs)
        _bracket(figs["response_median"], r, 0.5)
        _bracket(src["response_q16"], r, 0.16)
        _bracket(src["response_q84"], r, 0.84)
        assert figs["resolution"] == pytest.approx((src["response_q84"] - src["response_q16"]) / 2)
        for b in figs["bias_vs_pt"]:
            sel = ok & (truth >= b["pt"][0]) & (truth < b["pt"][1])
            assert b["n"] == sel.sum()
            if sel.sum():
                _bracket(b["median"], x[sel] / truth[sel], 0.5)
    assert entry["baseline"]["quantity"] == "pt"
    assert entry["baseline"]["n_objects"] == ok.sum()  # the same objects as the model's
    by_ds = entry["response"]["by_dataset"]
    assert {ds: v["n"] for ds, v in by_ds.items()} == {
        ds: (ok & (unbinned["dataset"] == ds)).sum() for ds in ("qcd", "tau")
    }


def test_regression_without_truth_fills_values_and_says_so(
    sample: Any, models: dict[str, Path], rewrite: Any, tmp_path: Path
) -> None:
    """Files without the target's truth branch (Jet_genMass): values and the baseline
    are filled, there is no response, and the summary says why."""
    no_truth = rewrite(sample.files[("qcd", "sparse")], tmp_path / "qcd.root",
                       drop_fields=("Jet_genMass",))  # fmt: skip
    spec = resolve_tagger(models["jet_mass"])
    fs = {"qcd": {"files": {str(no_truth): "Events"}, "metadata": {}}}
    result = e2e_coffea.run(fs, [spec], chunksize=15, progress=False, unweighted=True)
    summary = json.loads(json.dumps(summarize(result, [spec])))
    entry = summary["taggers"]["jet_mass"]
    assert entry["truth"] == "gen_mass"
    assert entry["response_median"] is None
    assert entry["n_with_truth"] == 0
    assert "no response" in entry["note"]
    values = result.output["hists"]["value:jet_mass"]
    n = result.output["hists"]["objects"][{"tagger": "jet_mass"}].sum()
    assert n > 0
    assert values[{"estimator": "model"}].sum(flow=True).value == n
    assert values[{"estimator": "baseline"}].sum(flow=True).value == n  # calo mass
    assert "Jet_genMass" in summary["missing_branches"]["qcd"]


def test_an_out_of_range_response_has_no_figures_and_says_so(run: Any) -> None:
    """An untrained regression's predictions land beyond the response axis: quantiles in
    the overflow are no numbers (and JSON has no inf); the summary says why."""
    entry = run.summary["taggers"]["jet_mass"]
    assert entry["n_with_truth"] > 0
    assert entry["response"]["response_q84"] is None
    assert entry["resolution"] is None
    assert "outside" in entry["note"]


def test_point_tagger_runs_through_the_main_job(run: Any, unbinned: dict[str, Any]) -> None:
    entry = run.summary["taggers"]["points"]
    assert entry["auc"] is not None
    h = run.output["hists"]["score"][{"tagger": "points"}]
    assert h.sum(flow=True).value == len(unbinned["label"])
    s = np.clip(unbinned["points"], 0, 1 - 1e-12)
    for ds in ("qcd", "tau"):  # the histogram holds the tagger's own per-jet scores
        ref = np.histogram(s[unbinned["dataset"] == ds], bins=h.axes["score"].edges)[0]
        np.testing.assert_array_equal(h[{"dataset": ds, "label": sum}].values(), ref)
    assert "points" not in run.output["mean_images"]  # no mean images for points
    assert "multi" in run.output["mean_images"]


def test_dashboard_shows_every_kind(run: Any, tmp_path: Path) -> None:
    save_output(run.output, tmp_path)  # output.zip, as `e2e-coffea run` writes it
    (tmp_path / "summary.json").write_text(json.dumps(run.summary))
    dash = PerformanceDashboard.from_run(tmp_path)
    assert dash.classes["multi"] == MULTI
    rocs = dash.rocs()
    for c in MULTI:
        assert rocs[f"multi: {c}"].auc == run.summary["taggers"]["multi"]["per_class"][c]["auc"]
    assert rocs["points"].auc == run.summary["taggers"]["points"]["auc"]
    assert not any(k.startswith("jet_") for k in rocs)
    texts = [t.get_text() for t in dash_roc_legend(run)]
    assert any(t.startswith("multi: tau vs rest: AUC") for t in texts)
    assert len(score_figure(run.output, "multi").axes) == 3  # one panel per class probability
    fig = response_figure(run.output, "jet_pt")
    assert len(fig.axes) == 3
    assert fig.axes[1].get_legend() is not None  # model and baseline drawn
    pictures = {}
    for name in ("jet_pt", "jet_mass", "multi"):
        dash.tagger.value = name
        pictures[name] = bytes(dash.response_image.value)
    assert len(set(pictures.values())) == 3


def test_roc_png_draws_each_class_one_vs_rest(run: Any, tmp_path: Path) -> None:
    """roc.png draws what the dashboard draws: a multi-class tagger's one-vs-rest ROCs
    too, so a run of one 3-class tagger writes a ROC plot."""
    rocs = run.result.rocs()
    per_class = run.summary["taggers"]["multi"]["per_class"]
    for c in MULTI:
        assert rocs[f"multi: {c} vs rest"].auc == per_class[c]["auc"]
    assert rocs["points"].auc == run.summary["taggers"]["points"]["auc"]
    assert not any(k.startswith("jet_") for k in rocs)
    multi_only = RunReport.of(run.result, [s for s in run.specs if s.name == "multi"])
    assert sorted(multi_only.rocs()) == [f"multi: {c} vs rest" for c in sorted(MULTI)]
    assert (tmp_path / "roc.png") in multi_only.write(tmp_path).values()


def test_the_summary_has_the_keys_its_type_names(run: Any) -> None:
    """RunSummary (the TypedDict) and summary.json cannot drift apart."""
    assert set(run.summary) == set(get_type_hints(RunSummary))
    for key in ("entries", "throughput", "timing"):
        hint = get_type_hints(RunSummary)[key]
        assert set(run.summary[key]) == set(get_type_hints(hint)), key
    for failed in run.summary["failed"]:
        assert set(failed) == set(get_type_hints(FailedRange))


def dash_roc_legend(run: Any) -> list[Any]:
    from e2e_coffea.dashboards.plots import roc_figure

    classes = {"multi": MULTI, "points": ("qcd", "tau")}
    return list(roc_figure(run.output, classes).axes[0].get_legend().get_texts())


def test_console_prints_each_kind(sample: Any, models: dict[str, Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from e2e_coffea.cli import main

    args = [
        "run",
        "--fileset",
        str(sample.fileset["sparse"]),
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    ]
    for name in ("multi", "jet_pt", "jet_mass"):
        args += ["--tagger", str(models[name])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "multi: one-vs-rest AUC quark " in out
    assert "jet_pt: jet_pt response median " in out
    assert "baseline (calo jet pT) median " in out
    assert "jet_mass: jet_mass: " in out
    assert "no response" in out
