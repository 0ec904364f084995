"""``e2e-coffea doctor``: what it reports and its exit codes, on this machine and on a
(faked) GPU node whose onnxruntime has no CUDA provider."""

from __future__ import annotations

import json
from typing import Any

import onnxruntime as ort
import pytest
import torch

from e2e_coffea.cli import main
from e2e_coffea.exceptions import DeviceFallbackError, E2EError
from e2e_coffea.inference import doctor

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

TAGGER = "qg_simplenet"  # the fastest shipped image tagger: the smoke stays quick here


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["doctor", "--tagger", TAGGER, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.usefixtures("cpu_machine")
def test_cpu_machine_says_gpu_none_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys)
    assert code == 0
    assert "GPU: none" in out
    assert "auto picks      cpu (auto: torch sees no CUDA GPU)" in out
    assert f"smoke cpu     {TAGGER}: ok:" in out
    for pkg in ("torch", "onnxruntime", "coffea", "dask"):
        assert any(line.startswith(pkg + " ") for line in out.splitlines()), pkg
    assert "providers       " in out
    assert "CPUExecutionProvider" in out


@pytest.mark.usefixtures("cpu_machine")
def test_device_cuda_without_a_usable_gpu_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--device", "cuda")
    assert code == 1
    assert "smoke cuda" in out
    assert "FAILED" in out
    assert err.startswith("e2e-coffea doctor: error:")
    assert "cuda" in err


@pytest.mark.cuda
@pytest.mark.usefixtures("cuda_ort")
def test_device_cuda_on_a_gpu_scores_like_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--device", "cuda", "--json")
    report = json.loads(out)
    assert code == 0, err
    assert report["gpu_usable"]
    assert report["cuda_session"] == "runs on CUDA"
    assert any("cudnn" in lib for lib in report["cuda_libraries"])
    gpu = next(s for s in report["smoke"] if s["device"] == "cuda")
    assert gpu["objects"] > 0
    assert gpu["max_abs_diff_vs_cpu"] <= doctor.SCORE_TOLERANCE


def test_gpu_node_with_cpu_onnxruntime(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch sees a GPU, onnxruntime is the CPU build: bare doctor warns and exits 0 (auto
    runs on the CPU), ``--device cuda`` exits 1 naming the missing provider."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(doctor, "_gpu_line", lambda i: f"cuda:{i} Fake GPU")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    code, out, _ = _run(capsys)
    assert code == 0
    assert "GPU             cuda:0 Fake GPU" in out
    assert "CUDA session    onnxruntime" in out
    assert "has no CUDAExecutionProvider" in out
    assert "auto picks      cpu (auto: torch sees 1 GPU(s) but onnxruntime has no" in out
    assert "smoke cuda" not in out  # auto does not try a GPU that cannot work
    code, out, err = _run(capsys, "--device", "cuda")
    assert code == 1
    assert "no CUDAExecutionProvider" in err


def _report(**smoke: Any) -> doctor.DoctorReport:
    return doctor.DoctorReport(
        python="3", versions={}, providers=[], gpus=[], cuda_session="no GPU",
        cuda_libraries=[], auto="cpu", tagger=TAGGER, smoke=[doctor.SmokeResult(**smoke)],
    )  # fmt: skip


def test_wrong_scores_never_pass() -> None:
    with pytest.raises(E2EError, match="no object scored"):
        doctor.check_report(_report(device="cpu", objects=0))
    bad = _report(device="cuda", objects=5, max_abs_diff_vs_cpu=0.3)
    with pytest.raises(DeviceFallbackError, match=r"differ from the CPU's by 0\.3"):
        doctor.check_report(bad)
    doctor.check_report(_report(device="cpu", objects=5))
    with pytest.raises(DeviceFallbackError, match="not usable here: no GPU"):
        doctor.check_report(_report(device="cpu", objects=5), "cuda")
