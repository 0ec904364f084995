"""GPU tests: each body runs on the CPU in CI and on CUDA where there is a GPU.

Modules parametrize ``device`` over ``["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]``
(test modules cannot import this conftest). ``@pytest.mark.cuda`` (registered in
pyproject) runs skip here, with the reason, unless torch sees a GPU; the ``cuda_ort``
fixture also needs onnxruntime's CUDA provider for the CUDA run.
``benchmarks/gpu_check.sh tests`` runs ``pytest -m cuda tests/gpu`` on a GPU machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def no_gpu_reason() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "torch sees no CUDA GPU on this machine"
    return None


def no_ort_cuda_reason() -> str | None:
    import onnxruntime as ort

    have = ort.get_available_providers()
    if "CUDAExecutionProvider" not in have:
        return f"onnxruntime {ort.__version__} has no CUDAExecutionProvider ({have})"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("cuda") is not None:
        reason = no_gpu_reason()
        if reason:
            pytest.skip(f"cuda test: {reason}")


@pytest.fixture
def cuda_ort(request: pytest.FixtureRequest) -> None:
    """Skip a CUDA run (not a CPU one) unless onnxruntime can run on CUDA here."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("device") == "cuda":
        reason = no_ort_cuda_reason()
        if reason:
            pytest.skip(f"cuda test: {reason}")


@pytest.fixture(scope="session")
def synthetic_fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sparse files of synthetic events (no Pythia: a GPU machine need not have it)."""
    from e2e_coffea.frames.testing import write_synthetic_fileset

    return write_synthetic_fileset(tmp_path_factory.mktemp("gpu-sample"), files=2, events=40)
