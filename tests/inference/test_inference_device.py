"""onnxruntime through ``OnnxBackend`` on each device against a plain CPU session.

On CUDA the frames are torch tensors on the device, bound with IOBinding and run on the
process's inference stream; the scores must match the CPU session's within TF32's error
(onnxruntime's CUDA provider convolves in TF32 by default). A stream race shows up as
whole rows off (stale or zeroed inputs), far outside that tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from e2e_coffea.exceptions import DeviceFallbackError
from e2e_coffea.inference import OnnxBackend
from e2e_coffea.inference.sessions import clear_cache, get_session

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
TF32_RTOL = 1e-2
"""Relative to the largest |logit|: TF32 keeps 10 mantissa bits per product."""


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


def _frames(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).random((n, 3, 125, 125), dtype=np.float32)
    x[x < 0.9] = 0.0  # sparse, like real frames
    return x


def _reference(path: Path, x: np.ndarray) -> np.ndarray:
    sess = get_session(path, "cpu", 1)
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0], np.float32)


def _on(device: str, x: np.ndarray) -> Any:
    return x if device == "cpu" else torch.from_numpy(x).to(device)


def _host(y: Any) -> np.ndarray:
    return y if isinstance(y, np.ndarray) else y.cpu().numpy()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.usefixtures("cuda_ort")
def test_backend_matches_a_cpu_session(jet_tagger: Path, device: str) -> None:
    """Batches of 32 with a ragged last one (padded on CUDA): same rows, same order."""
    x = _frames(70)
    ref = _reference(jet_tagger, x)
    backend = OnnxBackend(str(jet_tagger), device, batch_size=32, threads=1)
    got = _host(backend.infer({"frames": _on(device, x)}))
    assert got.shape == ref.shape == (70, 1)
    if device == "cpu":
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=TF32_RTOL * np.abs(ref).max())
        assert not backend.stats["oom_halvings"]


@pytest.mark.cuda
@pytest.mark.parametrize("device", ["cuda"])
@pytest.mark.usefixtures("cuda_ort")
def test_frames_written_just_before_inference_are_the_ones_scored(
    jet_tagger: Path, device: str
) -> None:
    """Frames finished by a long kernel queue on torch's stream right before ``infer``:
    onnxruntime on another stream without ordering would read them half written."""
    x = _frames(512, seed=1)
    ref = _reference(jet_tagger, x)
    big = torch.randn(4096, 4096, device=device)
    for _ in range(3):
        xt = torch.zeros((512, 3, 125, 125), device=device)
        for _ in range(20):  # keep the default stream busy
            big = big @ big
            big /= big.norm()
        xt += torch.from_numpy(x).to(device, non_blocking=True)
        got = OnnxBackend(str(jet_tagger), device, batch_size=128).infer({"frames": xt})
        np.testing.assert_allclose(
            got.cpu().numpy(), ref, rtol=0, atol=TF32_RTOL * np.abs(ref).max()
        )


@pytest.mark.cuda
@pytest.mark.parametrize("device", ["cuda"])
@pytest.mark.usefixtures("cuda_ort")
def test_cuda_sessions_run_on_the_inference_stream(jet_tagger: Path, device: str) -> None:
    from e2e_coffea.inference.cuda import inference_stream, session_stream

    sess = get_session(jet_tagger, device, 1)
    assert sess.get_providers()[0] == "CUDAExecutionProvider"
    stream = inference_stream(device)
    assert stream.cuda_stream != 0
    assert stream != torch.cuda.current_stream()
    assert session_stream(sess) == stream.cuda_stream


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.usefixtures("cuda_ort")
def test_fp16_keeps_float32_io_and_agrees(jet_tagger: Path, device: str) -> None:
    x = _frames(16, seed=2)
    ref = _reference(jet_tagger, x)
    b16 = OnnxBackend(str(jet_tagger), device, batch_size=16, fp16=True, threads=1)
    assert b16.session() is not get_session(jet_tagger, device, 1)
    assert b16.session().get_inputs()[0].type == "tensor(float)"
    got = _host(b16.infer({"frames": _on(device, x)}))
    assert got.dtype == np.float32
    assert not np.array_equal(got, ref)  # really computed in half precision
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-2 * np.abs(ref).max())


@pytest.mark.parametrize("device", DEVICES)
def test_missing_cuda_provider_is_an_error_not_a_fallback(
    jet_tagger: Path, device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU node with the ``[cpu]`` install: ``cuda`` raises, ``auto`` runs on the CPU and
    says why. On a CPU machine the GPU is faked (torch's answer), on a GPU machine the
    provider list is cut; both end where a GPU node with a CPU onnxruntime would."""
    from e2e_coffea.inference.sessions import choose_device

    if device == "cpu":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(DeviceFallbackError, match="no CUDAExecutionProvider"):
        choose_device("cuda")
    with pytest.raises(DeviceFallbackError, match="no CUDAExecutionProvider"):
        get_session(jet_tagger, "cuda", 1)
    choice = choose_device("auto")
    assert choice.device == "cpu"
    assert "1 GPU(s) but onnxruntime has no CUDAExecutionProvider" in choice.reason
