"""Out of memory halves the batch and retries the same rows; the run says how often.

The out-of-memory errors are fakes (a session wrapper that raises onnxruntime's wording
above a batch size), so the same bodies run on the CPU path and on the CUDA (IOBinding)
path; the scores must be the ones an unhindered backend gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from e2e_coffea.exceptions import DeviceOutOfMemoryError
from e2e_coffea.inference import OnnxBackend
from e2e_coffea.inference.batching import is_out_of_memory, run_in_batches
from e2e_coffea.inference.sessions import clear_cache

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
ORT_OOM = (
    "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running "
    "Conv node. Failed to allocate memory for requested buffer of size 123456789"
)


class _Binding:
    def __init__(self, real: Any) -> None:
        self.real, self.rows = real, 0

    def bind_input(self, name: str, *args: Any) -> None:
        self.rows = int(args[3][0])  # (device, id, dtype, shape, ptr)
        self.real.bind_input(name, *args)

    def __getattr__(self, k: str) -> Any:
        return getattr(self.real, k)


class OomAbove:
    """A session that runs out of memory on batches of more than ``limit`` rows."""

    def __init__(self, real: Any, limit: int) -> None:
        self.real, self.limit, self.calls = real, limit, 0

    def _check(self, rows: int) -> None:
        self.calls += 1
        if rows > self.limit:
            raise RuntimeError(ORT_OOM)

    def run(self, names: Any, feeds: dict[str, Any]) -> Any:
        self._check(len(next(iter(feeds.values()))))
        return self.real.run(names, feeds)

    def io_binding(self) -> _Binding:
        return _Binding(self.real.io_binding())

    def run_with_iobinding(self, binding: _Binding, *args: Any) -> Any:
        self._check(binding.rows)
        return self.real.run_with_iobinding(binding.real, *args)

    def __getattr__(self, k: str) -> Any:
        return getattr(self.real, k)


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


def _infer(backend: OnnxBackend, x: np.ndarray, device: str) -> np.ndarray:
    xt = x if device == "cpu" else torch.from_numpy(x).to(device)
    y = backend.infer({"frames": xt})
    return y if isinstance(y, np.ndarray) else y.cpu().numpy()


def _same(got: np.ndarray, ref: np.ndarray, device: str) -> None:
    """Bitwise on the CPU; on CUDA cuDNN may pick another algorithm per batch shape."""
    if device == "cpu":
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-2 * np.abs(ref).max())


def _with_limit(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[OomAbove]:
    made: list[OomAbove] = []
    real_session = OnnxBackend.session

    def session(self: OnnxBackend) -> Any:
        if not made:
            made.append(OomAbove(real_session(self), limit))
        return made[0]

    monkeypatch.setattr(OnnxBackend, "session", session)
    return made


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.usefixtures("cuda_ort")
def test_oom_halves_until_it_fits_and_keeps_that_size(
    jet_tagger: Path, device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.random.default_rng(0).random((70, 3, 125, 125), dtype=np.float32)
    plain = OnnxBackend(str(jet_tagger), device, batch_size=64, threads=1)
    ref = _infer(plain, x, device)
    assert plain.stats["oom_halvings"] == 0
    made = _with_limit(monkeypatch, 16)
    backend = OnnxBackend(str(jet_tagger), device, batch_size=64, threads=1)
    got = _infer(backend, x, device)
    _same(got, ref, device)  # same rows, same numbers
    assert backend.stats["oom_halvings"] == 2  # 64 -> 32 -> 16
    assert backend.batch_size == 16
    calls = made[0].calls
    _same(_infer(backend, x, device), ref, device)
    assert backend.stats["oom_halvings"] == 2  # the size that fitted is kept
    assert made[0].calls - calls == 5  # 70 rows in batches of 16, no failed tries


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.usefixtures("cuda_ort")
def test_oom_with_one_row_is_an_error(
    jet_tagger: Path, device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_limit(monkeypatch, 0)
    backend = OnnxBackend(str(jet_tagger), device, batch_size=4, threads=1)
    x = np.zeros((3, 3, 125, 125), np.float32)
    with pytest.raises(DeviceOutOfMemoryError, match="batch of one row"):
        _infer(backend, x, device)
    assert backend.stats["oom_halvings"] == 2  # 4 -> 2 -> 1, then give up


def test_other_errors_are_not_retried() -> None:
    calls: list[tuple[int, int, int]] = []

    def run(a: int, b: int, size: int) -> None:
        calls.append((a, b, size))
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        run_in_batches(10, 4, run)
    assert calls == [(0, 4, 4)]


def test_batches_cover_every_row_once_in_order() -> None:
    done: list[tuple[int, int, int]] = []
    fail_once = {8}

    def run(a: int, b: int, size: int) -> None:
        if a in fail_once and size > 2:
            fail_once.discard(a)
            raise MemoryError
        done.append((a, b, size))

    halved: list[int] = []
    assert run_in_batches(11, 4, run, on_halve=halved.append) == 2
    assert halved == [2]
    assert done == [(0, 4, 4), (4, 8, 4), (8, 10, 2), (10, 11, 2)]


@pytest.mark.parametrize(
    ("err", "oom"),
    [
        (RuntimeError(ORT_OOM), True),
        (RuntimeError("CUDA failure 2: out of memory ; GPU=0"), True),
        (MemoryError(), True),
        (type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory."), True),
        (RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions"), False),
        (DeviceOutOfMemoryError("batch of one row"), False),
    ],
)
def test_out_of_memory_is_recognised(err: BaseException, oom: bool) -> None:
    assert is_out_of_memory(err) is oom


def test_processor_reports_halvings_and_the_same_hists(
    synthetic_fileset: Path, jet_tagger: Path, events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from e2e_coffea.processor import E2ETaggerProcessor

    first = next(iter(json.loads(synthetic_fileset.read_text())["synthetic"]["files"]))
    chunk = events(Path(first), "sparse", "synthetic")
    clean = E2ETaggerProcessor([jet_tagger], device="cpu", batch_size=64).process(chunk)
    assert clean["metrics"]["oom_halvings"] == 0
    _with_limit(monkeypatch, 8)
    out = E2ETaggerProcessor([jet_tagger], device="cpu", batch_size=64).process(chunk)
    assert out["metrics"]["objects"] == clean["metrics"]["objects"] > 8
    assert out["metrics"]["oom_halvings"] == 3  # 64 -> 32 -> 16 -> 8
    for name in ("score", "score_pt", "score_eta"):
        assert out["hists"][name] == clean["hists"][name]
