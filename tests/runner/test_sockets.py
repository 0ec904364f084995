"""Every socket a local Dask run opens listens on loopback, and only holders of the run's
certificate can talk to it: not the network, not another user of the machine."""

from __future__ import annotations

import asyncio
import http.client
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from e2e_coffea.runner import run
from e2e_coffea.runner.cluster import local_cluster

REPO = Path(__file__).parents[2]
LOOPBACK = {"127.0.0.1", "::1"}
Socket = tuple[int, str, str, int]  # pid, process name, address, port


def listening() -> set[Socket]:
    """Listening TCP sockets of this process and all its descendants."""
    me = psutil.Process()
    found: set[Socket] = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            for c in proc.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    found.add((proc.pid, proc.name(), c.laddr.ip, c.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@contextmanager
def watch_sockets(period: float = 0.1) -> Iterator[set[Socket]]:
    """Every listening socket that appears while the block runs (sampled every ``period``
    s), leaving out those that were already open before it."""
    before = listening()
    seen: set[Socket] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.update(listening())
            stop.wait(period)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)
        seen -= before


def _exposed(seen: set[Socket]) -> list[Socket]:
    return sorted(s for s in seen if s[2] not in LOOPBACK)


def _answers(sock: Socket, https: bool) -> bool:
    """Whether an HTTP GET /health (over TLS with ``https``, not checking the certificate)
    on ``sock`` gets any HTTP answer."""
    _, _, host, port = sock
    if https:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=5, context=ctx
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/health")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True


def _no_plain_http(ports: set[Socket]) -> None:
    """No port answers plain HTTP, and the HTTP endpoints (scheduler's and each worker's)
    are there, answering HTTPS: the check is not vacuous."""
    assert [s for s in ports if _answers(s, https=False)] == []
    assert len([s for s in ports if _answers(s, https=True)]) >= 2


async def _ask_identity(address: str, **connection_args: Any) -> Any:
    from distributed.comm import connect

    comm = await connect(address, timeout=3, **connection_args)
    try:
        await comm.write({"op": "identity"})
        return await comm.read()
    finally:
        await comm.close()


def _strangers_are_refused(address: str, security: Any) -> None:
    """No certificate, or a certificate of another authority: no conversation. (Each try
    runs in its own event loop: failed ``Client`` objects, collected while another client
    starts, can deadlock distributed's shared loop runner.)"""
    from distributed.security import Security

    assert address.startswith("tls://")
    own = asyncio.run(_ask_identity(address, **security.get_connection_args("client")))
    assert own["type"] in ("Scheduler", "Worker", "Nanny")  # the check itself can pass
    strangers = {
        "no certificate": {},
        "another authority": Security.temporary().get_connection_args("client"),
    }
    for args in strangers.values():
        with pytest.raises((OSError, TypeError, TimeoutError)):
            asyncio.run(_ask_identity(address, **args))
    with pytest.raises((OSError, TimeoutError)):
        asyncio.run(_ask_identity(address.replace("tls://", "tcp://")))


def test_local_dask_run_listens_on_loopback_only(sample: Any, jet_tagger: Path) -> None:
    with watch_sockets() as seen:
        result = run(
            sample.fileset["sparse"], [jet_tagger], executor="dask", workers=1, gpu_workers=1,
            chunksize=15, device="cpu", progress=False,
        )  # fmt: skip
    assert result.complete
    assert len({pid for pid, *_ in seen}) >= 3, seen  # the scheduler's process and 2 workers
    assert len(seen) >= 6, seen  # comms and HTTP endpoints of scheduler, nannies, workers
    assert _exposed(seen) == []


def test_local_cluster_speaks_only_to_its_own_clients() -> None:
    from distributed import Client

    before = listening()
    with watch_sockets() as seen:
        cluster = local_cluster(1, 0)
        try:
            _no_plain_http(listening() - before)  # dashboard, /health, /metrics: HTTPS
            _strangers_are_refused(cluster.scheduler_address, cluster.security)
            for addr in cluster.scheduler_info["workers"]:
                _strangers_are_refused(addr, cluster.security)
            with Client(cluster) as client:
                assert list(client.run(lambda: 1).values()) == [1]
        finally:
            cluster.close()
    assert seen
    assert _exposed(seen) == []


def test_facility_local_yaml_listens_on_loopback_with_tls(tmp_path: Path) -> None:
    """The real job-script path: dask-jobqueue runs `dask worker` subprocesses."""
    from e2e_coffea.facility import connect, parse_cluster_config

    cfg = yaml.safe_load((REPO / "facility" / "local.yaml").read_text())
    cfg["models"]["worker_dir"] = str(tmp_path / "models")
    config = parse_cluster_config(cfg, source="local.yaml")
    assert config.security is not None
    assert config.security.temporary
    before = listening()
    with watch_sockets() as seen, connect(config) as conn:
        address = conn.client.scheduler.address
        _no_plain_http(listening() - before)
        ran: Callable[[], int] = lambda: 1  # noqa: E731
        assert set(conn.client.run(ran).values()) == {1}
        workers = list(conn.client.scheduler_info(n_workers=-1)["workers"])
        assert len(workers) == config.total_workers
        _strangers_are_refused(address, conn.client.security)
        for addr in workers:
            _strangers_are_refused(addr, conn.client.security)
    assert len({pid for pid, *_ in seen}) >= 3, seen
    assert _exposed(seen) == []
