"""The shipped taggers: present, small, carrying a valid contract with their training
budget and an independent held-out figure that meets its floor, runnable as shipped, and
loadable as torch models for fine-tuning. Nothing here trains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.export import E2E_JET_CROP, EG_CROP, Contract, load_contract
from e2e_coffea.inference.shipped import list_taggers, resolve_tagger, shipped_dir
from e2e_coffea.models import create_model
from e2e_coffea.train.tasks.definitions import TASKS

BINARY = ("tau", "electron", "eg", "qg", "top")
FLOORS = {"tau": 0.97, "electron": 0.99, "top": 0.95, "qg": 0.75, "eg": 0.70}
"""Held-out AUC floors of the binary tasks' ResNet-15 and SimpleNet (seed-2 samples)."""
MIN_AUC = 0.60
"""No shipped classifier below this held-out AUC (a multi-class one: its mean one-vs-rest)."""
SHIPPED = {
    **{f"{t}_{m}": t for t in BINARY for m in ("resnet15", "simplenet")},
    "tau3_simplenet": "tau3",
    "jet_mass_simplenet": "jet_mass",
    "tau_particlegnn": "tau",
    "tau_pointtransformer": "tau",
    **{
        f"{t}_{m}_pu35": t
        for t in ("tau", "electron", "eg", "qg")
        for m in ("resnet15", "simplenet")
    },
    "tau_particlegnn_pu35": "tau",
    "tau3_simplenet_pu35": "tau3",
    "btag_simplenet": "btag",
    "btag_particlegnn": "btag",
}
"""Shipped tagger -> its task."""
PILEUP_FLOORS = {"tau": 0.95, "electron": 0.995, "eg": 0.78, "qg": 0.78}
"""Issue 20's floors on the physical headline AUC (background at its cross-section, signal
matched to its pT) of taggers trained at <mu> = 35, on the independent seed-202 sample of
tools/evaluate-pileup-taggers.sh."""
PILEUP_BACKGROUNDS = {
    "tau": {"qcd_pthat30to80", "wjets"},
    "electron": {"qcd_em"},
    "eg": {"electron"},
    "qg": {"gluon"},
}
"""The background datasets each task's mu = 35 headline must be measured against."""
PILEUP_PAIRS = {"tau3": {"tau_vs_qcd", "tau_vs_electron"}}
"""The pairwise AUCs a multi-class tagger's mu = 35 figures must hold (no floor: MIN_AUC)."""
AT_PILEUP = {name for name in SHIPPED if name.endswith("_pu35")}
"""Shipped taggers trained at <mu> = 35; the others were trained without pile-up and warn
on such samples (tests/inference/test_conditions.py)."""
PILEUP_BELOW_FLOOR: dict[str, str] = {
    "electron_simplenet_pu35": "headline 0.9948 +- 0.0019, 0.0002 below 0.995: inside its "
    "statistical error on 2,999 held-out objects (953 electrons); validation AUC 0.9993",
    "electron_resnet15_pu35": "headline 0.9910 +- 0.0025: 3,181 electrons x 3 epochs at "
    "~30 frames/s on one shared core (validation AUC 0.9938, 0.9971, 0.9970); 1.6 standard "
    "errors below the floor",
    "qg_simplenet_pu35": "headline 0.770 +- 0.015, 0.010 below 0.78 on 4,750 held-out jets: "
    "7,458 quark and 7,664 gluon jets x 8 epochs, validation AUC flat at 0.787-0.790 over the "
    "last four; the gluons at their cross-section put most weight on 80-150 GeV pT-hat jets, "
    "the hardest to separate (unweighted 0.790). Charged multiplicity alone: 0.735",
    "qg_resnet15_pu35": "headline 0.713 +- 0.016: 4,000 jets per class x 3 epochs at "
    "~30 frames/s on one shared core (validation AUC 0.689, 0.708, 0.712)",
    "tau_resnet15_pu35": "headline 0.895 +- 0.011 (W+jets 0.724): 3,960 tau and 4,005 "
    "background jets x 6 epochs (3, then resumed for 3 more) at ~30 frames/s on one shared "
    "core; validation AUC still rising (0.814, 0.826, 0.885, 0.903, 0.924, 0.932)",
    "tau_particlegnn_pu35": "headline 0.942 +- 0.008: the same 3,960 tau and 4,005 background "
    "jets x 5 epochs, validation AUC still rising (0.913, 0.939, 0.946, 0.950, 0.953); "
    "W+jets jets, 0.736, are the fakes it separates worst",
}
"""Taggers trained at <mu> = 35 below their floor, each with its measured reason."""
PILEUP_RESNET_BEHIND: dict[str, str] = {
    "qg": "ResNet-15 at 4,000 jets per class x 3 epochs (~30 frames/s on one core) against "
    "SimpleNet's 7,458 x 8",
    "tau": "ResNet-15 at 3,960 tau jets x 6 epochs (~30 frames/s on one core) against "
    "SimpleNet's 9,858 x 10",
}
"""Tasks whose mu = 35 ResNet-15 is more than 0.01 below their mu = 35 SimpleNet, with the
measured reason (docs/physics.md, 'Retraining at pile-up 35')."""
_BUDGET = "CPU training budget: validation AUC still rising when the epochs ran out"
BUDGET_LIMITED: dict[str, str] = {
    "qg_resnet15": _BUDGET + "; below the track-multiplicity feature alone",
}
"""Shipped taggers below their task's floor for want of CPU training budget, each with
its reason; docs/physics.md gives the measurements. They are still held to MIN_AUC, and
one that meets its floor must leave this list (test_every_exception_is_needed)."""
RESNET_BEHIND: dict[str, str] = {
    "top": "ResNet-15 at 2,400 FatJets per class x 4 epochs (32 jets/s on one core) against "
    "SimpleNet's 6,300 x 9",
    "qg": "ResNet-15 at ~500 optimizer steps (26-40 jets/s on one core) against ~2,000",
}
"""Tasks whose ResNet-15 is more than 0.01 below its SimpleNet, with the reason (the
same budget limit; docs/physics.md)."""
ISSUE23 = {"top_simplenet", "top_resnet15", "jet_mass_simplenet", "btag_simplenet",
           "btag_particlegnn"}  # fmt: skip
"""Issue 23's taggers (FatJet top, FatJet mass, b tagging), trained at <mu> = 35 and
measured by tools/evaluate-issue23.py on the independent seed-2 samples."""
ISSUE23_FLOORS = {"top": 0.95, "btag": 0.90, "btag_over_baseline": 0.03,
                  "mass_median": 0.03, "mass_resolution_ratio": 0.85, "mass_peak": 0.05,
                  "top_mgen_120_220": 0.70}  # fmt: skip
"""Issue 23's floors: top AUC (background at its cross-section, signal matched in pT);
b vs light AUC and its margin over track counting; the mass response median within
1 +- 0.03 and resolution <= 0.85 x the calibrated calo mass's in every m_gen bin with
>= 100 jets, and the top peak within 5 %; >= 70 % of top FatJets with m_gen 120-220."""
ISSUE23_BELOW_FLOOR: dict[str, str] = {
    "jet_mass_simplenet": "still pulled to the mean despite the flat-in-m_gen weights "
    "(median response 1.47 at 30-60 GeV, 0.72 above 220 GeV) and wider than the calibrated "
    "calo mass in every bin; its validation loss was still falling at the last of 6 epochs "
    "(0.169 -> 0.148). The top peak is within 1 % (176.8 against 178.6 GeV)",
    "top_resnet15": "headline 0.912 +- 0.007: 2,400 FatJets per class and 4 epochs at "
    "32 frames/s on one core (validation AUC 0.883, 0.803, 0.916, 0.919)",
    "btag_simplenet": "b vs light 0.762 in ttbar (0.985 in QCD) against track counting's "
    "0.928: the 125x125 window (+-1.09 in eta and phi) of a light jet in ttbar holds the "
    "neighbouring b jets' displaced tracks; track counting looks within dR < 0.4",
}
"""Issue 23's taggers below a floor, each with its measured reason (docs/physics.md)."""
REPO = Path(__file__).resolve().parents[2]
OLD_BUDGET = {"simplenet": 800 * 4, "resnet15": 320 * 2}
"""Training objects per class x epochs of the taggers shipped before (caps of 1000 and 400
objects per class over all splits, 80% of them trained on): each model now had >= 10x."""


def _input_shape(c: Contract) -> tuple[int, ...]:
    """One input without the batch axis: (C, H, W) frames or (points, features)."""
    return (len(c.channels), *c.frame_size) if c.input_kind == "image" else tuple(c.frame_size)


def test_every_shipped_tagger_is_listed_and_nothing_else() -> None:
    assert sorted(SHIPPED) == list_taggers()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_file_is_small_and_self_describing(name: str) -> None:
    spec = resolve_tagger(name)
    c = load_contract(spec.path)
    task = TASKS[SHIPPED[name]]
    assert c.provenance["tagger_task"] == task.name
    assert c.task == task.task_type
    assert Path(spec.path).stat().st_size <= 2_000_000
    assert c.class_names == task.classes
    assert c.crop == (EG_CROP if task.kind == "eg" else E2E_JET_CROP)
    if c.input_kind == "image":
        assert c.frame_size == ((32, 32) if task.kind == "eg" else (125, 125))
        assert c.normalisation is not None
    assert c.kind == task.kind
    assert c.validity == task.range.to_dict()
    if task.target is not None:
        assert c.target == task.target.to_dict()
    # the budget actually spent is on record
    training = c.provenance["training"]
    per_class = training["train_objects_per_class"]
    assert set(per_class) == {s.name for s in task.samples}
    assert training["precision_used"] == "bf16"
    assert training["train_seconds"] > 0
    if training["resume"]:  # wall_s is the resumed process's; train_seconds every epoch's
        assert training["wall_s"] > 0
    else:
        assert training["wall_s"] > training["train_seconds"]
    assert training["epochs_run"] == training["epochs"]  # no early stop cut the budget short
    old = OLD_BUDGET.get(c.model_name)
    if old is not None and task.name in BINARY:
        assert min(per_class.values()) * training["epochs_run"] >= 10 * old
    sess = ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
    x = np.zeros((3, *_input_shape(c)), np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert out.shape == (3, c.n_outputs)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_heldout_figure_is_recorded_and_meets_its_floor(name: str) -> None:
    c = load_contract(resolve_tagger(name).path)
    m = c.metrics
    if name in AT_PILEUP:
        _check_pileup_heldout(name, c)
        return
    if name in ISSUE23:
        _check_issue23_heldout(name, c)
        return
    assert "seed 2" in m["heldout_sample"]
    assert m["heldout_command"].startswith("tools/evaluate-shipped-taggers.sh")
    assert m["heldout_range"] == TASKS[SHIPPED[name]].range.to_dict()
    if c.task == "regression":  # against the classical estimate on the same objects
        assert m["heldout_n"] > 1000
        closer = abs(m["heldout_response_median"] - 1) < abs(
            m["heldout_baseline_response_median"] - 1
        )
        assert closer
        assert m["heldout_resolution"] < m["heldout_baseline_resolution"]
        return
    assert 0 < m["heldout_auc_err"] < 0.02
    floor = MIN_AUC if name in BUDGET_LIMITED else max(FLOORS.get(SHIPPED[name], MIN_AUC), MIN_AUC)
    assert m["heldout_auc"] >= floor
    for auc in (m.get("heldout_auc_per_class") or {}).values():
        assert auc >= MIN_AUC


def _check_pileup_heldout(name: str, c: Contract) -> None:
    """A tagger trained at <mu> = 35: its conditions say so, and its held-out headline on
    the independent mu = 35 sample meets issue 20's floor or names why not."""
    m = c.metrics
    assert c.conditions is not None
    assert c.conditions["pileup_mu"] == 35.0
    assert 30 < c.conditions["mean_nvtx"] < 40
    assert "seed 202" in m["heldout_sample"]
    assert "<mu> = 35" in m["heldout_sample"]
    assert m["heldout_command"].startswith("tools/evaluate-pileup-taggers.sh")
    assert m["heldout_range"] == TASKS[SHIPPED[name]].range.to_dict()
    if SHIPPED[name] in PILEUP_PAIRS:  # multi-class: pairwise, no floor of its own
        pairs = m["heldout_auc_pairwise"]
        assert set(pairs) == PILEUP_PAIRS[SHIPPED[name]]
        assert all(0 < e < 0.02 for e in m["heldout_auc_err_pairwise"].values())
        assert min(pairs.values()) >= MIN_AUC
        return
    assert 0 < m["heldout_auc_err"] < 0.02
    assert set(m["heldout_auc_per_background"]) >= PILEUP_BACKGROUNDS[SHIPPED[name]]
    floor = PILEUP_FLOORS[SHIPPED[name]]
    below = m["heldout_auc"] < floor
    assert below == (name in PILEUP_BELOW_FLOOR)  # an exception that no longer holds must go
    assert m["heldout_auc"] >= MIN_AUC


def issue23_missed(name: str, figures: dict[str, Any]) -> list[str]:
    """The floors of issue 23 that ``name``'s held-out ``figures`` miss, by name."""
    f, missed = ISSUE23_FLOORS, []
    if name.startswith("top_"):
        if figures["auc"] < f["top"]:
            missed.append("top AUC")
        if figures["top_mgen_120_220"] < f["top_mgen_120_220"]:
            missed.append("top m_gen 120-220 fraction")
    elif name.startswith("btag_"):
        head = figures["ttbar_pt_matched"]
        auc, base = head["tagger"]["b_vs_light"]["auc"], head["baseline"]["b_vs_light"]["auc"]
        if auc < f["btag"]:
            missed.append("b vs light AUC")
        if auc < base + f["btag_over_baseline"]:
            missed.append("margin over track counting")
    else:  # the mass regression, per sample and m_gen bin with >= 100 jets
        est = figures["estimators"]
        for sample, bins in est["model"].items():
            calo = est["calo mass (calibrated)"][sample]
            for mine, ref in zip(bins, calo, strict=True):
                if mine["n"] < 100:
                    continue
                if abs(mine["median"] - 1) > f["mass_median"]:
                    missed.append(f"median {sample} {mine['m_gen']}")
                if mine["resolution"] > f["mass_resolution_ratio"] * ref["resolution"]:
                    missed.append(f"resolution {sample} {mine['m_gen']}")
        peak = figures["top_peak"]
        if abs(peak["model"] / peak["generator"] - 1) > f["mass_peak"]:
            missed.append("top peak")
    return missed


def _check_issue23_heldout(name: str, c: Contract) -> None:
    """An issue-23 tagger: trained at <mu> = 35 on its redefined task, its held-out figures
    on the independent seed-2 sample meet issue 23's floors or name why not."""
    m = c.metrics
    assert c.conditions is not None
    assert c.conditions["pileup_mu"] == 35.0
    assert "seed 2" in m["heldout_sample"]
    assert "<mu> = 35" in m["heldout_sample"]
    assert m["heldout_command"].startswith("tools/evaluate-issue23.py")
    missed = issue23_missed(name, m["heldout_issue23"])
    assert bool(missed) == (name in ISSUE23_BELOW_FLOOR), missed  # an exception must hold
    if c.task != "regression":
        assert 0 < m["heldout_auc_err"] < 0.02
        assert m["heldout_auc"] >= MIN_AUC


def _heldout(name: str) -> float:
    return float(load_contract(resolve_tagger(name).path).metrics["heldout_auc"])


@pytest.mark.parametrize("task", BINARY)
def test_resnet15_is_not_worse_than_simplenet(task: str) -> None:
    behind = _heldout(f"{task}_resnet15") < _heldout(f"{task}_simplenet") - 0.01
    assert behind == (task in RESNET_BEHIND)  # an exception that no longer holds must go


PILEUP_PAIRED = sorted(
    {SHIPPED[n] for n in AT_PILEUP if n.replace("simplenet", "resnet15") in AT_PILEUP}
)


@pytest.mark.parametrize("task", PILEUP_PAIRED)
def test_resnet15_is_not_worse_than_simplenet_at_pileup(task: str) -> None:
    behind = _heldout(f"{task}_resnet15_pu35") < _heldout(f"{task}_simplenet_pu35") - 0.01
    assert behind == (task in PILEUP_RESNET_BEHIND)  # an exception that no longer holds must go


def test_every_exception_is_needed_and_explained() -> None:
    physics = (REPO / "docs" / "physics.md").read_text()
    for name in BUDGET_LIMITED:
        assert _heldout(name) < FLOORS[SHIPPED[name]], f"{name} meets its floor now"
        assert f"`{name}`" in physics
    for task in RESNET_BEHIND:
        assert f"`{task}_resnet15`" in physics
    for name in PILEUP_BELOW_FLOOR:
        assert f"`{name}`" in physics
    for task in PILEUP_RESNET_BEHIND:
        assert f"`{task}_resnet15_pu35`" in physics
    for name in ISSUE23_BELOW_FLOOR:
        assert f"`{name}`" in physics


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_pretrained_torch_model_gives_the_onnx_outputs(name: str) -> None:
    c = load_contract(resolve_tagger(name).path)
    weights = shipped_dir() / f"{name}.pt"
    assert weights.stat().st_size <= 2_000_000
    model = create_model(c.model_name, pretrained=name)
    assert model.model_kwargs == c.model_kwargs
    rng = np.random.default_rng(0)
    x = rng.random((2, *_input_shape(c)), dtype=np.float32)
    if c.input_kind == "points":
        x[:, :, 2] = rng.random((2, c.frame_size[0])) * 3  # log-energies; no zero padding rows
    sess = ort.InferenceSession(resolve_tagger(name).path, providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-4)


def test_package_stays_small() -> None:
    """26 taggers, mu = 0 and mu = 35 side by side, each ONNX plus its fine-tuning weights:
    about 16 MB; 20 MB keeps the wheel far below PyPI's 100 MB and a Binder image small."""
    total = sum(p.stat().st_size for p in shipped_dir().iterdir() if p.suffix in (".onnx", ".pt"))
    assert total <= 20_000_000


def test_a_path_works_wherever_a_name_does(tmp_path: Path) -> None:
    name = sorted(SHIPPED)[0]
    by_name = resolve_tagger(name)
    by_path = resolve_tagger(by_name.path)
    assert by_path.contract == by_name.contract
    with pytest.raises(BadInputError, match="does not exist"):
        resolve_tagger(tmp_path / "missing.onnx")
    with pytest.raises(BadInputError, match="unknown tagger 'tau_alexnet'"):
        resolve_tagger("tau_alexnet")


def test_taggers_cli_json_lists_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["taggers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= set(SHIPPED)
    for r in rows:
        assert {"name", "task", "path", "channels", "classes", "auc"} <= set(r)
