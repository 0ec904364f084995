"""The Dask HTTP endpoints (dashboard, ``/health``, ``/metrics``) speak TLS, not plain HTTP.

distributed starts an HTTP server in every scheduler and worker, and no option turns it
off; ``dashboard_address`` only picks where it listens. Its one TLS switch is the config
``distributed.scheduler.dashboard.tls`` (cert, key, CA), read by scheduler and workers
alike when their server starts. A cluster started here sets it to the cluster's own TLS
files, so these ports answer only HTTPS with the run's certificate. They do not demand a
client certificate (distributed builds that context itself), but they serve read-only
pages, never run code, and listen on 127.0.0.1 for local clusters.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any, Final

__all__ = ["HTTPS_KEYS", "https_config", "https_env", "write_temporary_pems"]

HTTPS_KEYS: Final = {
    "cert": "distributed.scheduler.dashboard.tls.cert",
    "key": "distributed.scheduler.dashboard.tls.key",
    "ca_file": "distributed.scheduler.dashboard.tls.ca-file",
}


def https_config(cert: str, key: str, ca_file: str) -> dict[str, str]:
    """``dask.config.set`` mapping: HTTP endpoints started under it speak TLS."""
    files = {"cert": cert, "key": key, "ca_file": ca_file}
    return {HTTPS_KEYS[k]: v for k, v in files.items()}


def https_env(cert: str, key: str, ca_file: str) -> dict[str, str]:
    """The same as environment variables, for worker processes a job script starts."""
    return {
        "DASK_" + name.upper().replace(".", "__").replace("-", "_"): value
        for name, value in https_config(cert, key, ca_file).items()
    }


def write_temporary_pems(security: Any) -> tuple[tuple[str, str, str], str]:
    """A temporary ``Security``'s certificate, key and CA (held in memory) as files in a
    private folder (0700, files 0600): ``((cert, key, ca_file), folder)``. The caller
    removes the folder with the cluster (:func:`weakref.finalize`); at exit it goes too."""
    folder = tempfile.mkdtemp(prefix="e2e-coffea-https-")  # 0o700
    atexit.register(shutil.rmtree, folder, True)
    paths = []
    for suffix, pem in (
        (".pem", security.tls_scheduler_cert),
        (".key", security.tls_scheduler_key),
        ("-ca.pem", security.tls_ca_file),
    ):
        fd, path = tempfile.mkstemp(dir=folder, suffix=suffix)  # 0o600
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        paths.append(path)
    return (paths[0], paths[1], paths[2]), folder
