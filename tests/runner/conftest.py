"""Runner tests: the shared sample, taggers and the ``clean`` reference run come from
``tests/conftest.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHUNKSIZE = 15
"""40 events per file -> chunks 0-14, 14-28, 28-40 (coffea balances them): 6 chunks in all."""


def write_fileset(path: Path, files: dict[str, dict[str, str]]) -> Path:
    """``{dataset: {file: tree}}`` -> fileset JSON."""
    path.write_text(json.dumps({ds: {"files": f, "metadata": {}} for ds, f in files.items()}))
    return path


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """Two CPU worker processes (Nannies, so a killed worker comes back), shared per module."""
    from distributed import Client

    from e2e_coffea.runner.cluster import local_cluster

    cluster = local_cluster(2, 0)
    client = Client(cluster)
    client.wait_for_workers(2, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def fileset_writer() -> Any:
    return write_fileset
