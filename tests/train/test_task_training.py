"""Task training from ROOT (both layouts) and from frames files, end to end: the objects
streamed are those of a whole-file reference, the export is a tagger that inference
reads back and scores like the trained model, and a resumed run is the uninterrupted one."""

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
from scipy.special import expit

from e2e_coffea.export import load_contract
from e2e_coffea.frames import ObjectCuts, build_jet_frames, load_norm
from e2e_coffea.inference import Tagger
from e2e_coffea.layouts import EVENT_ID_BRANCHES
from e2e_coffea.models import create_model
from e2e_coffea.train import build_index, load_checkpoint, train_task
from e2e_coffea.train.data.split import split_of
from e2e_coffea.train.tasks.definitions import get_task, task_selection

TINY = {"width": 4, "hidden": 8}


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_streamed_objects_are_the_whole_file_reference(tau_sources: Any, layout: str) -> None:
    task = get_task("tau")
    above = 0
    for src in tau_sources(layout):
        with uproot.open(src.name) as f:
            whole = f[src._open().object_path].arrays()
        sel = task_selection(task, whole, src.layout, src.target)  # the task's range
        ids = [np.asarray(whole[n]) for n in EVENT_ID_BRANCHES[src.layout]]
        want_split = split_of(*(v[sel.event] for v in ids))
        frames, rec = build_jet_frames(
            whole, layout=src.layout, channels="tau13", norm=load_norm("tau13"), jets=sel
        )
        parts = [src.read(a, b) for a, b in src.units(7)]  # small units: chunk edges everywhere
        scans = [src.scan(a, b) for a, b in src.units(7)]
        got = np.concatenate([p.inputs for p in parts])
        np.testing.assert_array_equal(got, frames)
        np.testing.assert_array_equal(np.concatenate([p.split for p in parts]), want_split)
        np.testing.assert_array_equal(np.concatenate([s.pt for s in scans]), rec.pt)
        assert {int(t) for p in parts for t in p.target} <= {src.target}
        r = task.range  # the task's kinematic range is applied, not only the default cuts
        assert np.all((rec.pt > r.pt_min) & (rec.pt < r.pt_max))
        wide = task_selection(task, whole, src.layout, src.target, ObjectCuts())
        above += len(wide) - len(sel)
    assert above > 0  # there were objects outside the range to leave out


def test_train_export_resume_and_the_tagger_agrees(
    train_sample: SimpleNamespace, tau_sources: Any, tmp_path: Path
) -> None:
    kw = {
        "batch_size": 16,
        "model_kwargs": TINY,
        "progress": False,
        "chunksize": 15,
        "shuffle_buffer": 64,
        "patience": None,
        "seed": 2,
        "reweight": "pt",
    }
    full = train_task(
        "tau", "simplenet", train_sample.fileset["sparse"], tmp_path / "a", epochs=2, **kw
    )
    train_task("tau", "simplenet", train_sample.fileset["sparse"], tmp_path / "b", epochs=1, **kw)
    resumed = train_task(
        "tau",
        "simplenet",
        train_sample.fileset["sparse"],
        tmp_path / "b",
        epochs=2,
        resume=True,
        **kw,
    )
    a = load_checkpoint(tmp_path / "a" / "my_tau_simplenet.ckpt" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "my_tau_simplenet.ckpt" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert full["val_auc"] == pytest.approx(resumed["val_auc"])
    counts = full["objects"]
    index = build_index(tau_sources("sparse"), step=50, class_names=("qcd", "tau"))
    assert counts == index.counts()  # chunking does not change what is in each split

    c = load_contract(full["path"])
    assert len(c.channels) == 13
    assert c.frame_size == (125, 125)
    assert c.normalisation == load_norm("tau13").to_dict()
    assert c.provenance["objects"] == counts
    assert c.provenance["reweighting"]["mode"] == "pt"
    assert c.metrics["weighted"] is True
    assert [h["epoch"] for h in c.metrics["history"]] == [1, 2]
    assert c.validity == get_task("tau").range.to_dict()
    assert c.provenance["training"]["train_objects_per_class"] == counts["train"]
    assert c.provenance["training"]["epochs_run"] == 2
    assert c.provenance["training"]["wall_s"] > c.provenance["training"]["train_seconds"] > 0
    # the training conditions, from the training frames: the tagger below, on the same
    # sample, must not warn (pytest turns a ConditionsWarning into an error)
    assert c.conditions is not None
    assert c.conditions["pileup_mu"] == 0.0
    assert c.conditions["mean_nvtx"] == 1.0
    assert set(c.conditions["occupancy"]) == set(c.channels)
    assert c.conditions["occupancy"]["ecal"]["hits"] > 0
    assert 0 < c.conditions["frames"] <= counts["train"]["qcd"] + counts["train"]["tau"]
    metrics = json.loads((tmp_path / "a" / "my_tau_simplenet.metrics.json").read_text())
    assert len(metrics) == 2

    # the exported tagger gives the trained model's scores on the same jets
    src = tau_sources("sparse")[0]
    with uproot.open(src.name) as f:
        chunk = f["Events"].arrays()
    tagger = Tagger(full["path"], device="cpu")
    flat = ak.to_numpy(ak.drop_none(ak.flatten(tagger(chunk)))).astype(np.float64)
    sel = tagger.select(chunk, "sparse")
    frames, _ = build_jet_frames(
        chunk, layout="sparse", channels="tau13", norm=load_norm("tau13"), jets=sel.selection
    )
    model = create_model("simplenet", 13, 1, **TINY)
    best = load_checkpoint(tmp_path / "a" / "my_tau_simplenet.ckpt" / "best.pt")["model"]
    model.load_state_dict(best)
    with torch.no_grad():
        want = expit(model.eval()(torch.from_numpy(frames)).numpy().reshape(-1))
    assert len(want) > 0
    np.testing.assert_allclose(flat, want, rtol=1e-4, atol=1e-5)


def test_point_model_trains_with_a_points_contract(
    train_sample: SimpleNamespace, tau_sources: Any, tmp_path: Path
) -> None:
    info = train_task(
        "tau",
        "particle_gnn",
        train_sample.fileset["e2e"],
        tmp_path,
        epochs=1,
        batch_size=16,
        max_points=16,
        order="dr",
        progress=False,
    )
    c = load_contract(info["path"])
    assert c.input_kind == "points"
    assert c.frame_size == (16, len(c.channels))
    assert c.points["max_points"] == 16
    assert c.points["order"] == "dr"
    assert c.normalisation is None
    with uproot.open(tau_sources("e2e")[0].name) as f:
        chunk = f["fevt/RHTree"].arrays()
    scores = Tagger(info["path"], device="cpu")(chunk)
    values = ak.to_numpy(ak.drop_none(ak.flatten(scores)))
    assert len(values) > 0
    assert np.all((values >= 0.0) & (values <= 1.0))
