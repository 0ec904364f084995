"""The per-process onnxruntime session cache: built once, never pickled, never a silent
CPU fallback."""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cloudpickle
import numpy as np
import onnxruntime as ort
import pytest

from e2e_coffea.exceptions import DeviceFallbackError
from e2e_coffea.inference.sessions import (
    SessionCachePlugin,
    SessionKey,
    cached_sessions,
    clear_cache,
    get_session,
    resolve_device,
)
from e2e_coffea.processor import E2ETaggerProcessor


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


def test_one_session_per_key(jet_tagger: Path, eg_tagger: Path) -> None:
    a = get_session(jet_tagger, "cpu", 1)
    assert isinstance(a, ort.InferenceSession)
    assert get_session(str(jet_tagger), "cpu", 1) is a
    # the same file through another spelling of its path is the same model
    assert (
        get_session(jet_tagger.parent / ".." / jet_tagger.parent.name / jet_tagger.name, "cpu", 1)
        is a
    )
    b = get_session(jet_tagger, "cpu", 2)
    c = get_session(eg_tagger, "cpu", 1)
    assert b is not a
    assert c is not a
    assert set(cached_sessions()) == {
        SessionKey(str(jet_tagger.resolve()), "cpu", 1),
        SessionKey(str(jet_tagger.resolve()), "cpu", 2),
        SessionKey(str(eg_tagger.resolve()), "cpu", 1),
    }
    assert b.get_session_options().intra_op_num_threads == 2
    clear_cache()
    assert cached_sessions() == {}
    assert get_session(jet_tagger, "cpu", 1) is not a


def _module_names(blob: bytes) -> set[str]:
    """Every module a pickle refers to (GLOBAL / STACK_GLOBAL opcodes)."""
    names: set[str] = set()
    strings: list[str] = []
    for op, arg, _ in pickletools.genops(blob):
        if isinstance(arg, str):
            strings.append(arg)
        if op.name == "GLOBAL":
            names.add(str(arg).split(" ")[0])
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            names.add(strings[-2])
    return names


def test_processor_pickles_without_sessions(
    sample: Any, jet_tagger: Path, eg_tagger: Path, events: Any
) -> None:
    proc = E2ETaggerProcessor([jet_tagger, eg_tagger], device="cpu")
    before = cloudpickle.dumps(proc)
    proc.process(events(sample.files[("tau", "sparse")], "sparse", "tau"))
    assert len(cached_sessions()) == 2  # sessions now exist in this process ...
    after = cloudpickle.dumps(proc)
    assert after == before  # ... but the processor did not pick them up
    assert len(after) < 20_000, len(after)  # paths + contracts, not ~260 kB of weights
    modules = _module_names(after)
    assert not any(m.startswith("onnxruntime") for m in modules), modules
    assert b"InferenceSession" not in after
    clone = pickle.loads(after)
    assert [t.path for t in clone.specs] == [str(jet_tagger.resolve()), str(eg_tagger.resolve())]


def test_two_chunks_build_one_session(sample: Any, jet_tagger: Path, events: Any) -> None:
    proc = E2ETaggerProcessor([jet_tagger], device="cpu")
    path = sample.files[("qcd", "sparse")]
    assert cached_sessions() == {}
    proc.process(events(path, "sparse", "qcd", start=0, stop=20))
    first = cached_sessions()
    assert len(first) == 1
    proc.process(events(path, "sparse", "qcd", start=20, stop=40))
    second = cached_sessions()
    assert list(second) == list(first)
    assert next(iter(second.values())) is next(iter(first.values()))


@pytest.mark.usefixtures("cpu_machine")
def test_cuda_without_gpu_is_an_error_not_a_fallback(
    sample: Any, jet_tagger: Path, events: Any
) -> None:
    with pytest.raises(DeviceFallbackError, match=r"'cuda'.*(CUDA|provider)"):
        get_session(jet_tagger, "cuda")
    with pytest.raises(DeviceFallbackError, match=r"'cuda'.*no CUDA"):
        resolve_device("cuda")
    proc = E2ETaggerProcessor([jet_tagger], device="cuda")
    with pytest.raises(DeviceFallbackError, match="'cuda'"):
        proc.process(events(sample.files[("tau", "sparse")], "sparse", "tau"))
    assert cached_sessions() == {}
    assert resolve_device("auto") == "cpu"


def _fake_worker(nthreads: int, gpus: int) -> Any:
    return SimpleNamespace(
        state=SimpleNamespace(nthreads=nthreads, total_resources={"GPU": gpus} if gpus else {})
    )


@pytest.mark.usefixtures("cpu_machine")
@pytest.mark.parametrize("gpus", [0, 1])
def test_plugin_warms_the_session_the_processor_will_use(
    jet_tagger: Path, eg_tagger: Path, gpus: int
) -> None:
    """A worker tagged GPU=1 on a machine without CUDA: ``cpu``/``auto`` warm CPU sessions
    (keyed like the processor's lookups); ``cuda`` fails at registration, not per chunk."""
    for device in ("cpu", "auto"):
        clear_cache()
        SessionCachePlugin([jet_tagger, eg_tagger], device).setup(_fake_worker(2, gpus))
        assert set(cached_sessions()) == {
            # two task threads on two cores: one intra-op thread each (inference.threads)
            SessionKey(str(p.resolve()), "cpu", 1)
            for p in (jet_tagger, eg_tagger)
        }
    clear_cache()
    with pytest.raises(DeviceFallbackError):
        SessionCachePlugin([jet_tagger], "cuda").setup(_fake_worker(1, gpus))
    assert cached_sessions() == {}


def test_fp16_sessions_keep_float32_io_and_agree(jet_tagger: Path) -> None:
    """--fp16: weights become float16, inputs/outputs stay float32, logits barely move."""
    clear_cache()
    s32 = get_session(jet_tagger, "cpu", 1)
    s16 = get_session(jet_tagger, "cpu", 1, fp16=True)
    assert s16 is not s32
    assert get_session(jet_tagger, "cpu", 1, fp16=True) is s16  # cached like any session
    assert s16.get_inputs()[0].type == "tensor(float)"
    x = np.random.default_rng(0).random((4, 3, 125, 125), dtype=np.float32)
    a = s32.run(None, {"frames": x})[0]
    b = s16.run(None, {"frames": x})[0]
    assert b.dtype == np.float32
    assert not np.array_equal(a, b)  # really computed in half precision
    np.testing.assert_allclose(b, a, rtol=2e-2, atol=2e-2 * np.abs(a).max())
    clear_cache()


def _fake_gpu_node(monkeypatch: pytest.MonkeyPatch, providers: list[str]) -> None:
    """torch sees one GPU; onnxruntime offers ``providers``."""
    import torch

    from e2e_coffea.inference import sessions

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(ort, "get_available_providers", lambda: list(providers))
    monkeypatch.setattr(sessions, "_SAID", set())


def test_auto_needs_both_a_gpu_and_the_cuda_provider(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from e2e_coffea.inference.sessions import choose_device

    _fake_gpu_node(monkeypatch, ["CPUExecutionProvider"])
    with caplog.at_level("INFO", logger="e2e_coffea.inference.sessions"):
        first = choose_device("auto")
        again = choose_device("auto")
    assert first == again
    assert first.device == "cpu"
    assert "onnxruntime has no CUDAExecutionProvider" in first.reason
    said = [r for r in caplog.records if "inference device cpu" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelname == "WARNING"
    _fake_gpu_node(monkeypatch, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert choose_device("auto").device == "cuda"
    assert choose_device("cuda:0").device == "cuda:0"
    with pytest.raises(DeviceFallbackError, match="only 1 GPU"):
        choose_device("cuda:1")


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda1"])
def test_unknown_devices_are_named(bad: str) -> None:
    from e2e_coffea.exceptions import ContractError
    from e2e_coffea.inference.sessions import choose_device

    with pytest.raises(ContractError, match=repr(bad)):
        choose_device(bad)


def test_the_reason_reaches_the_metrics_and_the_result_is_the_cpu_one(
    sample: Any, jet_tagger: Path, events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunk = events(sample.files[("tau", "sparse")], "sparse", "tau")
    ref = E2ETaggerProcessor([jet_tagger], device="cpu").process(chunk)
    assert ref["metrics"]["device_reason"] == {"cpu requested": 1}
    _fake_gpu_node(monkeypatch, ["CPUExecutionProvider"])
    out = E2ETaggerProcessor([jet_tagger], device="auto").process(chunk)
    assert out["metrics"]["device"] == {"cpu": 1}
    (reason,) = out["metrics"]["device_reason"]
    assert reason.startswith("auto: torch sees 1 GPU(s) but onnxruntime has no CUDA")
    assert out["hists"]["score"] == ref["hists"]["score"]


@pytest.mark.usefixtures("cpu_machine")
def test_tensorrt_without_the_provider_is_an_error(jet_tagger: Path, tmp_path: Path) -> None:
    with pytest.raises(DeviceFallbackError, match="TensorrtExecutionProvider"):
        get_session(jet_tagger, "cuda", 1, tensorrt=tmp_path / "trt")
    # on the CPU the engine cache means nothing and is not part of the key
    s = get_session(jet_tagger, "cpu", 1, tensorrt=tmp_path / "trt")
    assert s is get_session(jet_tagger, "cpu", 1)
    assert not (tmp_path / "trt").exists()
