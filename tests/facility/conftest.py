"""Facility tests: the shared sample and tagger come from ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
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
    import tempfile

    folder = tmp_path_factory.mktemp("slurm")
    port = _free_port_pair()
    # the jobs' spool: job users other than root (the gateway's) must traverse it
    spool = tempfile.mkdtemp(prefix="e2e-slurmd-")
    env = {**os.environ, "E2E_SLURM_PORT": str(port), "E2E_SLURM_SPOOL": spool}
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
        cpus = re.search(r"\bCPUs=(\d+)", Path(conf).read_text())
        assert cpus is not None, conf
        yield SimpleNamespace(conf=conf, folder=folder, partition="debug", cpus=int(cpus[1]))
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
        shutil.rmtree(spool, ignore_errors=True)
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


GATEWAY_CONFIG = """
import sys
from dask_gateway_server.options import Float, Integer, Options, String

c.DaskGateway.address = "127.0.0.1:{api}"
c.Proxy.address = "127.0.0.1:{proxy}"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.UnsafeLocalBackend.clusters_directory = {folder!r}
# distributed 2026.8 has no dask-scheduler/dask-worker commands any more
c.LocalClusterConfig.scheduler_cmd = [sys.executable, "-m", "dask", "scheduler"]
c.LocalClusterConfig.worker_cmd = [sys.executable, "-m", "dask", "worker"]
# the option names facility/dask-gateway-eaf.yaml sets, as a site would offer them
c.UnsafeLocalBackend.cluster_options = Options(
    String("image", default="none"),
    Integer("worker_cores", default=1, min=1, max=2),
    Float("worker_memory", default=1, min=0.5, max=4),
    handler=lambda o: {{"worker_cores": o.worker_cores, "worker_memory": int(o.worker_memory * 2**30)}},
)
"""


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dask-gateway server with its local backend and TLS proxy on 127.0.0.1, for the
    session; yields the address clients use. Skipped without dask-gateway-server, except
    in CI (E2E_REQUIRE_GATEWAY=1)."""
    import importlib.util
    import sys
    import time
    import urllib.request

    if importlib.util.find_spec("dask_gateway_server") is None:
        why = "dask-gateway-server is not installed (pip install 'e2e-coffea[test]')"
        if os.environ.get("E2E_REQUIRE_GATEWAY") == "1":
            pytest.fail(f"E2E_REQUIRE_GATEWAY=1 but {why}")
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("gateway")
    api, proxy = _free_port_pair(), _free_port_pair()
    conf = folder / "config.py"
    conf.write_text(GATEWAY_CONFIG.format(api=api, proxy=proxy, folder=str(folder / "clusters")))
    log = (folder / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dask_gateway_server", "-f", str(conf)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"http://127.0.0.1:{proxy}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{address}/api/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"dask-gateway-server did not start: {(folder / 'gateway.log').read_text()}"
                    )
                time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        log.close()


@pytest.fixture(scope="session")
def slurm_gateway(slurm: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """dask-gateway-server with its SlurmBackend on the session's SLURM, configured by the
    shipped facility/dask-gateway-slurm-server.py: the scheduler and each worker are batch
    jobs of a non-root user (tools/gateway-user.sh), reached through the gateway's TLS proxy. ``shared`` is a folder that user can read (input files go
    there); ``user`` must be the client's user name (basic auth). Skipped where it cannot
    run, except in CI (E2E_REQUIRE_GATEWAY=1)."""
    import importlib.util
    import sys
    import tempfile

    def give_up(why: str) -> None:
        if os.environ.get("E2E_REQUIRE_GATEWAY") == "1":
            pytest.fail(f"E2E_REQUIRE_GATEWAY=1 but {why}")
        pytest.skip(why)

    if importlib.util.find_spec("dask_gateway_server") is None:
        give_up("dask-gateway-server is not installed (pip install 'e2e-coffea[test]')")
    shared = Path(tempfile.mkdtemp(prefix="e2e-gateway-slurm-"))
    shared.chmod(0o755)
    env = {**os.environ, "E2E_GATEWAY_STATE": str(shared / "opened-folders")}
    tool = ["bash", str(REPO / "tools" / "gateway-user.sh")]
    proc = None
    user = os.environ.get("E2E_GATEWAY_USER", "e2egw")
    try:
        up = subprocess.run(
            [*tool, "up", sys.executable], env=env, capture_output=True, text=True, timeout=300
        )
        if up.returncode != 0:
            give_up(f"tools/gateway-user.sh failed ({up.returncode}): {up.stderr.strip()}")
        found = dict(line.split("=", 1) for line in up.stdout.split())
        python = found["python"]
        uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        conf = shared / "slurm.conf"  # where the job user can read it
        shutil.copyfile(slurm.conf, conf)
        conf.chmod(0o644)
        (shared / "staging").mkdir(mode=0o755)
        os.chown(shared / "staging", uid, gid)
        api, proxy = _free_port_pair(), _free_port_pair()
        pythonpath = os.environ.get("PYTHONPATH", "")
        server_env = {
            **os.environ,
            "SLURM_CONF": str(conf),
            "E2E_GATEWAY_PYTHON": python,
            "E2E_GATEWAY_ADDRESS": f"127.0.0.1:{proxy}",
            "E2E_GATEWAY_API_ADDRESS": f"127.0.0.1:{api}",
            "E2E_GATEWAY_STAGING": str(shared / "staging"),
            "E2E_GATEWAY_PARTITION": slurm.partition,
            "E2E_GATEWAY_JOB_ENV": f"PYTHONPATH={pythonpath}" if pythonpath else "",
        }
        server_conf = REPO / "facility" / "dask-gateway-slurm-server.py"  # the shipped one
        log_path = shared / "gateway.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dask_gateway_server", "-f", str(server_conf)],
                cwd=shared,
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        address = f"http://127.0.0.1:{proxy}"
        _wait_healthy(address, proc, log_path)
        yield SimpleNamespace(address=address, user=user, shared=shared)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
        subprocess.run(["scancel", "--full", "--user", user], check=False, timeout=30)
        subprocess.run([*tool, "down"], env=env, capture_output=True, timeout=60, check=False)
        if (shared / "gateway.log").exists():  # for a post-mortem, with SLURM's logs
            shutil.copytree(shared, slurm.folder / "gateway", ignore=shutil.ignore_patterns("data"))
        shutil.rmtree(shared, ignore_errors=True)
        with contextlib.suppress(KeyError):  # what the jobs left in the user's home
            shutil.rmtree(Path(pwd.getpwnam(user).pw_dir) / ".cache" / "e2e-coffea", True)


def _wait_healthy(address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (bounded) for a dask-gateway server to answer its health check."""
    import time
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{address}/api/health", timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dask-gateway-server did not start: {log.read_text()}")
            time.sleep(0.2)
