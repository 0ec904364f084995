"""Facility tests: the shared sample and tagger come from ``tests/conftest.py``."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CHUNKSIZE = 20
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def reference(sample: Any, jet_tagger: Path) -> Any:
    """The iterative run every distributed run must reproduce exactly."""
    from e2e_coffea.runner import run

    return run(
        sample.fileset["sparse"],
        [jet_tagger],
        executor="iterative",
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A single-node SLURM for the session (tools/slurm-up.sh in a temporary folder, on
    free ports), torn down after it. Skipped where it cannot run, except in CI
    (E2E_REQUIRE_SLURM=1), where that is a failure."""
    missing = [c for c in ("slurmctld", "slurmd", "munged", "sbatch") if shutil.which(c) is None]
    why = None
    if missing:
        why = f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge"
    elif os.geteuid() != 0:
        why = "the SLURM daemons need root"
    if why:
        if os.environ.get("E2E_REQUIRE_SLURM") == "1":
            pytest.fail(f"E2E_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("slurm")
    port = _free_port_pair()
    env = {**os.environ, "E2E_SLURM_PORT": str(port)}
    up = subprocess.run(
        ["bash", str(REPO / "tools" / "slurm-up.sh"), "up", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    conf = str(folder / "slurm.conf")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    try:
        if up.returncode != 0:
            pytest.fail(f"tools/slurm-up.sh failed ({up.returncode}): {up.stderr}")
        yield SimpleNamespace(conf=conf, folder=folder, partition="debug", cpus=os.cpu_count())
    finally:
        subprocess.run(
            ["scancel", "--full", "--user", pwd.getpwuid(os.geteuid()).pw_name],
            check=False,
            timeout=30,
        )
        subprocess.run(
            ["bash", str(REPO / "tools" / "slurm-up.sh"), "down", str(folder)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def _free_port_pair() -> int:
    """A port p with p and p + 1 free (slurmctld and slurmd)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65535:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    msg = "no two consecutive free ports on 127.0.0.1"
    raise RuntimeError(msg)
