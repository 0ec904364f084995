"""A tagger knows its training conditions and says, once, when a sample is far outside them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from e2e_coffea.export import Contract, export_tagger
from e2e_coffea.frames import load_norm, resolve_channels
from e2e_coffea.frames.occupancy import tally_means
from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference import Tagger, resolve_tagger
from e2e_coffea.inference.conditions import (
    ConditionsWarning,
    conditions_warning,
    expected_conditions,
)
from e2e_coffea.io import write_sparse
from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import RunResult

QG = tuple(s.name for s in resolve_channels("qg", frame="jet"))


class MeanNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(len(QG), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) @ self.w


def _model(path: Path, **kw: Any) -> Path:
    c = Contract(task="classification", model_name="mean", channels=QG, frame_size=(125, 125),
                 class_names=("qcd", "tau"), channel_preset="qg",
                 normalisation=load_norm("qg").to_dict(), **kw)  # fmt: skip
    return export_tagger(MeanNet(), c, path)


def _events(sample: Any) -> ak.Array:
    return uproot.open(sample.files[("tau", "sparse")])["Events"].arrays()


def _busy(events: ak.Array, factor: float = 6.0) -> ak.Array:
    """The same events with every ECAL hit `factor` times as energetic and 36 vertices:
    a synthetic high-occupancy, high-pile-up chunk."""
    out = ak.with_field(events, events["EcalHit_energy"] * factor, "EcalHit_energy")
    return ak.with_field(out, ak.full_like(events["nVtx"], 36), "nVtx")


def test_a_sample_like_training_is_quiet_a_busy_one_warns_once(sample: Any, tmp_path: Path) -> None:
    events = _events(sample)
    probe = Tagger(_model(tmp_path / "probe.onnx"), device="cpu")  # no conditions: no check
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe(events)
    trained = tally_means(probe.tally)
    assert trained["mean_nvtx"] >= 1
    assert trained["occupancy"]["ecal"]["hits"] > 0
    model = _model(tmp_path / "cond.onnx", conditions={**trained, "pileup_mu": 0.0})
    assert Tagger(model).contract.conditions == {**trained, "pileup_mu": 0.0}  # round trip
    tagger = Tagger(model, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tagger(events)  # the training conditions themselves
    busy = Tagger(model, device="cpu")
    chunk = _busy(events)
    with pytest.warns(ConditionsWarning) as caught:
        busy(chunk)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        busy(chunk)  # once per tagger: the second busy chunk is quiet
    text = str(caught[0].message)
    assert "mean nVtx 36.0" in text
    assert "ecal energy per frame" in text
    assert "hcal" not in text  # only the ECAL hits were scaled


def test_shipped_taggers_know_they_saw_no_pileup(tmp_path: Path) -> None:
    expected = expected_conditions(resolve_tagger("tau_simplenet").contract)
    assert expected is not None
    assert expected["pileup_mu"] == 0.0
    assert expected["mean_nvtx"] == 1.0
    line = conditions_warning("tau_simplenet", expected, {"mean_nvtx": 36.5})
    assert line is not None
    assert "mean nVtx 36.5, trained at 1.0 (pile-up 0)" in line
    assert conditions_warning("tau_simplenet", expected, {"mean_nvtx": 1.0}) is None
    assert conditions_warning("t", None, {"mean_nvtx": 36.5}) is None  # nothing known


def _busy_file(src: Path, dst: Path) -> Path:
    """:func:`_busy` written as a sparse file, for the main job."""
    flat = _busy(uproot.open(src)["Events"].arrays())
    chunk: dict[str, Any] = {
        coll: ak.zip({k: flat[f"{coll}_{k}"] for k in fields})
        for coll, fields in SPARSE_COLLECTIONS.items()
    }
    chunk["event"] = ak.zip({b: flat[b] for b in SPARSE_EVENT_BRANCHES})
    write_sparse(dst, chunk)
    return dst


def test_the_run_summary_warns(sample: Any, tmp_path: Path, events: Any) -> None:
    provenance = {"samples": {"qcd": {"pileup": 0.0}, "tau": {"pileup": 0.0}}}
    spec = resolve_tagger(_model(tmp_path / "mu0.onnx", provenance=provenance))
    proc = E2ETaggerProcessor([spec], device="cpu", mean_images=False)
    src = sample.files[("tau", "sparse")]
    quiet = proc.process(events(src, "sparse", "tau"))
    loud = proc.process(events(_busy_file(src, tmp_path / "busy.root"), "sparse", "tau"))
    for out, n_warn in ((quiet, 0), (loud, 1)):
        result = RunResult(output=out, expected={"f": 40}, wall_time=1.0)
        s = summarize(result, [spec])
        assert len(s["warnings"]) == n_warn
        assert s["taggers"][spec.name]["conditions"]["trained"]["mean_nvtx"] == 1.0
        if n_warn:
            assert "mean nVtx 36.0, trained at 1.0 (pile-up 0)" in s["warnings"][0]


def test_frame_sums_agree_on_numpy_and_torch() -> None:
    from e2e_coffea.frames.occupancy import frame_sums

    rng = np.random.default_rng(1)
    frames = rng.normal(0, 1, (4, 3, 5, 5)).astype(np.float32)
    frames[rng.random(frames.shape) < 0.7] = 0.0
    hits, energy = frame_sums(frames)
    np.testing.assert_array_equal(hits, (frames != 0).sum(axis=(0, 2, 3)))
    np.testing.assert_allclose(energy, np.abs(frames).sum(axis=(0, 2, 3)), rtol=1e-6)
    t_hits, t_energy = frame_sums(torch.from_numpy(frames))
    np.testing.assert_array_equal(t_hits, hits)
    np.testing.assert_allclose(t_energy, energy, rtol=1e-6)
