"""dask-gateway with its SlurmBackend on the session's real SLURM: the scheduler and the
worker are batch jobs of a non-root user, the client reaches them through the gateway's
TLS proxy, and the main job's result equals a local run's bin for bin."""

from __future__ import annotations

import json
import pwd
import re
import shutil
from pathlib import Path
from typing import Any

import dask
import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.processor.serialize import load_output

REPO = Path(__file__).parents[2]


def _run(out: Path, fileset: Path, tagger: Path, *extra: str) -> dict[str, Any]:
    args = ["run", "--fileset", str(fileset), "--tagger", str(tagger), "--chunksize", "20"]
    assert main([*args, "--device", "cpu", "--out", str(out), *extra]) == 0
    return dict(json.loads((out / "summary.json").read_text()))


@pytest.mark.filterwarnings(
    "ignore:kwarg `label` in function `label\\(\\)` is deprecated:FutureWarning"
)
def test_the_main_job_runs_on_slurm_through_the_gateway(
    slurm: Any,
    slurm_gateway: Any,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
) -> None:
    # the jobs run as the gateway's user: the input must be where that user can read it
    data = slurm_gateway.shared / "data"
    shutil.copytree(sample.root, data)
    cfg = yaml.safe_load((REPO / "facility" / "dask-gateway-eaf.yaml").read_text())
    cfg["gateway"].update(address=slurm_gateway.address, proxy_address=None, auth="basic")
    cfg["gateway"]["options"] = {}  # no container image on this SLURM
    cfg["environment"] = {}  # the jobs run this checkout's environment (no pip)
    # models.worker_dir stays the shipped ~/.cache/...: the workers' home, not the client's
    cfg["pools"]["gpu"].update(jobs=1)
    cfg["pools"]["gpu"]["options"].update(worker_memory=2)
    cfg["wait_timeout"] = 120
    path = tmp_path / "gateway-slurm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    slurmd_log = Path(slurm.folder) / "log" / "slurmd.log"
    launched = re.compile(r"Launching batch job (\d+) for UID (\d+)")
    before = set(launched.findall(slurmd_log.read_text()))

    # basic auth as the gateway's user: its jobs run as that user
    with dask.config.set({"gateway.auth.kwargs": {"username": slurm_gateway.user}}):
        summary = _run(
            tmp_path / "out", data / "fileset.sparse.json", jet_tagger, "--cluster", str(path)
        )
    local = _run(tmp_path / "local", data / "fileset.sparse.json", jet_tagger)

    entries = summary["entries"]
    assert summary["failed"] == []  # nothing failed, and nothing went missing:
    assert entries["processed"] == entries["expected"] == 80
    output = load_output(tmp_path / "out")
    assert output["entries"] == reference.output["entries"]
    assert hists_equal(output["hists"], reference.output["hists"])
    assert hists_equal(output["hists"], load_output(tmp_path / "local")["hists"])
    auc = {name: t["auc"] for name, t in summary["taggers"].items()}
    assert auc == {name: t["auc"] for name, t in local["taggers"].items()}
    assert all(a is not None for a in auc.values()), auc

    home = Path(pwd.getpwnam(slurm_gateway.user).pw_dir)
    assert list((home / ".cache" / "e2e-coffea" / "models").glob("*/*.onnx"))  # the upload

    facility = json.loads((tmp_path / "out" / "facility.json").read_text())
    assert facility["facility"] == "gateway"
    [worker] = facility["workers"].values()
    assert worker["nthreads"] == 1  # worker_cores, through the gateway's options
    assert sum(facility["entries_per_worker"].values()) == 80
    # the scheduler and the worker were SLURM batch jobs of the gateway's user
    uid = str(pwd.getpwnam(slurm_gateway.user).pw_uid)
    jobs = set(launched.findall(slurmd_log.read_text())) - before
    assert len(jobs) == 2, jobs
    assert {u for _, u in jobs} == {uid}, jobs
