"""One model-input path: training and the Tagger build a model's inputs with the same
object (:class:`~e2e_coffea.frames.model_inputs.ModelInputs`), so for the same object of
the same file they feed the model the same bits, and the contract export writes is that
object serialised."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.export import E2E_JET_CROP, Contract
from e2e_coffea.export.contract import input_fields
from e2e_coffea.frames import KinematicRange, ModelInputs, ObjectCuts
from e2e_coffea.frames.convert import convert_files
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.shipped import TaggerSpec
from e2e_coffea.io.columns import plan_columns, read_columns
from e2e_coffea.io.nested import flat_branches
from e2e_coffea.layouts import E2E_TREE, LABEL_IDS, SPARSE_TREE
from e2e_coffea.train import RootTaskSource
from e2e_coffea.train.tasks.definitions import TASKS, get_task
from e2e_coffea.train.tasks.pairing import pair_model_and_task

SCALARS = ("pt", "eta", "nVtx")
"""Two object quantities and an event branch broadcast to the objects."""


def _contract(model: str, inputs: ModelInputs) -> Contract:
    """The contract training's export writes for these inputs (the weights play no part)."""
    task = get_task("tau")
    first = "points" if inputs.input_kind == "points" else "frames"
    return Contract(
        **input_fields(inputs),
        task="classification",
        model_name=model,
        class_names=task.classes,
        crop=E2E_JET_CROP,
        input_names=(first, "scalars") if inputs.scalars else (first,),
        validity=task.range.to_dict(),
    )


@pytest.mark.parametrize(("model", "layout"), [("simplenet", "sparse"), ("particle_gnn", "sparse"),
                                               ("simplenet", "e2e")])  # fmt: skip
def test_training_and_tagger_feed_the_same_bits(
    sample: SimpleNamespace, events: Any, tmp_path: Path, model: str, layout: str
) -> None:
    task = get_task("tau")
    pair = pair_model_and_task(model, task, scalars=SCALARS, dry_run=False)
    contract = _contract(model, pair.inputs)
    assert contract.model_inputs() == pair.inputs  # the contract is the training inputs
    path = sample.files[("tau", layout)]
    # the weights are never run here: only the inputs are built
    tagger = Tagger(TaggerSpec("tau_probe", str(tmp_path / "unused.onnx"), contract))

    chunk, lay, _ = tagger.read(events(path, layout, "tau"))
    sel = tagger.select(chunk, lay)
    served, rec = tagger.model_inputs(chunk, lay, sel.selection, "cpu")
    # training's class 1 of the tau file: the tau-labelled objects (labels: validation's read)
    need, maybe = tagger.branches(lay, truth=True)
    every = flat_branches(events(path, layout, "tau"))
    with_truth = read_columns(every, plan_columns(list(every), need, maybe))
    labels = tagger.select(with_truth, lay).selected.label
    taus = labels == LABEL_IDS["tau"]

    tree = SPARSE_TREE if layout == "sparse" else E2E_TREE
    source = RootTaskSource(path, tree, 1, task, pair.inputs)
    trained = source.read(*source.units(10**9)[0])

    assert len(trained) == int(taus.sum()) > 3
    np.testing.assert_array_equal(trained.pt, np.asarray(rec.pt, np.float32)[taus])
    x = served[contract.input_names[0]][taus]
    assert trained.inputs is not None
    assert trained.scalars is not None
    assert trained.inputs.dtype == x.dtype == np.float32
    assert trained.inputs.shape == (len(trained), *pair.input_shape)
    assert trained.inputs.tobytes() == x.tobytes()  # bit for bit
    assert np.count_nonzero(x) > 0
    assert trained.scalars.tobytes() == served["scalars"][taus].tobytes()


def test_the_contract_of_a_training_round_trips() -> None:
    for model, max_points in (("simplenet", None), ("particle_gnn", 32)):
        pair = pair_model_and_task(model, get_task("tau"), max_points=max_points, dry_run=False)
        contract = _contract(model, pair.inputs)
        assert contract.model_inputs() == pair.inputs
        assert (len(contract.channels), *contract.frame_size) == (
            (len(pair.channels), *pair.input_shape[1:])
            if pair.inputs.input_kind == "image"
            else (len(pair.channels), *pair.input_shape)
        )


def test_branches_are_the_inputs_and_nothing_else() -> None:
    jets = ModelInputs("image", "jet", ("ecal",), scalars=("pt", "MET_pt"))
    assert jets.branches("sparse") == [
        "EcalHit_row", "EcalHit_col", "EcalHit_energy", "Jet_seedIeta", "Jet_seedIphi",
        "Jet_pt", "MET_pt",
    ]  # fmt: skip
    assert jets.object_branches("sparse") == ["Jet_seedIeta", "Jet_seedIphi", "Jet_pt", "MET_pt"]
    with pytest.raises(BadInputError, match="input_kind"):
        ModelInputs("voxels", "jet")  # type: ignore[arg-type]


def test_one_kinematic_range_type() -> None:
    """Tasks, contracts and cuts share one range: a task's range is what its contract
    records, reads back as the same object, and narrows the cuts the same way."""
    for task in TASKS.values():
        r = task.range
        assert isinstance(r, KinematicRange)
        assert KinematicRange.of(r.to_dict()) == r
        assert ObjectCuts().within(r) == ObjectCuts().within(r.to_dict()) == task.cuts()
    c = _contract(
        "simplenet", pair_model_and_task("simplenet", get_task("tau"), dry_run=False).inputs
    )
    assert c.kinematic_range == get_task("tau").range
    assert KinematicRange.of({"pt_max": 50.0}).to_dict() == {"pt_max": 50.0}
    with pytest.raises(BadInputError, match="eta_max"):
        KinematicRange.of({"eta_max": 1.0})


def test_frame_file_cuts_are_the_root_paths() -> None:
    cuts = ObjectCuts(pt_min=20.0, pt_max=100.0, abs_eta_max=1.4)
    pt = np.array([10, 30, 30, 30, 150], np.float32)
    eta = np.array([0, 0, 2, 0, 0], np.float32)
    inside = np.array([1, 1, 1, 0, 1], bool)
    assert cuts.passes("jet", 5, pt=pt, eta=eta, in_frame=inside).tolist() == [
        False, True, False, False, False,
    ]  # fmt: skip
    assert cuts.passes("eg", 5, pt=pt, eta=eta, in_frame=inside).tolist() == [
        False, True, False, True, False,
    ]  # fmt: skip
    assert cuts.passes("jet", 5).all()  # no quantity, no cut


def test_frames_files_hold_the_frames_the_tagger_serves(
    sample: SimpleNamespace, events: Any, tmp_path: Path
) -> None:
    """``e2e-coffea frames`` writes, for every object, the frames a tagger of the same
    channels and normalisation is fed for it (its training from frames files sees them)."""
    task = get_task("tau")
    pair = pair_model_and_task("simplenet", task, dry_run=False)
    contract = _contract("simplenet", pair.inputs)
    path = sample.files[("tau", "sparse")]
    out = convert_files([path], tmp_path / "f.npz", layout="sparse", channels=pair.channels,
                        norm=task.preset).out  # fmt: skip
    tagger = Tagger(TaggerSpec("tau_probe", str(tmp_path / "unused.onnx"), contract))
    chunk, lay, _ = tagger.read(events(path, "sparse", "tau"))
    served, rec = tagger.model_inputs(chunk, lay, tagger.select(chunk, lay).selection, "cpu")
    with np.load(out) as f:
        assert tuple(f["channels"]) == contract.channels
        row = {
            (int(e), int(i)): k for k, (e, i) in enumerate(zip(f["event"], f["index"], strict=True))
        }
        rows = [row[(int(e), int(i))] for e, i in zip(rec.event, rec.index, strict=True)]
        written = f["frames"][rows]
    assert len(rows) > 3
    assert written.tobytes() == served["frames"].tobytes()


def test_the_sparse_wire_sends_the_scalars_the_dense_one_feeds(
    sample: SimpleNamespace, events: Any, tmp_path: Path
) -> None:
    pair = pair_model_and_task("simplenet", get_task("tau"), scalars=SCALARS, dry_run=False)
    contract = _contract("simplenet", pair.inputs)
    spec = TaggerSpec("tau_probe", str(tmp_path / "unused.onnx"), contract)
    ev = events(sample.files[("tau", "sparse")], "sparse", "tau")
    fed = []
    for wire in ("dense", "sparse"):  # no request is sent: only the inputs are built
        tagger = Tagger(spec, triton="localhost:1", triton_wire=wire)
        chunk, lay, _ = tagger.read(ev)
        fed.append(tagger.model_inputs(chunk, lay, tagger.select(chunk, lay).selection, "cpu")[0])
    assert len(fed[0]["scalars"]) > 3
    assert fed[0]["scalars"].tobytes() == fed[1]["scalars"].tobytes()
