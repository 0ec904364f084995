"""The three kinds of task end to end: a multi-class tagger, a regression with its target
in physical units, scalar inputs standardised the same way in training and inference,
and the torch weights shipped beside the ONNX file; and the pairings ``train`` refuses."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
from scipy.special import softmax

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.export import load_contract
from e2e_coffea.frames import build_jet_frames, load_norm
from e2e_coffea.frames.objects import object_values
from e2e_coffea.frames.scalars import scalar_matrix
from e2e_coffea.inference import Tagger
from e2e_coffea.io import load_fileset
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.models import _registry, create_model, register_model
from e2e_coffea.models.simplenet import simplenet
from e2e_coffea.train import train_task
from e2e_coffea.train.tasks.definitions import TASKS, get_task
from e2e_coffea.train.tasks.pairing import pair_model_and_task

TINY = {"width": 4, "hidden": 8}
KW = {"batch_size": 16, "model_kwargs": TINY, "progress": False, "chunksize": 15, "patience": None}


@pytest.fixture(scope="module")
def three_processes(
    train_sample: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """tau + qcd (the shared training sample) + electron events: a tau3 fileset."""
    from e2e_coffea.sim.generate import generate

    root = tmp_path_factory.mktemp("electron")
    ele = load_fileset(generate(["electron"], 60, root, seed=12, events_per_file=30)["sparse"])
    both = load_fileset(train_sample.fileset["sparse"])
    path = root / "tau3.json"
    path.write_text(json.dumps({**both, **ele}))
    return path


def _chunk(fileset: Path, dataset: str) -> tuple[ak.Array, str]:
    entry = load_fileset(fileset)[dataset]
    path = next(iter(entry["files"]))
    with uproot.open(path) as f:
        return f["Events"].arrays(), path


def _scored(tagger: Tagger, chunk: ak.Array) -> np.ndarray:
    """The tagger's outputs for its selected objects of ``chunk``, in selection order."""
    sel = tagger.select(chunk, "sparse")
    return np.concatenate([b.outputs for b in tagger.score_batches(chunk, "sparse", sel)])


def _frames(tagger: Tagger, chunk: ak.Array) -> tuple[np.ndarray, Any]:
    sel = tagger.select(chunk, "sparse")
    frames, rec = build_jet_frames(chunk, layout="sparse", channels=list(tagger.contract.channels),
                                   norm=load_norm(tagger.contract.channel_preset), jets=sel.selection)  # fmt: skip
    return frames, rec


def test_multiclass_task_trains_one_logit_per_class(three_processes: Path, tmp_path: Path) -> None:
    info = train_task("tau3", "simplenet", three_processes, tmp_path, epochs=1, reweight="pt", **KW)
    c = load_contract(info["path"])
    assert c.task == "classification"
    assert c.class_names == ("qcd", "electron", "tau")
    assert c.model_kwargs["n_outputs"] == 3
    assert set(info["objects"]["train"]) == {"qcd", "electron", "tau"}
    assert all(n > 0 for n in info["objects"]["train"].values())
    assert set(c.metrics["test_auc_per_class"]) == {"qcd", "electron", "tau"}
    assert set(c.provenance["reweighting"]["tables"]) == {"0", "1", "2"}
    # inference gives the softmax of the trained model, one probability per class
    chunk, _ = _chunk(three_processes, "electron")
    tagger = Tagger(info["path"], device="cpu")
    frames, _ = _frames(tagger, chunk)
    probs = _scored(tagger, chunk)
    model = create_model("simplenet", pretrained=Path(info["path"]).with_suffix(".pt"))
    with torch.no_grad():
        want = softmax(model(torch.from_numpy(frames)).numpy().astype(np.float64), axis=1)
    assert len(want) > 0
    assert probs.shape == want.shape
    np.testing.assert_allclose(probs, want, rtol=1e-4, atol=1e-5)


def test_regression_learns_the_truth_and_infers_physical_units(
    train_sample: SimpleNamespace, tmp_path: Path
) -> None:
    fileset = Path(train_sample.fileset["sparse"])
    info = train_task("tau_pt", "simplenet", fileset, tmp_path, epochs=1, **KW)
    c = load_contract(info["path"])
    task = get_task("tau_pt")
    assert c.task == "regression"
    assert c.class_names == ("tau_pt",)
    assert c.target == task.target.to_dict()
    assert c.target["truth"] == "gen_vis_tau_pt"
    assert c.validity == task.range.to_dict()
    assert "val_loss" in c.metrics
    assert np.isfinite(c.metrics["test_response_median"])
    assert set(info["objects"]["train"]) == {"tau"}  # the tau sample's tau jets only
    # the objects learnt from are the tau jets with a visible tau; inference undoes the log
    chunk, _ = _chunk(fileset, "tau")
    tagger = Tagger(info["path"], device="cpu")
    frames, rec = _frames(tagger, chunk)
    values = _scored(tagger, chunk)
    model = create_model("simplenet", pretrained=Path(info["path"]).with_suffix(".pt"))
    with torch.no_grad():
        raw = model(torch.from_numpy(frames)).numpy().reshape(-1).astype(np.float64)
    np.testing.assert_allclose(values, np.exp(raw), rtol=1e-4)
    truth = object_values(chunk, "sparse", "jet", "gen_vis_tau_pt", rec.event, rec.index)
    assert truth is not None
    assert np.all(truth[rec.label == LABEL_IDS["tau"]] > 0)


def test_scalars_are_standardised_alike_in_training_and_inference(
    train_sample: SimpleNamespace, tmp_path: Path
) -> None:
    fileset = Path(train_sample.fileset["sparse"])
    info = train_task(
        "tau", "simplenet", fileset, tmp_path, epochs=1, scalars=("MET_pt", "nVtx"), **KW
    )
    c = load_contract(info["path"])
    assert c.scalar_inputs == ("MET_pt", "nVtx")
    assert c.model_kwargs["n_scalars"] == 2
    assert c.provenance["training"]["scalars"] == ["MET_pt", "nVtx"]
    # the standardisation is the training objects' mean and spread
    mean_met, std_met = c.scalar_norm["MET_pt"]
    assert std_met > 0
    assert c.scalar_norm["nVtx"] == [1.0, 1.0]  # no pile-up: nVtx = 1 everywhere, left centred
    chunk, _ = _chunk(fileset, "qcd")
    tagger = Tagger(info["path"], device="cpu")
    frames, rec = _frames(tagger, chunk)
    scores = _scored(tagger, chunk)
    s = scalar_matrix(chunk, rec, ("MET_pt", "nVtx"), {}, c.scalar_norm)
    met = np.asarray(chunk["MET_pt"], np.float64)[rec.event]
    np.testing.assert_allclose(s[:, 0], (met - mean_met) / std_met, rtol=1e-5)
    model = create_model("simplenet", pretrained=Path(info["path"]).with_suffix(".pt"))
    with torch.no_grad():
        want = (
            torch.sigmoid(model(torch.from_numpy(frames), torch.from_numpy(s))).numpy().reshape(-1)
        )
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-5)


def test_pretrained_weights_rebuild_the_exported_model(
    train_sample: SimpleNamespace, tmp_path: Path
) -> None:
    info = train_task("tau", "simplenet", Path(train_sample.fileset["sparse"]), tmp_path,
                      epochs=1, **KW)  # fmt: skip
    weights = Path(info["path"]).with_suffix(".pt")
    c = load_contract(info["path"])
    model = create_model("simplenet", pretrained=weights)
    assert model.model_kwargs == c.model_kwargs  # the contract's arguments, not defaults
    assert not model.training
    from e2e_coffea.export import onnx_outputs

    x = np.random.default_rng(0).random((4, 13, 125, 125), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(onnx_outputs(info["path"], x), want, rtol=1e-4, atol=1e-5)
    # the same arguments given by hand are fine; others, another model or name, are not
    create_model("simplenet", 13, 1, pretrained=weights, width=4)
    with pytest.raises(BadInputError, match=r"width=8 \(trained with 4\)"):
        create_model("simplenet", pretrained=weights, width=8)
    with pytest.raises(BadInputError, match="is a 'simplenet' model, not 'resnet15'"):
        create_model("resnet15", pretrained=weights)
    with pytest.raises(BadInputError, match="unknown pretrained model 'tau_alexnet'"):
        create_model("simplenet", pretrained="tau_alexnet")
    with pytest.raises(BadInputError, match="needs in_channels"):
        create_model("simplenet")


def test_train_refuses_pairings_it_cannot_train(monkeypatch: pytest.MonkeyPatch) -> None:
    # registered for this test only: a model registered at import would reach every test
    # that lists the models (tests/export/test_export.py collected after this file)
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))

    @register_model(name="test_no_task_net")
    def _no_task_net(in_channels: int, n_outputs: int = 1, width: int = 4) -> torch.nn.Module:
        """A model whose constructor knows nothing of regression or scalars."""
        return simplenet(in_channels, n_outputs, width=width, hidden=8)

    with pytest.raises(
        BadInputError, match="takes no 'task' argument, so it cannot be built for a regression"
    ):
        pair_model_and_task("test_no_task_net", get_task("jet_mass"))
    with pytest.raises(BadInputError, match="takes no 'n_scalars' argument"):
        pair_model_and_task("test_no_task_net", get_task("tau"), scalars=("MET_pt",))
    pair_model_and_task("test_no_task_net", get_task("tau"))  # a plain classifier is fine
    with pytest.raises(
        BadInputError, match="from frames files: they hold no truth 'gen_vis_tau_pt'"
    ):
        pair_model_and_task("simplenet", get_task("tau_pt"), frames_files=True)
    with pytest.raises(BadInputError, match=r"they hold no scalars \['nVtx'\]"):
        pair_model_and_task("simplenet", get_task("tau"), frames_files=True, scalars=("nVtx",))
    with pytest.raises(BadInputError, match="set by the task"):
        pair_model_and_task(
            "simplenet", get_task("tau_pt"), model_kwargs={"task": "classification"}
        )
    with pytest.raises(BadInputError, match="jet point clouds"):
        pair_model_and_task("particle_gnn", get_task("eg"))
    pair = pair_model_and_task(
        "particle_gnn", get_task("tau_pt"), max_points=16
    )  # points regress too
    assert pair.model_kwargs["task"] == "regression"


def test_every_task_is_consistent() -> None:
    for task in TASKS.values():
        assert task.range.pt_min < task.range.pt_max
        assert task.n_outputs == (1 if task.target or task.n_classes == 2 else task.n_classes)
        assert len(task.classes) == (1 if task.target else task.n_classes)
        assert task.cuts().pt_max == task.range.pt_max
    assert get_task("tau3").classes == ("qcd", "electron", "tau")
    assert get_task("jet_mass").target.forward([0.0, np.e - 1])[1] == pytest.approx(1.0)
