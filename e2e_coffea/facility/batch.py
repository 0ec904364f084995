"""What the batch system knows about a run's jobs, turned into one line each: the submit
command is missing, the request cannot be met, the jobs stay pending, or they run but their
workers never reach the scheduler. jobqueue itself only waits, and logs a traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Final

from ..exceptions import BatchJobError, ClusterConfigError, WorkersMissingError
from .config import ClusterConfig, PoolConfig

__all__ = [
    "SUBMIT_COMMANDS",
    "JobState",
    "JoinWatch",
    "drop_unstarted",
    "job_ids",
    "quiet_submit_failures",
    "require_submit_command",
    "slurm_states",
    "slurm_test_submit",
]

SUBMIT_COMMANDS: Final = {
    "htcondor": "condor_submit",
    "coffea-casa": "condor_submit",
    "slurm": "sbatch",
}


def require_submit_command(cfg: ClusterConfig) -> None:
    """Refuse a config whose batch system has no submit command here, before anything starts."""
    cmd = SUBMIT_COMMANDS.get(cfg.facility)
    if cmd is None or shutil.which(cmd) is not None:
        return
    msg = (
        f"{cfg._where()}facility {cfg.facility!r} submits its workers with {cmd}, which is not "
        f"on PATH: run on a submit (login) node of the {cfg.facility} pool, or try the path here "
        f"with facility/local.yaml (or tools/slurm-up.sh for a single-node SLURM)"
    )
    raise ClusterConfigError(msg)


def job_ids(clusters: list[Any]) -> dict[str, str]:
    """Batch job id per job name (``cpu-0``: the pool's first job) of jobqueue clusters."""
    out: dict[str, str] = {}
    for cluster in clusters:
        for name, job in dict(getattr(cluster, "workers", {})).items():
            jid = getattr(job, "job_id", None)
            if jid:
                out[str(name)] = str(jid)
    return out


@dataclass(frozen=True)
class JobState:
    """One SLURM job as squeue shows it."""

    job_id: str
    state: str
    reason: str
    partition: str
    cpus: str
    memory: str


def slurm_states(ids: list[str]) -> dict[str, JobState]:
    """squeue's view of ``ids`` (jobs it no longer lists are absent)."""
    if not ids or shutil.which("squeue") is None:
        return {}
    proc = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%r|%P|%C|%m"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    states = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 6:
            states[parts[0]] = JobState(*parts)
    return states


def slurm_end_states(ids: list[str], wait: float = 15.0) -> dict[str, str]:
    """How SLURM ended ``ids`` (``TIMEOUT`` at the walltime, ``CANCELLED``, ``PREEMPTED``,
    ``NODE_FAIL``, ...), for the record of lost workers: jobs still completing are waited
    for, up to ``wait`` s; a job still running, or no longer listed, is left as squeue says."""
    deadline = time.monotonic() + wait
    while True:
        states = {j: s.state for j, s in slurm_states(ids).items()}
        if "COMPLETING" not in states.values() or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def slurm_test_submit(job_script: str, pool: PoolConfig) -> None:
    """``sbatch --test-only``: a request no node of the partition can meet fails now, by name."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
        f.write(job_script)
        f.flush()
        proc = subprocess.run(
            ["sbatch", "--test-only", f.name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if proc.returncode != 0:
        partition = pool.options.get("queue", "the default partition")
        why = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        msg = (
            f"SLURM refuses pool {pool.name!r}'s jobs (partition {partition}, {pool.cores} "
            f"CPU(s), {pool.memory} each): {why}; ask for fewer cores or less memory, or "
            f"another queue"
        )
        raise BatchJobError(msg)


class JoinWatch:
    """Follows the SLURM jobs of a run while it waits for their workers to join."""

    def __init__(self, cfg: ClusterConfig, clusters: list[Any], address: str) -> None:
        self.cfg, self.clusters, self.address = cfg, clusters, address
        self.running_since: dict[str, float] = {}

    def check(self, joined: set[str]) -> None:
        """Raise for jobs the batch system refused, and once a job has run
        ``join_timeout`` s without its worker joining."""
        refused = _unsubmitted(self.clusters)
        if refused:
            said = f": {_LAST_REFUSAL[-1]}" if _LAST_REFUSAL else " (rerun with --debug)"
            msg = (
                f"{self.cfg._where()}the batch system did not accept job(s) {refused}; the "
                f"submit command said{said}"
            )
            raise BatchJobError(msg)
        if self.cfg.facility != "slurm":
            return
        ids = job_ids(self.clusters)
        states = slurm_states(list(ids.values()))
        now = time.monotonic()
        for name, jid in ids.items():
            st = states.get(jid)
            if st is None or st.state != "RUNNING" or _joined(name, joined):
                continue
            since = self.running_since.setdefault(jid, now)
            if now - since > self.cfg.join_timeout:
                msg = (
                    f"{self.cfg._where()}SLURM job {jid} ({name}) has run for "
                    f"{self.cfg.join_timeout:g} s but its worker never reached the scheduler at "
                    f"{self.address}: the compute nodes cannot reach that address (set "
                    f"'interface' to the network they share with this machine, or open the port)"
                )
                raise WorkersMissingError(msg)

    def pending_line(self) -> str:
        """What holds the jobs back, for the timeout message ('' outside SLURM)."""
        if self.cfg.facility != "slurm":
            return ""
        ids = job_ids(self.clusters)
        states = slurm_states(list(ids.values()))
        pending = [s for s in states.values() if s.state == "PENDING"]
        if not pending:
            return ""
        s = pending[0]
        return (
            f"; {len(pending)} of {len(ids)} SLURM job(s) still pending in partition "
            f"{s.partition!r} (reason {s.reason}), each asking for {s.cpus} CPU(s) and "
            f"{s.memory} memory: the partition has no room for that now; ask for less, "
            f"another queue, or a longer wait_timeout"
        )


_JOBQUEUE_FAILURE: Final = "Command exited with non-zero exit code"
_LAST_REFUSAL: list[str] = []


class _SubmitFailureFilter(logging.Filter):
    """Keeps jobqueue's failed-submission tracebacks (logged from its event loop, where
    nobody can catch them) off the terminal, and remembers what the command said: the
    wait turns it into one line. ``--debug`` shows them again."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{record.getMessage()} {exc or ''}"
        if _JOBQUEUE_FAILURE not in text or os.environ.get("E2E_COFFEA_DEBUG") == "1":
            return True
        said = re.search(r"stderr:\\n(.*?)\\n", text) or re.search(r"stderr:\n(.*?)\n", text)
        if said and said.group(1).strip():
            _LAST_REFUSAL.append(said.group(1).strip())
        return False


class _ShutdownCancelFilter(logging.Filter):
    """The scheduler logs a CancelledError traceback when it closes under a client's
    progress feed (after a failed run): a shutdown, not an error. ``--debug`` shows it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        cancelled = isinstance(exc, asyncio.CancelledError)
        return not cancelled or os.environ.get("E2E_COFFEA_DEBUG") == "1"


_FILTER: Final = _SubmitFailureFilter()
_SHUTDOWN: Final = _ShutdownCancelFilter()


def quiet_submit_failures() -> None:
    """Install the filters on the loggers that jobqueue's background failures and the
    scheduler's shutdown reach (they print tracebacks nobody can catch)."""
    for name in ("asyncio", "tornado.application", "distributed.deploy.spec"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for name in ("distributed.scheduler", "distributed.core", "distributed.utils"):
        logger = logging.getLogger(name)
        if _SHUTDOWN not in logger.filters:
            logger.addFilter(_SHUTDOWN)


def drop_unstarted(cluster: Any) -> None:
    """Mark jobs that never started (their submission failed) as failed and forget them:
    the cluster's own close asserts that every job it made has started or failed."""
    from distributed.core import Status

    workers = getattr(cluster, "workers", None)
    if not isinstance(workers, dict):
        return
    for name, job in list(workers.items()):
        if getattr(job, "status", None) == Status.created:
            job.status = Status.failed
            del workers[name]


def _unsubmitted(clusters: list[Any]) -> list[str]:
    """Jobs jobqueue tried to submit that got no job id (it only logs the failure)."""
    return sorted(
        str(name)
        for c in clusters
        if c.__class__.__module__.startswith("dask_jobqueue") and "Local" not in type(c).__name__
        for name, job in dict(getattr(c, "workers", {})).items()
        if getattr(job, "job_id", "") is None
    )


def _joined(job_name: str, workers: set[str]) -> bool:
    """A job's workers are named after it (``cpu-0``, or ``cpu-0-1`` with processes)."""
    return any(w == job_name or w.startswith(f"{job_name}-") for w in workers)
