"""The shipped taggers: present, small, carrying a valid contract, and runnable as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.export import E2E_JET_CROP, EG_CROP, load_contract
from e2e_coffea.inference.taggers import list_taggers, resolve_tagger
from e2e_coffea.train.tasks import TASKS

EXPECTED = [f"{task}_{model}" for task in TASKS for model in ("resnet15", "simplenet")]


def test_every_task_ships_resnet15_and_simplenet():
    assert sorted(EXPECTED) == [t for t in list_taggers() if t in EXPECTED]


@pytest.mark.parametrize("name", EXPECTED)
def test_shipped_file_is_small_and_self_describing(name):
    spec = resolve_tagger(name)
    c = load_contract(spec.path)
    task = TASKS[c.provenance["tagger_task"]]
    assert name == f"{task.name}_{c.model_name}"
    assert spec.path.endswith(".onnx")
    assert Path(spec.path).stat().st_size <= 2_000_000
    assert c.class_names == task.classes
    assert c.crop == (EG_CROP if task.kind == "eg" else E2E_JET_CROP)
    assert c.frame_size == ((32, 32) if task.kind == "eg" else (125, 125))
    assert c.normalisation is not None
    assert 0.5 < c.metrics["val_auc"] <= 1.0
    assert c.provenance["objects"]["signal"] > 0
    assert c.provenance["objects"]["background"] > 0
    sess = ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
    x = np.zeros((3, len(c.channels), *c.frame_size), np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert out.shape == (3, 1)
    assert np.isfinite(out).all()


def test_a_path_works_wherever_a_name_does(tmp_path):
    name = EXPECTED[0]
    by_name = resolve_tagger(name)
    by_path = resolve_tagger(by_name.path)
    assert by_path.contract == by_name.contract
    with pytest.raises(BadInputError, match="does not exist"):
        resolve_tagger(tmp_path / "missing.onnx")
    with pytest.raises(BadInputError, match="unknown tagger 'tau_alexnet'"):
        resolve_tagger("tau_alexnet")


def test_taggers_cli_json_lists_contracts(capsys):
    assert main(["taggers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= set(EXPECTED)
    for r in rows:
        assert {"name", "task", "path", "channels", "classes", "auc"} <= set(r)
