"""``facility check``: one probe job per pool, before a real run. It reports how long the
workers took, which scheduler address they reached, whether their software matches the
client's, what onnxruntime and GPUs they see, and scores one batch of a shipped tagger
there. Each problem is one line with its fix."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ..exceptions import BadInputError, E2EError
from .config import ClusterConfig

__all__ = ["PACKAGES", "CheckReport", "check_facility", "client_versions", "worker_facts"]

PACKAGES: Final = ("e2e-coffea", "torch", "onnxruntime", "coffea", "dask", "distributed")
PROBE_TAGGER: Final = "tau_simplenet"


@dataclass
class CheckReport:
    """What the probe found: ``lines`` to print, ``problems`` (each with its fix)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def client_versions() -> dict[str, str]:
    """The versions the workers must match: this process's."""
    return _versions()


def worker_facts(dask_worker: Any) -> dict[str, Any]:
    """Run on each worker (``client.run``): versions, address, providers, GPUs, one score."""
    import shutil
    import subprocess

    facts: dict[str, Any] = {
        "versions": _versions(),
        "scheduler": str(dask_worker.scheduler.address),
        "host": platform.node(),
    }
    try:
        import onnxruntime as ort

        facts["providers"] = list(ort.get_available_providers())
    except ImportError:
        facts["providers"] = []
    gpus: list[str] = []
    if shutil.which("nvidia-smi"):
        proc = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False
        )
        gpus = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    facts["gpus"] = gpus
    try:
        facts["score"] = _score_one_batch()
    except Exception as err:  # reported as a problem, with the worker's own words
        facts["score_error"] = f"{type(err).__name__}: {err}"
    return facts


def _score_one_batch() -> str:
    """One batch of the shipped probe tagger through the session cache the runs use."""
    import numpy as np

    from ..inference.sessions import get_session
    from ..inference.shipped import resolve_tagger

    spec = resolve_tagger(PROBE_TAGGER)
    sess = get_session(spec.path, "cpu", 1)
    feed = {}
    for inp in sess.get_inputs():
        shape = [4 if not isinstance(d, int) else d for d in inp.shape]
        feed[inp.name] = np.zeros(shape, dtype=np.float32)
    out = sess.run(None, feed)[0]
    if not np.all(np.isfinite(out)):
        msg = f"{PROBE_TAGGER} gave non-finite scores"
        raise ValueError(msg)
    return f"{PROBE_TAGGER} scored a batch of {out.shape[0]}"


def probe_config(cfg: ClusterConfig) -> ClusterConfig:
    """The config with one job per pool, every worker awaited."""
    pools = tuple(dataclasses.replace(p, jobs=1) for p in cfg.pools)
    return dataclasses.replace(cfg, pools=pools, min_workers=None)


def check_facility(cfg: ClusterConfig) -> CheckReport:
    """Submit the probes, wait (bounded by the config), and compare what the workers see."""
    from .connect import connect

    report = CheckReport()
    probe = probe_config(cfg)
    t0 = time.monotonic()
    try:
        conn = connect(probe)
    except BadInputError:  # a config this machine cannot submit: a usage error (exit 2)
        raise
    except E2EError as err:
        report.problems.append(f"{err} (fix: see the message; the probe jobs were cancelled)")
        return report
    with conn:
        report.lines.append(
            f"{probe.total_workers} probe worker(s) of pool(s) {[p.name for p in probe.pools]} "
            f"joined in {time.monotonic() - t0:.1f} s"
        )
        facts = conn.client.run(worker_facts)
        mine = client_versions()
    for addr, f in sorted(facts.items()):
        report.lines.append(
            f"worker {addr} on {f['host']} reached the scheduler at {f['scheduler']}; "
            f"onnxruntime providers {f['providers']}; GPUs {f['gpus'] or 'none'}"
        )
        for pkg, want in mine.items():
            have = f["versions"].get(pkg)
            if have != want:
                report.problems.append(
                    f"worker {addr}: {pkg} {have} but the client has {want} (fix: install "
                    f"{pkg}=={want} in the workers' environment or image)"
                )
        if "score" in f:
            report.lines.append(f"worker {addr}: {f['score']}")
        else:
            report.problems.append(
                f"worker {addr} cannot score {PROBE_TAGGER}: {f['score_error']} (fix: install "
                f"e2e-coffea[cpu] or [gpu] on the workers)"
            )
    return report
