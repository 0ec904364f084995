"""E2ETaggerProcessor for each model kind: multi-class probabilities, regression values,
truth and response, on real NanoEvents chunks; references built the slow way from the
file (uproot) and the tagger's own unbinned outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
from coffea.processor import accumulate

from e2e_coffea.export import Contract, export_tagger
from e2e_coffea.frames import load_norm, resolve_channels
from e2e_coffea.inference import Tagger
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.processor.booking import book_regression_hists, fill_regression, value_axis

QG = tuple(s.name for s in resolve_channels("qg", frame="jet"))
MULTI = ("quark", "gluon", "tau")


class MeanNet(torch.nn.Module):
    def __init__(self, n_out: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3 + n_out)
        self.w = torch.nn.Parameter(torch.randn(3, n_out, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(2, 3)) * 100) @ self.w


class LogSum(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(20.0 + x.abs().sum(dim=(1, 2, 3)))[:, None]


def _contract(**kw: Any) -> Contract:
    base = dict(task="classification", model_name="m", channels=QG, frame_size=(125, 125),
                class_names=("qcd", "tau"), channel_preset="qg", normalisation=load_norm("qg").to_dict())  # fmt: skip
    return Contract(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kinds")
    reg = {"task": "regression", "class_names": ("jet_pt",),
           "target": {"name": "jet_pt", "unit": "GeV", "transform": "log"}}  # fmt: skip
    mass = {"task": "regression", "class_names": ("jet_mass",),
            "target": {"name": "jet_mass", "unit": "GeV", "transform": "log"}}  # fmt: skip
    return {
        "multi": export_tagger(MeanNet(3), _contract(class_names=MULTI), d / "multi.onnx"),
        "reg": export_tagger(LogSum(), _contract(**reg), d / "reg.onnx"),
        "mass": export_tagger(LogSum(), _contract(**mass), d / "mass.onnx"),
    }


def _flat(path: Path, branch: str) -> np.ndarray:
    with uproot.open(path) as f:
        return ak.to_numpy(ak.flatten(f["Events"][branch].array()))


def test_multi_class_keeps_every_class_probability(
    sample: Any, models: dict[str, Path], events: Any
) -> None:
    path = sample.files[("qcd", "sparse")]
    out = E2ETaggerProcessor([models["multi"]], device="cpu").process(events(path, "sparse", "qcd"))
    assert set(out["hists"]) == {
        "score",
        "score_pt",
        "score_eta",
        "score_match",
        "score_nvtx",
        "feature",
        "objects",
        "score_counts",
        "class_score",
    }
    assert out["hists"]["score"].sum(flow=True).value == 0  # no class picked as "the" score
    probs = Tagger(models["multi"], device="cpu")(uproot.open(path)["Events"].arrays())
    h = out["hists"]["class_score"][{"dataset": "qcd", "tagger": "multi", "label": sum}]
    assert list(h.axes["class"]) == list(MULTI)
    for c in MULTI:
        p = ak.to_numpy(ak.flatten(probs[c], axis=None))
        ref = np.histogram(np.clip(p, 0, 1 - 1e-12), bins=h.axes["score"].edges)[0]
        np.testing.assert_array_equal(h[{"class": c}].values(), ref)
        assert ref.sum() == out["metrics"]["objects"] > 0


def test_regression_reads_its_truth_and_baseline_branches(models: dict[str, Path]) -> None:
    proc = E2ETaggerProcessor([models["reg"], models["mass"]], device="cpu")
    req, opt = proc.branches("sparse")
    assert {"Jet_genPt", "Jet_genMass", "Jet_mass"} <= set(opt)
    assert not {"Jet_genPt", "Jet_genMass", "Jet_mass"} & set(req)  # optional: files may lack them
    req, opt = proc.branches("e2e")
    assert "jet_M" in opt  # the calo mass baseline; MLAnalyzer files name no generator jets
    classifier = E2ETaggerProcessor([models["multi"]], device="cpu")
    assert "Jet_genPt" not in classifier.branches("sparse")[1]  # only regression reads truth


@pytest.mark.parametrize("frame_memory_mb", [256.0, 0.5])  # one batch; 2 jets per batch
def test_regression_truth_follows_the_objects(
    sample: Any, models: dict[str, Path], events: Any, hists_equal: Any, frame_memory_mb: float
) -> None:
    path = sample.files[("qcd", "sparse")]
    proc = E2ETaggerProcessor([models["reg"]], device="cpu", frame_memory_mb=frame_memory_mb)
    parts = [
        proc.process(events(path, "sparse", "qcd", start=a, stop=b)) for a, b in ((0, 17), (17, 40))
    ]
    out = accumulate(parts)
    # the reference: the tagger's outputs beside the file's own truth, filled in one go
    values = Tagger(models["reg"], device="cpu")(uproot.open(path)["Events"].arrays())
    v = ak.to_numpy(ak.fill_none(ak.flatten(values), np.nan))
    keep = np.isfinite(v)
    gen = _flat(path, "Jet_genPt")[keep]
    ref = book_regression_hists("reg", value_axis(Tagger(models["reg"]).contract))
    fill_regression(ref, dataset="qcd", tagger="reg", labels=_flat(path, "Jet_label")[keep],
                    values=v[keep], baseline=_flat(path, "Jet_pt")[keep], truth=gen,
                    true_pt=np.where(gen > 0, gen, np.nan))  # fmt: skip
    assert (gen > 0).sum() > 10
    assert hists_equal({k: out["hists"][k] for k in ref}, ref)
    shuffled = book_regression_hists("reg", value_axis(Tagger(models["reg"]).contract))
    fill_regression(shuffled, dataset="qcd", tagger="reg", labels=_flat(path, "Jet_label")[keep],
                    values=v[keep], truth=np.roll(gen, 1), baseline=_flat(path, "Jet_pt")[keep],
                    true_pt=np.where(np.roll(gen, 1) > 0, np.roll(gen, 1), np.nan))  # fmt: skip
    assert not hists_equal({k: out["hists"][k] for k in ref}, shuffled)  # misaligned truth shows


def test_every_chunk_books_the_same_hists(
    sample: Any, models: dict[str, Path], jet_tagger: Path, events: Any
) -> None:
    proc = E2ETaggerProcessor([jet_tagger, models["multi"], models["reg"]], device="cpu")
    ev = events(sample.files[("tau", "sparse")], "sparse", "tau")
    full, empty = proc.process(ev), proc.process(ev[:0])
    keys = {
        "score",
        "score_pt",
        "score_eta",
        "score_match",
        "score_nvtx",
        "feature",
        "objects",
        "score_counts",
        "class_score",
        "value:reg",
        "response:reg",
    }
    assert set(full["hists"]) == set(empty["hists"]) == set(proc.empty_output()["hists"]) == keys
    merged = accumulate([empty, full])
    for k, h in full["hists"].items():
        assert _total(merged["hists"][k]) == _total(h) > 0, k
    n = full["metrics"]["objects"] // 3  # three taggers on the same jets
    assert full["hists"]["score"].sum(flow=True).value == n  # the binary tagger alone
    assert full["hists"]["value:reg"][{"estimator": "model"}].sum(flow=True).value == n


def _total(h: Any) -> float:
    """A histogram's sum with flow: weighted (``.value``) or a count (``objects``)."""
    s = h.sum(flow=True)
    return float(getattr(s, "value", s))
