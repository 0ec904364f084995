"""``benchmarks/gpu_report.py`` states each GPU goal from what gpu_check left behind:
a ratio against the same run's baseline, PASS or MISS, and skipped (with the reason)
whenever an input is missing: never a pass without a measurement."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_report.py"


@pytest.fixture(scope="module")
def gpu_report() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_report", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _measured(folder: Path, *, worker_rate: float) -> None:
    (folder / "frames.json").write_text(json.dumps({
        "jets": 2000, "cuda_sparse_jets_per_s": 300_000.0, "cuda_sparse_matches_numpy": True,
        "dense_transfer_jets_per_s": 20_000.0, "sparse_over_dense_transfer": 15.0, "goal": 10.0,
    }))  # fmt: skip
    (folder / "run.json").write_text(json.dumps({"resnet15": {
        "resident_ort_per_s": 10_000.0, "resident_ort_fp16_per_s": 14_000.0,
        "one_process_per_s": 5_000.0, "worker": {"1": 5_000.0, "2": worker_rate, "4": "err"},
    }}))  # fmt: skip
    (folder / "table.csv").write_text(
        "section,tagger,model,device,workers,threads,frames_per_s,objects_per_s,events_per_s,ratio,note\n"
        "e2e,tau,resnet15,cpu,,16,,800.0,500.0,0.9,shipped\n"
        "e2e,tau,resnet15,cuda,,1,,9000.0,5000.0,0.8,shipped\n"
    )


def test_measured_goals_pass_and_miss(gpu_report: Any, tmp_path: Path) -> None:
    _measured(tmp_path, worker_rate=8_000.0)
    text = gpu_report.report(tmp_path)
    assert "| 15.0x PASS |" in text
    assert "| 80% PASS | best at 2 thread(s)" in text
    assert "1 thread(s) 5000/s, 2 thread(s) 8000/s" in text  # the failed 4-thread run is not a rate
    assert "| 11.2x PASS |" in text
    _measured(tmp_path, worker_rate=6_000.0)
    assert "| 60% MISS |" in gpu_report.report(tmp_path)


def test_nothing_measured_is_skipped_with_reasons(gpu_report: Any, tmp_path: Path) -> None:
    (tmp_path / "frames.json").write_text(json.dumps({"skipped": "torch sees no CUDA device"}))
    (tmp_path / "study.txt").write_text("study: skipped (no GPU: its GPU rows would all be n/a)\n")
    text = gpu_report.report(tmp_path)
    assert "PASS" not in text
    assert "| skipped | torch sees no CUDA device |" in text
    assert "| skipped | run.json missing" in text
    assert "| skipped | no GPU: its GPU rows would all be n/a |" in text
