"""TLS for a facility's Dask traffic: the ``security`` section of a facility config.

A Dask scheduler or worker runs whatever code a connected client sends it, so whoever
can open its port can act as you. TLS with client certificates (distributed's
``Security``; every side must present a certificate of the same authority) closes that
door. Two ways to get the certificates:

- ``security: temporary``: a throw-away authority made when the run starts
  (``Security.temporary()``). The jobs read its key from ``shared_temp_directory``
  (mode 0600 files in a 0700 folder), so that folder must be visible to the jobs:
  any folder for ``local``, a shared file system for HTCondor or SLURM;
- ``ca_file``, ``cert``, ``key``: your own files, at the same paths on the client and
  on the worker nodes.

dask-gateway and coffea-casa set up TLS themselves (the gateway issues per-cluster
credentials), so the section is refused there; a ``scheduler`` config takes files only,
for a scheduler started with them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..exceptions import BadInputError

__all__ = [
    "TLS_FACILITIES",
    "SecurityConfig",
    "make_security",
    "parse_security",
    "remove_with",
]

TLS_FACILITIES: Final = ("local", "htcondor", "slurm", "scheduler")
"""Facilities whose config may carry a ``security`` section."""
_KEYS: Final = ("temporary", "ca_file", "cert", "key", "shared_temp_directory")
_MANAGED: Final = {
    "gateway": "the dask-gateway server issues TLS credentials per cluster itself",
    "coffea-casa": "coffea-casa's scheduler sets up its own TLS",
}


@dataclass(frozen=True)
class SecurityConfig:
    """TLS for every Dask connection: a temporary authority, or certificate files."""

    temporary: bool = False
    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None
    shared_temp_directory: str | None = None


def parse_security(data: Any, facility: str, where: str = "") -> SecurityConfig | None:
    """The validated ``security`` section (``None``: no TLS); errors name the key."""
    from ..exceptions import ClusterConfigError

    if data is None:
        return None
    if facility in _MANAGED:
        msg = f"{where}security is not set in the config for facility {facility!r}: {_MANAGED[facility]}"
        raise ClusterConfigError(msg)
    if data == "temporary":
        data = {"temporary": True}
    if not isinstance(data, dict):
        msg = f"{where}security must be 'temporary' or a mapping with keys {list(_KEYS)}, got {data!r}"
        raise ClusterConfigError(msg)
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        msg = f"{where}unknown key(s) {unknown} in security; valid keys: {sorted(_KEYS)}"
        raise ClusterConfigError(msg)
    for k, v in data.items():
        want = bool if k == "temporary" else str
        if not isinstance(v, want):
            msg = f"{where}security.{k} must be {'true or false' if want is bool else 'a path'}, got {v!r}"
            raise ClusterConfigError(msg)
    cfg = SecurityConfig(**data)
    files = [k for k in ("ca_file", "cert", "key") if getattr(cfg, k)]
    if cfg.temporary:
        if files:
            msg = (
                f"{where}security: temporary makes its own certificates; drop {files} or temporary"
            )
            raise ClusterConfigError(msg)
        if facility == "scheduler":
            msg = f"{where}security: a running scheduler has its certificates already; give ca_file, cert and key"
            raise ClusterConfigError(msg)
        if facility in ("htcondor", "slurm") and not cfg.shared_temp_directory:
            msg = (
                f"{where}security.shared_temp_directory is required with temporary for {facility}: "
                f"a folder the batch jobs can read (a shared file system), where the key is written"
            )
            raise ClusterConfigError(msg)
        return cfg
    if len(files) != 3:
        msg = f"{where}security needs temporary: true, or all of ca_file, cert and key (got {files or 'none'})"
        raise ClusterConfigError(msg)
    for k in ("ca_file", "cert", "key"):
        path = Path(os.path.expanduser(str(getattr(cfg, k))))
        if not path.is_file():
            msg = f"{where}security.{k}: no file {path}"
            raise ClusterConfigError(msg)
    return cfg


def make_security(cfg: SecurityConfig | None) -> tuple[Any, str | None]:
    """distributed's ``Security`` for ``cfg``, and the private folder made for it (or None).

    Always file based, so the job scripts can name the files: a temporary authority's
    certificate and key are written (mode 0600) to ``shared_temp_directory``, or to a
    private temporary folder that the caller removes with :func:`remove_with`.
    """
    if cfg is None:
        return None, None
    if not cfg.temporary:
        files = {k: os.path.expanduser(str(getattr(cfg, k))) for k in ("ca_file", "cert", "key")}
        return _file_security(files["ca_file"], files["cert"], files["key"]), None
    from distributed.security import Security

    try:
        mem = Security.temporary()
    except ImportError as err:
        msg = (
            f"security: temporary needs the cryptography package: pip install cryptography ({err})"
        )
        raise BadInputError(msg) from err
    private = None
    if cfg.shared_temp_directory:
        folder = Path(os.path.expanduser(cfg.shared_temp_directory)).absolute()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        private = tempfile.mkdtemp(prefix="e2e-coffea-tls-")  # 0o700
        atexit.register(shutil.rmtree, private, True)
        folder = Path(private)
    fd, cert = tempfile.mkstemp(dir=folder, prefix="dask-tls-", suffix=".pem")  # 0o600
    with os.fdopen(fd, "w") as f:
        f.write(mem.tls_ca_file)  # self-signed: the authority and every side's certificate
    fd, key = tempfile.mkstemp(dir=folder, prefix="dask-tls-", suffix=".key")
    with os.fdopen(fd, "w") as f:
        f.write(mem.tls_client_key)
    if private is None:
        for p in (cert, key):
            atexit.register(_unlink, p)
    return _file_security(cert, cert, key), private


def _file_security(ca_file: str, cert: str, key: str) -> Any:
    from distributed.security import Security

    return Security(
        tls_ca_file=ca_file,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_with(owner: Any, folder: str | None) -> None:
    """Remove the private key folder :func:`make_security` made when ``owner`` goes."""
    if folder is not None:
        weakref.finalize(owner, shutil.rmtree, folder, True)
