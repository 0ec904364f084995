"""Faults only a batch system makes, on the session's real SLURM: a job cancelled mid-run,
jobs that stay pending, a request no node can meet, workers that cannot reach the scheduler.
Each run equals a clean one, or stops with one line naming the cause, in bounded time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.exceptions import BatchJobError, WorkersMissingError
from e2e_coffea.facility import connect, load_cluster_config, run_on_cluster

REPO = Path(__file__).parents[2]

# A worker preload: the worker named cpu-0 takes 3 s per chunk, so that it is surely
# holding a chunk when its job is cancelled.
SLOW_PRELOAD = """
import time
from e2e_coffea.processor import tagger_processor

def dask_setup(worker):
    if worker.name != "cpu-0":
        return
    original = tagger_processor.E2ETaggerProcessor.process

    def slow(self, events):
        time.sleep(3)
        return original(self, events)

    tagger_processor.E2ETaggerProcessor.process = slow
"""


def config(tmp_path: Path, pool: dict[str, Any] | None = None, **top: Any) -> Path:
    cfg = yaml.safe_load((REPO / "facility" / "slurm.yaml").read_text())
    cfg["security"]["shared_temp_directory"] = str(tmp_path / "tls")
    cfg["pools"]["cpu"].update({"memory": "1GB", **(pool or {})})
    cfg["pools"]["cpu"]["options"].update(log_directory=str(tmp_path / "logs"), interface="lo")
    cfg.update({"wait_timeout": 120, **top})
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _job_of(client: Any, name: str) -> tuple[str, str]:
    workers = client.scheduler_info(n_workers=-1)["workers"]
    addr = next(a for a, w in workers.items() if w["name"] == name)
    env = client.run(lambda: __import__("os").environ["SLURM_JOB_ID"], workers=[addr])
    return addr, str(env[addr])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_cancelled_jobs_chunks_rerun_on_the_other_worker(
    slurm: Any,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    preload = tmp_path / "slow_cpu0.py"
    preload.write_text(SLOW_PRELOAD)
    path = config(tmp_path, pool={"worker_extra_args": ["--preload", str(preload)]})
    cancelled: dict[str, str] = {}

    def cancel_cpu0_mid_chunk(client: Any) -> None:
        deadline = time.monotonic() + 120
        addr, job = _job_of(client, "cpu-0")
        while time.monotonic() < deadline and not client.processing(workers=[addr])[addr]:
            time.sleep(0.05)
        subprocess.run(["scancel", job], check=True)
        cancelled["job"] = job

    # the run's own client, handed to the canceller as the run starts watching its workers
    module = sys.modules["e2e_coffea.facility.connect"]
    watch = module.watch_workers
    threads: list[threading.Thread] = []

    def watch_and_cancel(client: Any) -> Any:
        threads.append(threading.Thread(target=cancel_cpu0_mid_chunk, args=(client,)))
        threads[-1].start()
        return watch(client)

    monkeypatch.setattr(module, "watch_workers", watch_and_cancel)
    result, info = run_on_cluster(
        path, sample.fileset["sparse"], [jet_tagger], chunksize=20, device="cpu", progress=False
    )
    threads[0].join(30)
    assert cancelled, "the job was never cancelled"
    # the result is a clean run's ...
    assert result.output["entries"] == reference.output["entries"]
    assert hists_equal(result.output["hists"], reference.output["hists"])
    # ... and the loss is on record, with the batch job it was
    lost = [w for w in info["lost_workers"] if w["name"] == "cpu-0"]
    assert lost, info["lost_workers"]
    assert lost[0]["job_id"] == cancelled["job"]
    assert lost[0]["job_state"] == "CANCELLED"  # how SLURM ended it
    assert info["jobs"]["cpu-0"] == cancelled["job"]


def test_pending_jobs_stop_the_wait_with_the_partition_and_request(
    slurm: Any, tmp_path: Path
) -> None:
    blocker = subprocess.run(
        ["sbatch", "--parsable", "-c", str(slurm.cpus), "-o", "/dev/null", "--wrap", "sleep 300"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        with pytest.raises(WorkersMissingError) as info:
            connect(load_cluster_config(config(tmp_path, pool={"jobs": 1}, wait_timeout=8)))
    finally:
        subprocess.run(["scancel", blocker], check=False)
    line = str(info.value)
    assert "\n" not in line
    assert "only 0 of 1 workers joined" in line
    assert "1 of 1 SLURM job(s) still pending in partition 'debug'" in line
    assert "each asking for 1 CPU(s) and 954M memory" in line, line


def test_a_request_no_node_can_meet_is_refused_before_submitting(
    slurm: Any, tmp_path: Path
) -> None:
    path = config(tmp_path, pool={"cores": 64, "memory": "100000GB"})
    with pytest.raises(BatchJobError, match=r"SLURM refuses pool 'cpu'.*64 CPU\(s\), 100000GB"):
        connect(load_cluster_config(path))
    out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""  # nothing was submitted


def test_workers_that_cannot_reach_the_scheduler_are_named_in_bounded_time(
    slurm: Any, tmp_path: Path
) -> None:
    # the workers are told a closed port (what a firewall or a wrong interface does)
    path = config(
        tmp_path,
        pool={"jobs": 1},
        join_timeout=5,
        scheduler_options={"contact_address": "tls://127.0.0.1:9"},
    )
    with pytest.raises(WorkersMissingError) as info:
        connect(load_cluster_config(path))
    line = str(info.value)
    assert "\n" not in line
    assert "never reached the scheduler at tls://127.0.0.1:9" in line


SLOW_ALL_PRELOAD = """
import time
from e2e_coffea.processor import tagger_processor

def dask_setup(worker):
    original = tagger_processor.E2ETaggerProcessor.process

    def slow(self, events):
        time.sleep(1.5)
        return original(self, events)

    tagger_processor.E2ETaggerProcessor.process = slow
"""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_adaptive_pool_replaces_a_job_the_batch_system_ended(
    slurm: Any,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at its walltime SLURM ends a job as scancel does (SIGTERM, then SIGKILL)
    import dask

    preload = tmp_path / "slow.py"
    preload.write_text(SLOW_ALL_PRELOAD)
    path = config(
        tmp_path, pool={"adaptive": True, "worker_extra_args": ["--preload", str(preload)]}
    )
    ended: dict[str, str] = {}

    def end_cpu0(client: Any) -> None:
        deadline = time.monotonic() + 120
        addr, job = _job_of(client, "cpu-0")
        while time.monotonic() < deadline and not client.processing(workers=[addr])[addr]:
            time.sleep(0.05)
        subprocess.run(["scancel", job], check=True)
        ended["job"] = job

    module = sys.modules["e2e_coffea.facility.connect"]
    watch = module.watch_workers
    threads: list[threading.Thread] = []

    def watch_and_end(client: Any) -> Any:
        threads.append(threading.Thread(target=end_cpu0, args=(client,)))
        threads[-1].start()
        return watch(client)

    monkeypatch.setattr(module, "watch_workers", watch_and_end)
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "1s"}):
        result, info = run_on_cluster(
            path, sample.fileset["sparse"], [jet_tagger], chunksize=10, device="cpu", progress=False
        )
    threads[0].join(30)
    assert ended, "the job was never ended"
    assert result.output["entries"] == reference.output["entries"]
    assert hists_equal(result.output["hists"], reference.output["hists"])
    # the ended job's worker is lost, recorded with its job id, and the run still equals a
    # clean one. Whether adaptive scaling has resubmitted the job before this short run
    # ends depends on the queue's timing (it failed one CI run in two), so it is not
    # asserted here; the closing note of issue 22 says so.
    assert [w["job_id"] for w in info["lost_workers"] if w["name"] == "cpu-0"] == [ended["job"]]


# The first worker never finishes a chunk (only the batch system's walltime frees it);
# a worker that starts after it (the replacement job's) works normally.
STUCK_PRELOAD = """
import os
import time
from e2e_coffea.processor import tagger_processor

def dask_setup(worker):
    try:
        os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return

    def stuck(self, events):
        time.sleep(3600)

    tagger_processor.E2ETaggerProcessor.process = stuck
"""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_job_at_its_walltime_is_replaced_and_the_run_finishes(
    slurm: Any,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One adaptive job whose worker hangs on its first chunk: the run can only finish
    # if SLURM's own time limit ends that job (TIMEOUT, not scancel) and adaptive scaling
    # submits a replacement that does the work. The limit: once the worker holds a chunk
    # its job's end time is set to now, and slurmctld ends the job at its next time-limit
    # check (within 30 s) as at a walltime (TimeLimit=0:01 would be a whole minute).
    import dask

    preload = tmp_path / "stuck_first.py"
    preload.write_text(STUCK_PRELOAD.format(marker=str(tmp_path / "first-worker-started")))
    pool = {"jobs": 1, "adaptive": True, "worker_extra_args": ["--preload", str(preload)]}
    path = config(tmp_path, pool=pool)
    limited: dict[str, str] = {}

    def cut_cpu0_walltime(client: Any) -> None:
        deadline = time.monotonic() + 120
        addr, job = _job_of(client, "cpu-0")
        while time.monotonic() < deadline and not client.processing(workers=[addr])[addr]:
            time.sleep(0.05)
        subprocess.run(["scontrol", "update", f"JobId={job}", "EndTime=now"], check=True)
        limited["job"] = job

    module = sys.modules["e2e_coffea.facility.connect"]
    watch = module.watch_workers
    threads: list[threading.Thread] = []

    def watch_and_cut(client: Any) -> Any:
        threads.append(threading.Thread(target=cut_cpu0_walltime, args=(client,)))
        threads[-1].start()
        return watch(client)

    monkeypatch.setattr(module, "watch_workers", watch_and_cut)
    # without a replacement the chunks fail after 2 minutes with no worker: no hang
    timeouts = {"distributed.deploy.lost-worker-timeout": "1s"}
    with dask.config.set({**timeouts, "distributed.scheduler.no-workers-timeout": "120s"}):
        result, info = run_on_cluster(
            path, sample.fileset["sparse"], [jet_tagger], chunksize=20, device="cpu", progress=False
        )
    threads[0].join(30)
    assert limited, "the walltime was never cut"
    assert result.output["entries"] == reference.output["entries"]
    assert hists_equal(result.output["hists"], reference.output["hists"])
    [lost] = info["lost_workers"]
    assert (lost["name"], lost["job_id"]) == ("cpu-0", limited["job"])
    assert lost["job_state"] == "TIMEOUT"  # SLURM's time limit ended it, and the record says so
    # the first worker finished nothing: every entry is the replacement's, a new job whose
    # worker joined mid-run under the same name
    assert info["entries_per_worker"] == {"cpu-0": 80}
    assert info["jobs"]["cpu-0"] != limited["job"]
    assert info["joined_workers"], info
