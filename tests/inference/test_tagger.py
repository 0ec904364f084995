"""``Tagger``: scores as a column beside the objects, in any processor, for every model kind."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
from coffea import processor
from scipy.special import softmax

from e2e_coffea.exceptions import BadInputError, ContractError, MissingBranchError
from e2e_coffea.export import Contract, export_tagger
from e2e_coffea.frames import (
    ObjectCuts,
    build_eg_frames,
    build_jet_frames,
    load_norm,
    resolve_channels,
)
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.sessions import cached_sessions, clear_cache

QG = tuple(s.name for s in resolve_channels("qg", frame="jet"))


class MeanNet(torch.nn.Module):
    """A transparent 'model': per-channel means through a fixed linear map."""

    def __init__(self, n_in: int, n_out: int, *, scalars: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(n_in * 10 + n_out)
        self.w = torch.nn.Parameter(torch.randn(n_in + scalars, n_out, generator=g))

    def forward(self, x: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
        feats = x.mean(dim=(2, 3)) * 100
        if s is not None:
            feats = torch.cat([feats, s / 100], dim=1)
        return feats @ self.w


def _jet_contract(**kw: Any) -> Contract:
    base = dict(task="classification", model_name="mean", channels=QG, frame_size=(125, 125),
                class_names=("qcd", "tau"), channel_preset="qg", normalisation=load_norm("qg").to_dict())  # fmt: skip
    return Contract(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tagger-models")
    return {
        "binary": export_tagger(MeanNet(3, 1), _jet_contract(), d / "binary.onnx"),
        "multi": export_tagger(MeanNet(3, 3), _jet_contract(class_names=("qcd", "electron", "tau")), d / "multi.onnx"),
        "regression": export_tagger(
            MeanNet(3, 1), _jet_contract(task="regression", class_names=("jet_mass",), target={"name": "jet_mass", "unit": "GeV", "transform": "log"}),
            d / "regression.onnx",
        ),
        "scalars": export_tagger(
            MeanNet(3, 1, scalars=2), _jet_contract(scalar_inputs=("pt", "nVtx"), input_names=("frames", "scalars")),
            d / "scalars.onnx",
        ),
    }  # fmt: skip


def _arrays(path: Path, tree: str) -> ak.Array:
    return uproot.open(path)[tree].arrays()


def _reference(
    path: Path, model: Path, cuts: ObjectCuts, scalars: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(raw model outputs of the selected jets, which jets are selected), the slow way."""
    import onnxruntime as ort

    chunk = _arrays(path, "Events")
    pt, eta, ieta = (
        ak.to_numpy(ak.flatten(chunk[b])) for b in ("Jet_pt", "Jet_eta", "Jet_seedIeta")
    )
    r0 = 5 * ieta + 2 - 62
    keep = (
        (pt > cuts.pt_min)
        & (pt < cuts.pt_max)
        & (np.abs(eta) < cuts.abs_eta_max)
        & (r0 >= 0)
        & (r0 + 125 <= 280)
    )
    counts = ak.to_numpy(ak.num(chunk["Jet_pt"]))
    mask = ak.unflatten(keep, counts)
    frames, rec = build_jet_frames(chunk, layout="sparse", channels="qg", jets=mask, norm="qg")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feed = {"frames": frames}
    if scalars:
        nvtx = ak.to_numpy(chunk["nVtx"])[rec.event]
        feed["scalars"] = np.stack([rec.pt, nvtx], axis=1).astype(np.float32)
    return sess.run(None, feed)[0], keep


def test_binary_scores_sit_beside_the_jets(sample: Any, models: dict[str, Path]) -> None:
    path = sample.files[("tau", "sparse")]
    events = _arrays(path, "Events")
    tagger = Tagger(models["binary"], device="cpu")
    scores = tagger(events)
    assert ak.num(scores).tolist() == ak.num(events["Jet_pt"]).tolist()
    raw, keep = _reference(path, models["binary"], ObjectCuts())
    flat = ak.to_numpy(ak.fill_none(ak.flatten(scores), np.nan))
    assert np.array_equal(~np.isnan(flat), keep)  # None exactly outside the acceptance
    np.testing.assert_allclose(flat[keep], 1 / (1 + np.exp(-raw[:, 0])), rtol=1e-5)
    assert tagger.stats["scored"] == keep.sum()
    assert tagger.stats["objects"] == len(keep)
    reasons = {k: v for k, v in tagger.stats.items() if k not in ("objects", "selected", "scored")}
    assert sum(reasons.values()) == (~keep).sum()


def test_multi_class_gives_a_record_of_probabilities(sample: Any, models: dict[str, Path]) -> None:
    path = sample.files[("tau", "sparse")]
    scores = Tagger(models["multi"], device="cpu")(_arrays(path, "Events"))
    assert scores.fields == ["qcd", "electron", "tau"]
    raw, keep = _reference(path, models["multi"], ObjectCuts())
    got = np.stack(
        [ak.to_numpy(ak.fill_none(ak.flatten(scores[c]), np.nan)) for c in scores.fields], 1
    )
    np.testing.assert_allclose(got[keep], softmax(raw.astype(np.float64), axis=1), rtol=1e-5)
    np.testing.assert_allclose(got[keep].sum(axis=1), 1.0, rtol=1e-6)
    assert np.isnan(got[~keep]).all()


def test_regression_gives_the_value_in_physical_units(sample: Any, models: dict[str, Path]) -> None:
    path = sample.files[("tau", "sparse")]
    scores = Tagger(models["regression"], device="cpu")(_arrays(path, "Events"))
    raw, keep = _reference(path, models["regression"], ObjectCuts())
    flat = ak.to_numpy(ak.fill_none(ak.flatten(scores), np.nan))
    np.testing.assert_allclose(flat[keep], np.exp(raw[:, 0]), rtol=1e-5)  # log target undone


def test_scalar_inputs_come_from_records_and_event_branches(
    sample: Any, models: dict[str, Path]
) -> None:
    path = sample.files[("tau", "sparse")]
    scores = Tagger(models["scalars"], device="cpu")(_arrays(path, "Events"))
    raw, keep = _reference(path, models["scalars"], ObjectCuts(), scalars=True)
    flat = ak.to_numpy(ak.fill_none(ak.flatten(scores), np.nan))
    np.testing.assert_allclose(flat[keep], 1 / (1 + np.exp(-raw[:, 0])), rtol=1e-5)


def test_e_gamma_scores_follow_the_candidates(sample: Any, eg_tagger: Path) -> None:
    path = sample.files[("tau", "sparse")]
    events = _arrays(path, "Events")
    tagger = Tagger(eg_tagger, device="cpu", cuts=ObjectCuts(pt_min=0.0))
    scores = tagger(events)
    assert ak.num(scores).tolist() == ak.num(events["EGamma_pt"]).tolist()
    eta = ak.to_numpy(ak.flatten(events["EGamma_eta"]))
    flat = ak.to_numpy(ak.fill_none(ak.flatten(scores), np.nan))
    np.testing.assert_array_equal(np.isnan(flat), ~(np.abs(eta) < 2.4))
    frames, _ = build_eg_frames(events, layout="sparse", channels=("eb_energy", "eb_time"), norm="eg",
                                objects=ak.unflatten(np.abs(eta) < 2.4, ak.num(events["EGamma_pt"])))  # fmt: skip
    assert len(frames) == np.isfinite(flat).sum()


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_both_layouts_give_the_same_scores(
    sample: Any, models: dict[str, Path], layout: str
) -> None:
    tree = {"sparse": "Events", "e2e": "fevt/RHTree"}[layout]
    got = Tagger(models["binary"], device="cpu")(_arrays(sample.files[("tau", layout)], tree))
    ref = Tagger(models["binary"], device="cpu")(_arrays(sample.files[("tau", "sparse")], "Events"))
    a = ak.to_numpy(ak.fill_none(ak.flatten(got), -1.0))
    b = ak.to_numpy(ak.fill_none(ak.flatten(ref), -1.0))
    np.testing.assert_array_equal(a, b)  # frames are bitwise identical across layouts


class AnalysisProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """What a physicist writes: their own processor, the tagger as a column."""

    def __init__(self, model: Path) -> None:
        self.tagger = Tagger(model, device="cpu")

    def process(self, events: Any) -> dict[str, Any]:
        score = self.tagger(events)
        tagged = ak.fill_none(score > 0.5, False)
        return {"jets": int(ak.sum(ak.num(score))), "tagged": int(ak.sum(tagged)),
                "scored": int(ak.sum(~ak.is_none(score, axis=1)))}  # fmt: skip

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_inside_any_processor_on_any_executor(
    sample: Any, models: dict[str, Path], executor: str
) -> None:
    from coffea.nanoevents import BaseSchema

    fileset = {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}}}
    exe = (
        processor.IterativeExecutor(status=False)
        if executor == "iterative"
        else processor.FuturesExecutor(workers=2, status=False)
    )
    runner = processor.Runner(executor=exe, schema=BaseSchema, chunksize=13)
    out = runner(fileset, AnalysisProcessor(models["binary"]))
    _raw, keep = _reference(sample.files[("tau", "sparse")], models["binary"], ObjectCuts())
    assert out["jets"] == len(keep)
    assert out["scored"] == keep.sum()


def test_pickles_without_a_session_and_caches_one_per_process(
    sample: Any, models: dict[str, Path]
) -> None:
    clear_cache()
    tagger = Tagger(models["binary"], device="cpu")
    before = pickle.dumps(tagger)
    events = _arrays(sample.files[("tau", "sparse")], "Events")
    tagger(events)
    tagger(events[:10])
    assert len(cached_sessions()) == 1  # one session for two chunks
    assert pickle.dumps(tagger) == before  # no session, no client, no counts travel
    assert b"InferenceSession" not in pickle.dumps(tagger)
    clone = pickle.loads(before)
    assert clone(events).tolist() == tagger(events).tolist()


def test_reads_only_the_branches_it_needs(sample: Any, models: dict[str, Path]) -> None:
    tagger = Tagger(models["binary"], device="cpu")
    required, optional = tagger.branches("sparse")
    events = _arrays(sample.files[("tau", "sparse")], "Events")
    lean = events[[*required, *optional]]
    assert tagger(lean).tolist() == tagger(events).tolist()
    with pytest.raises(MissingBranchError, match="EcalHit_energy"):
        tagger(events[[b for b in lean.fields if b != "EcalHit_energy"]])


def test_clear_errors(tmp_path: Path, models: dict[str, Path]) -> None:
    with pytest.raises(BadInputError, match="unknown tagger 'nope'"):
        Tagger("nope")
    with pytest.raises(BadInputError, match="cannot tell the layout"):
        Tagger(models["binary"], device="cpu")(ak.Array({"x": [1, 2]}))
    # a graph taking 3 channels under a 13-channel contract is refused when resolved
    bad = _jet_contract(channels=tuple(s.name for s in resolve_channels("tau13", frame="jet")), channel_preset="tau13",
                        normalisation=load_norm("tau13").to_dict())  # fmt: skip
    from e2e_coffea.export.attach import attach_contract

    with pytest.raises(
        ContractError, match=r"declared \(.*3, 125, 125\).*implies \(batch, 13, 125, 125\)"
    ):
        attach_contract(
            models["binary"],
            tmp_path / "x.onnx",
            channels="tau13",
            classes=("qcd", "tau"),
            kind="jet",
        )
    assert bad.n_channels == 13


def test_wrong_types_and_short_branches_say_so_in_one_line(
    sample: Any, models: dict[str, Path]
) -> None:
    from e2e_coffea.exceptions import BadTypeError, FileLayoutError

    for bad in (42, None, ["tau_simplenet"]):
        with pytest.raises(
            TypeError, match=f"tagger must be a shipped name.*got {type(bad).__name__}"
        ):
            Tagger(bad)  # type: ignore[arg-type]
    with pytest.raises(BadTypeError, match="batch_size must be a number, got str 'x'"):
        Tagger(models["binary"], batch_size="x")  # type: ignore[arg-type]
    with pytest.raises(BadTypeError, match="cuts must be an ObjectCuts, got dict"):
        Tagger(models["binary"], cuts={"pt_min": 30})  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="layout must be one of"):
        Tagger(models["binary"], layout="nano")  # type: ignore[arg-type]
    tagger = Tagger(models["binary"], device="cpu")
    with pytest.raises(BadTypeError, match=r"events must be .* got int 42"):
        tagger(42)
    events = _arrays(sample.files[("tau", "sparse")], "Events")
    branches = {f: events[f] for f in events.fields}
    branches["Jet_eta"] = branches["Jet_eta"][:-1]  # one event short
    n = len(events)
    with pytest.raises(
        FileLayoutError,
        match=rf"'Jet_eta' has {n - 1} entries where the other \d+ branch\(es\) have {n}$",
    ):
        tagger(branches)


def test_the_contract_validity_range_is_the_default_selection(sample: Any, tmp_path: Path) -> None:
    import warnings

    from e2e_coffea.inference import ValidityRangeWarning

    top = Tagger("top_simplenet")  # trained on 400-1000 GeV FatJets
    assert (top.cuts.pt_min, top.cuts.pt_max, top.cuts.abs_eta_max) == (400.0, 1000.0, 1.392)
    valid = {"pt_min": 25.0, "pt_max": 60.0, "abs_eta_max": 1.2}
    model = export_tagger(MeanNet(3, 1), _jet_contract(validity=valid), tmp_path / "ranged.onnx")
    path = sample.files[("tau", "sparse")]
    events = _arrays(path, "Events")
    tagger = Tagger(model, device="cpu")
    flat = ak.to_numpy(ak.fill_none(ak.flatten(tagger(events)), np.nan))
    _raw, inside = _reference(path, model, ObjectCuts(pt_min=25.0, pt_max=60.0, abs_eta_max=1.2))
    _raw, everything = _reference(path, model, ObjectCuts())
    assert 0 < inside.sum() < everything.sum()  # the range takes jets the old default scored
    np.testing.assert_array_equal(~np.isnan(flat), inside)
    pt = ak.to_numpy(ak.flatten(events["Jet_pt"]))
    assert tagger.stats["pt outside 25-60"] == ((pt <= 25) | (pt >= 60)).sum()
    assert tagger.stats["|eta|>=1.2"] > 0
    # cuts= overrides the range, with one warning saying how far beyond it they reach
    with pytest.warns(ValidityRangeWarning) as caught:
        wide = Tagger(model, device="cpu", cuts=ObjectCuts())
    assert len(caught) == 1
    assert "pt_min 20 < 25, pt_max inf > 60, abs_eta_max 2.4 > 1.2" in str(caught[0].message)
    wide_flat = ak.to_numpy(ak.fill_none(ak.flatten(wide(events)), np.nan))
    np.testing.assert_array_equal(~np.isnan(wide_flat), everything)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # narrower cuts inside the range: no warning
        Tagger(model, device="cpu", cuts=ObjectCuts(pt_min=30.0, pt_max=50.0, abs_eta_max=1.0))
