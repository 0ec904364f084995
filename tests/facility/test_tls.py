"""The ``security`` section of facility configs: TLS where the facility lets us set it,
checked when the file is read, and temporary keys written for the user's eyes only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.exceptions import ClusterConfigError
from e2e_coffea.facility import load_cluster_config, parse_cluster_config
from e2e_coffea.facility.jobqueue import job_kwargs
from e2e_coffea.facility.tls import make_security

REPO = Path(__file__).parents[2]
POOL = {"cpu": {"jobs": 1, "cores": 1, "memory": "1GB", "disk": "1GB"}}


def _cfg(facility: str, security: Any, **extra: Any) -> Any:
    data = {"facility": facility, "security": security, **extra}
    if facility in ("local", "htcondor", "slurm"):
        data.setdefault("pools", POOL if facility == "htcondor" else {"cpu": {"jobs": 1}})
    return parse_cluster_config(data, source="test.yaml")


def test_shipped_configs_use_tls_where_the_facility_allows() -> None:
    tls = {p.stem: load_cluster_config(p).security for p in (REPO / "facility").glob("*.yaml")}
    assert tls["local"] is not None
    assert tls["local"].temporary
    for name in ("htcondor-gpu", "slurm-gpu"):
        assert tls[name] is not None
        assert tls[name].temporary
        assert tls[name].shared_temp_directory
    # set up by the facility itself, not by us
    assert tls["dask-gateway-eaf"] is None
    assert tls["coffea-casa"] is None


@pytest.mark.parametrize(
    ("facility", "security", "extra", "match"),
    [
        ("gateway", "temporary", {"pools": {"gpu": {"jobs": 1}}, "gateway": {}}, "gateway"),
        ("coffea-casa", "temporary", {"pools": POOL}, "coffea-casa"),
        ("local", {"temporary": True, "cert": "x"}, {}, "drop"),
        ("local", {"tempo": True}, {}, "unknown key"),
        ("local", 5, {}, "must be 'temporary' or a mapping"),
        ("slurm", "temporary", {}, "shared_temp_directory is required"),
        ("local", {"ca_file": "/no/ca.pem", "cert": "/no/c.pem", "key": "/no/k"}, {}, "no file"),
        ("local", {"cert": "/x"}, {}, "all of ca_file, cert and key"),
        ("scheduler", "temporary", {"address": "tls://h:8786"}, "ca_file, cert and key"),
    ],
)
def test_bad_security_sections_are_refused_by_name(
    facility: str, security: Any, extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(ClusterConfigError, match=match) as info:
        _cfg(facility, security, **extra)
    assert str(info.value).startswith("test.yaml: ")


def test_temporary_keys_are_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "tls"
    cfg = _cfg("slurm", {"temporary": True, "shared_temp_directory": str(shared)})
    assert cfg.security is not None
    sec, private = make_security(cfg.security)
    assert private is None  # the configured folder is kept
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700
    files = {sec.tls_ca_file, sec.tls_worker_cert, sec.tls_worker_key, sec.tls_client_key}
    assert len(files) == 2  # one certificate (its own authority), one key
    for f in files:
        assert Path(f).parent == shared
        assert stat.S_IMODE(Path(f).stat().st_mode) == 0o600
    assert sec.require_encryption
    assert "PRIVATE KEY" in Path(sec.tls_worker_key).read_text()


def test_local_workers_listen_on_loopback_unless_told_otherwise() -> None:
    cfg = _cfg("local", "temporary")
    args = job_kwargs(cfg, cfg.pools[0])["worker_extra_args"]
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert args[args.index("--dashboard-address") + 1] == "127.0.0.1:0"
    own = _cfg("local", None, pools={"cpu": {"worker_extra_args": ["--interface", "lo"]}})
    assert "--host" not in job_kwargs(own, own.pools[0])["worker_extra_args"]
    batch = _cfg("htcondor", None)
    assert "--host" not in job_kwargs(batch, batch.pools[0])["worker_extra_args"]
