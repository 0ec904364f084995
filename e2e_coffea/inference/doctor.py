"""What this machine can run inference on, checked by doing it: ``e2e-coffea doctor``.

A GPU node has many ways to run on the CPU without saying so: a CPU onnxruntime beside a
CUDA torch, CUDA or cuDNN libraries of another major version, a GPU that torch sees and
onnxruntime does not. The doctor reports the versions, onnxruntime's providers, whether a
CUDA session really runs on CUDA (and which CUDA libraries got loaded, or why not), the
GPUs, and then scores a tiny synthetic chunk with a shipped tagger through
:class:`~e2e_coffea.inference.Tagger` on every usable device, comparing GPU with CPU.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Final

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import DeviceFallbackError, E2EError
from ..frames.selection import ObjectCuts, ValidityRangeWarning
from .sessions import choose_device
from .shipped import resolve_tagger
from .tagger import Tagger

__all__ = ["DoctorReport", "SmokeResult", "check_report", "diagnose"]

PACKAGES: Final = (
    "e2e-coffea", "torch", "onnxruntime", "onnxruntime-gpu", "coffea", "dask", "distributed",
    "dask-cuda", "numpy", "awkward", "uproot",
)  # fmt: skip
SMOKE_TAGGER: Final = "tau_resnet15"
"""Convolutions through cuDNN, the path a GPU worker spends its time in."""
SCORE_TOLERANCE: Final = 2e-2
"""GPU vs CPU score difference allowed: onnxruntime's CUDA provider convolves in TF32 by
default (10-bit mantissa), which moves a ResNet's scores by up to ~1e-2; a broken path
(stale or zero inputs, a wrong device) moves them by far more."""
_CUDA_LIB = re.compile(r"/(lib(?:cudart|cublas|cublasLt|cudnn|cufft|curand|nvrtc)[^/]*\.so[.\d]*)$")


@dataclass
class SmokeResult:
    """One device's scores of the synthetic chunk."""

    device: str
    objects: int = 0
    seconds: float = 0.0
    max_abs_diff_vs_cpu: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        close = self.max_abs_diff_vs_cpu is None or self.max_abs_diff_vs_cpu <= SCORE_TOLERANCE
        return self.error is None and self.objects > 0 and close


@dataclass
class DoctorReport:
    """Everything ``e2e-coffea doctor`` prints (``to_dict`` for ``--json``)."""

    python: str
    versions: dict[str, str | None]
    providers: list[str]
    gpus: list[str]
    cuda_session: str
    """"runs on CUDA", or why a CUDA session cannot be made here."""
    cuda_libraries: list[str]
    auto: str
    """What ``device="auto"`` picks here, and why."""
    tagger: str
    smoke: list[SmokeResult] = field(default_factory=list)

    @property
    def gpu_usable(self) -> bool:
        return self.cuda_session == "runs on CUDA"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"gpu_usable": self.gpu_usable}


def diagnose(device: str = "auto", tagger: str = SMOKE_TAGGER, events: int = 16) -> DoctorReport:
    """Look at the machine and run the smoke inference on the CPU and, unless ``device``
    is ``cpu``, on the GPU when one is usable (``cuda``: also when it seems not, to show
    the error)."""
    import torch

    spec = resolve_tagger(tagger)
    gpus = [_gpu_line(i) for i in range(torch.cuda.device_count())] if _cuda() else []
    cuda_session, libs = _probe_cuda_session(spec.path) if gpus else ("no GPU", [])
    report = DoctorReport(
        python=f"{platform.python_version()} ({platform.machine()})",
        versions={p: _version(p) for p in PACKAGES},
        providers=_providers(),
        gpus=gpus,
        cuda_session=cuda_session,
        cuda_libraries=libs,
        auto=_auto(),
        tagger=spec.name,
    )
    chunk = _smoke_chunk(events)
    cpu, cpu_scores = _smoke(spec, "cpu", chunk)
    report.smoke.append(cpu)
    if device != "cpu" and (report.gpu_usable or device.startswith("cuda")):
        gpu, gpu_scores = _smoke(spec, "cuda" if device == "auto" else device, chunk)
        if gpu.error is None and cpu.error is None:
            gpu.max_abs_diff_vs_cpu = _max_diff(gpu_scores, cpu_scores)
        report.smoke.append(gpu)
    return report


def check_report(report: DoctorReport, device: str = "auto") -> None:
    """Raise unless the report shows ``device`` working: the CPU smoke always; with
    ``cuda`` a usable GPU whose scores match the CPU's; with ``auto`` a GPU smoke, when
    one ran, that matches."""
    for s in report.smoke:
        if not s.ok:
            why = s.error or (
                "no object scored" if not s.objects
                else f"scores differ from the CPU's by {s.max_abs_diff_vs_cpu:.3g} "
                f"(allowed {SCORE_TOLERANCE:g})"
            )  # fmt: skip
            msg = f"smoke inference of {report.tagger} on {s.device} failed: {why}"
            raise (DeviceFallbackError if s.device != "cpu" else E2EError)(msg)
    if device.startswith("cuda") and not report.gpu_usable:
        msg = f"device {device!r} is not usable here: {report.cuda_session}"
        raise DeviceFallbackError(msg)


# -- pieces ---------------------------------------------------------------------------------
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _gpu_line(i: int) -> str:
    import torch

    p = torch.cuda.get_device_properties(i)
    return (
        f"cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB, compute {p.major}.{p.minor}, "
        f"torch CUDA {torch.version.cuda}"
    )


def _providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def _auto() -> str:
    try:
        choice = choose_device("auto")
    except E2EError as err:  # pragma: no cover - auto never raises today
        return f"error: {err}"
    return f"{choice.device} ({choice.reason})"


def _probe_cuda_session(model: str) -> tuple[str, list[str]]:
    """Build a throw-away CUDA session: does it run on CUDA, which CUDA libraries are
    loaded now, and (when it falls back) what onnxruntime wrote about the failed load."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return (
            f"onnxruntime {ort.__version__} has no CUDAExecutionProvider "
            "(a CPU build: install e2e-coffea[gpu], i.e. onnxruntime-gpu)",
            [],
        )
    opts = ort.SessionOptions()
    opts.log_severity_level = 2
    with _stderr_captured() as said:
        try:
            sess = ort.InferenceSession(
                model,
                sess_options=opts,
                providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
            )
            used = sess.get_providers()
        except Exception as err:
            used = []
            said.append(f"session error: {type(err).__name__}: {err}")
    libs = _loaded_cuda_libraries()
    if used and used[0] == "CUDAExecutionProvider":
        return "runs on CUDA", libs
    lines = [ln for ln in said if re.search(r"fail|error|cannot open|not found", ln, re.I)]
    why = "; ".join(lines[-3:]) or "onnxruntime gave no reason"
    return f"falls back to {used or 'nothing'}: the CUDA provider did not load ({why})", libs


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """What native code writes to file descriptor 2 meanwhile, as lines (onnxruntime's
    loader errors never reach Python)."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode(errors="replace").splitlines())


def _loaded_cuda_libraries() -> list[str]:
    """CUDA runtime, cuBLAS and cuDNN libraries mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return []
    found = {m.group(1) for line in maps.splitlines() if (m := _CUDA_LIB.search(line.strip()))}
    return sorted(found)


def _smoke_chunk(events: int) -> ak.Array:
    from ..frames.testing import synthetic_sparse_chunk

    return synthetic_sparse_chunk(events, seed=0, jets=2, egamma=1)


def _smoke(spec: Any, device: str, chunk: ak.Array) -> tuple[SmokeResult, npt.NDArray[Any]]:
    res = SmokeResult(device)
    try:
        with warnings.catch_warnings():  # a smoke test scores every object, in range or not
            warnings.simplefilter("ignore", ValidityRangeWarning)
            tagger = Tagger(spec, device=device, cuts=ObjectCuts())
        t0 = time.perf_counter()
        out = tagger(chunk)
        res.seconds = time.perf_counter() - t0
    except Exception as err:
        res.error = f"{type(err).__name__}: {' '.join(str(err).split())}"
        return res, np.zeros(0)
    flat = ak.flatten(out, axis=1)
    kept = flat[~ak.is_none(flat)]
    columns = [kept[f] for f in kept.fields] if kept.fields else [kept]  # multi-class: records
    scores = np.stack([np.asarray(ak.to_numpy(c), dtype=np.float64) for c in columns], axis=1)
    res.objects = len(scores)
    return res, scores


def _max_diff(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0
