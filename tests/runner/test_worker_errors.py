"""A chunk that fails on a Dask worker is reported in one line, as on the iterative
executor: no worker log block (``Compute Failed``), no traceback at shutdown
(``CancelledError``); the traceback appears with ``--debug`` only."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import awkward as ak
import pytest
import uproot
import yaml

from e2e_coffea.cli import main
from e2e_coffea.io import write_sparse
from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES, SPARSE_TREE
from e2e_coffea.runner.worker_logs import DEBUG_ENV, quiet_dask

REPO = Path(__file__).parents[2]
NOISE = ("Traceback", "Compute Failed", "CancelledError")


def _bad_rows(src: Path, dst: Path) -> Path:
    """A copy of a sparse file whose EcalHit rows lie outside the grid: every chunk fails
    on the worker (the preflight does not read hits)."""
    with uproot.open(src) as f:
        flat = f[SPARSE_TREE].arrays()
    chunk: dict[str, Any] = {}
    for coll, fields in SPARSE_COLLECTIONS.items():
        cols = {k: flat[f"{coll}_{k}"] for k in fields}
        if coll == "EcalHit":
            cols["row"] = cols["row"] + 9999
        chunk[coll] = ak.zip(cols)
    chunk["event"] = ak.zip({b: flat[b] for b in SPARSE_EVENT_BRANCHES})
    write_sparse(dst, chunk)
    return dst


@pytest.fixture(scope="module")
def bad_fileset(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("worker-errors")
    bad = _bad_rows(sample.files[("qcd", "sparse")], tmp / "qcd.root")
    fs = {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}},
          "qcd": {"files": {str(bad): "Events"}}}  # fmt: skip
    path = tmp / "fileset.json"
    path.write_text(json.dumps(fs))
    return path


def _run(fileset: Path, tagger: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--fileset", str(fileset), "--tagger", str(tagger), "--device", "cpu",
            "--chunksize", "50", "--out", str(out), *extra]  # fmt: skip


def test_dask_worker_error_is_one_line(
    bad_fileset: Path, jet_tagger: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    args = _run(bad_fileset, jet_tagger, tmp_path / "o", "--executor", "dask", "--workers", "1")
    code = main(args)
    err = capfd.readouterr().err
    assert code == 1
    assert not [n for n in NOISE if n in err], err
    assert "outside the 280x360 grid" in err


def test_cluster_worker_error_is_one_line(
    bad_fileset: Path, jet_tagger: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cfg = yaml.safe_load((REPO / "facility" / "local.yaml").read_text())
    cfg["models"]["worker_dir"] = str(tmp_path / "models")
    config = tmp_path / "local.yaml"
    config.write_text(yaml.safe_dump(cfg))
    code = main(_run(bad_fileset, jet_tagger, tmp_path / "o", "--cluster", str(config)))
    err = capfd.readouterr().err
    assert code == 1
    assert not [n for n in NOISE if n in err], err
    assert "outside the 280x360 grid" in err


@pytest.mark.parametrize("debug", [False, True])
def test_schedulers_here_log_tracebacks_only_under_debug(
    debug: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a scheduler in this process logs when a client closes under a running feed (the
    ``CancelledError`` seen at the end of ``--cluster`` runs), as distributed logs it."""
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    if debug:
        monkeypatch.setenv(DEBUG_ENV, "1")
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    child = logging.getLogger("distributed.scheduler")
    monkeypatch.setattr(child, "level", logging.INFO)  # as a user's dask config may set it
    logging.getLogger("distributed").addHandler(handler)
    try:
        with quiet_dask():
            try:
                raise asyncio.CancelledError
            except asyncio.CancelledError:
                child.exception("")
                logging.getLogger("distributed.worker").error("Compute Failed")
    finally:
        logging.getLogger("distributed").removeHandler(handler)
    assert child.level == logging.INFO  # restored
    text = seen.getvalue()
    assert ("CancelledError" in text and "Compute Failed" in text) is debug, text
