"""The facility path on a real SLURM (the session's single-node one, tests/facility/
conftest.py): workers are SLURM jobs, talk TLS, get their thread counts from the job, and
reproduce a local run bin for bin; facility.json lists the job ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.processor.serialize import load_output

REPO = Path(__file__).parents[2]


def slurm_config(tmp_path: Path, **top: Any) -> Path:
    """facility/slurm.yaml with its folders in ``tmp_path``, on loopback; ``top`` overrides."""
    cfg = yaml.safe_load((REPO / "facility" / "slurm.yaml").read_text())
    cfg["security"]["shared_temp_directory"] = str(tmp_path / "tls")
    cfg["pools"]["cpu"]["memory"] = "1GB"
    cfg["pools"]["cpu"]["options"].update(log_directory=str(tmp_path / "logs"), interface="lo")
    cfg["wait_timeout"] = 120
    cfg.update(top)
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.filterwarnings(
    "ignore:kwarg `label` in function `label\\(\\)` is deprecated:FutureWarning"
)
def test_run_on_slurm_equals_a_local_run_and_lists_the_jobs(
    slurm: Any,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--cluster",
            str(slurm_config(tmp_path)),
            "--fileset",
            str(sample.fileset["sparse"]),
            "--tagger",
            str(jet_tagger),
            "--chunksize",
            "20",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert "Traceback" not in capfd.readouterr().err  # a clean shutdown is quiet
    output = load_output(out)
    assert output["entries"] == reference.output["entries"]
    assert hists_equal(output["hists"], reference.output["hists"])
    facility = json.loads((out / "facility.json").read_text())
    assert facility["facility"] == "slurm"
    jobs = facility["jobs"]
    assert set(jobs) == {"cpu-0", "cpu-1"}
    assert all(j.isdigit() for j in jobs.values())
    assert facility["lost_workers"] == []


def _thread_env(dask_worker: Any) -> dict[str, str]:
    import os

    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = {v: os.environ.get(v, "unset") for v in names}
    env["nthreads"] = str(dask_worker.state.nthreads)
    env["slurm_job"] = os.environ.get("SLURM_JOB_ID", "none")
    return env


def test_slurm_workers_get_the_jobs_threads_and_speak_only_tls(slurm: Any, tmp_path: Path) -> None:
    from distributed import Client

    from e2e_coffea.facility import connect, load_cluster_config

    cfg = yaml.safe_load(slurm_config(tmp_path).read_text())
    cfg["pools"]["cpu"].update(jobs=1, cores=2, processes=1)
    path = tmp_path / "two-cores.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with connect(load_cluster_config(path)) as conn:
        envs = list(conn.client.run(_thread_env).values())
        address = conn.client.scheduler.address
        assert address.startswith("tls://")
        with pytest.raises((OSError, TimeoutError)):
            Client(address.replace("tls://", "tcp://"), timeout=3)
    assert len(envs) == 1
    env = envs[0]
    # the worker is a SLURM job, and every threaded library gets the job's 2 cores
    assert env.pop("slurm_job").isdigit()
    assert env == dict.fromkeys(
        ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "nthreads"), "2"
    )
