"""``benchmarks/issue25_table.py`` turns one issue-25 run's outputs into the goal table:
each goal met or not by its measured ratio, and a part that did not run says so."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "issue25_table.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("issue25_table", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["issue25_table"] = mod
    spec.loader.exec_module(mod)
    return mod


def _realistic(over_bare: float, over_tw: float) -> dict[str, float]:
    return {"calibrated_over_bare_best": over_bare, "calibrated_over_fixed": 1.1,
            "over_torch_wrapper": over_tw, "cores": 2, "events_per_s_per_core": 400.0,
            "jets_per_s_per_core": 350.0, "khz_per_worker": 0.8}  # fmt: skip


def test_the_goal_table(tmp_path: Path) -> None:
    run = {
        "simplenet": {"realistic": _realistic(0.93, 3.4), "dask": {"efficiency": 0.7}},
        "resnet15": {"realistic": _realistic(0.88, 2.1)},
    }
    (tmp_path / "run.json").write_text(json.dumps(run))
    (tmp_path / "frames.json").write_text(json.dumps({"sparse_into_over_preallocated_copy": 0.8}))
    (tmp_path / "precision.json").write_text(json.dumps({
        "qg_resnet15": {"int8_over_fp32": 2.4, "int8_auc_drop": -0.0003},
        "tau_resnet15": {"int8_over_fp32": 1.3, "int8_auc_drop": 0.0001},
        "top_resnet15": {"not_measured": "too few objects"},
    }))  # fmt: skip
    rows = {goal: (measured, met) for goal, measured, met in _module().rows(tmp_path)}
    bare = "processor >= 90 % of bare onnxruntime at its best batch"
    assert rows[f"SimpleNet {bare}"] == ("93%", "yes")
    assert rows[f"ResNet-15 {bare}"] == ("88%", "no")
    assert rows["SimpleNet processor >= 2x today's processor (fixed batch 256)"] == ("1.10x", "no")
    tw = ">= 3x coffea torch_wrapper (same model, same jets, CPU)"
    assert rows[f"SimpleNet {tw}"] == ("3.40x", "yes")
    assert rows[f"ResNet-15 {tw}"] == ("2.10x", "no")
    assert rows["SimpleNet 1 -> 2 Dask workers >= 80 % efficiency"] == ("70%", "no")
    assert rows["ResNet-15 1 -> 2 Dask workers >= 80 % efficiency"] == ("not measured", "-")
    frames = "sparse frame building >= 75 % of a preallocated copy of the same pixels"
    assert rows[frames] == ("80%", "yes")
    int8 = "int8 >= 1.4x fp32 at <= 0.002 AUC loss"
    assert rows[f"qg_resnet15 {int8}"][1] == "yes"
    assert rows[f"tau_resnet15 {int8}"][1] == "no"  # 1.3x < 1.4x
    assert rows[f"top_resnet15 {int8}"] == ("not measured: too few objects", "-")
    assert _module().main([str(tmp_path)]) == 0
    assert (tmp_path / "goals.md").read_text().startswith("| goal | measured | met? |")
