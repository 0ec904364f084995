"""A facility config's first contact with a machine: a batch system that is not there, or
that refuses the jobs, stops the run at once with one line, never a traceback and a hang."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main

REPO = Path(__file__).parents[2]


def _run(config: Path, sample: Any, jet_tagger: Path, out: Path) -> list[str]:
    return [
        "run",
        "--cluster",
        str(config),
        "--fileset",
        str(sample.fileset["sparse"]),
        "--tagger",
        str(jet_tagger),
        "--out",
        str(out),
    ]


@pytest.mark.parametrize(
    ("config", "command"), [("htcondor-gpu.yaml", "condor_submit"), ("slurm.yaml", "sbatch")]
)
def test_a_missing_submit_command_is_one_line_and_exit_2(
    config: str,
    command: str,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no batch system here
    rc = main(_run(REPO / "facility" / config, sample, jet_tagger, tmp_path / "out"))
    err = capfd.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert f"submits its workers with {command}, which is not on PATH" in err
    assert config in err


def test_a_refused_submission_stops_the_run_with_one_line(
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # an sbatch that passes --test-only but refuses the real submission (an account
    # without allocation, a partition closed since): jobqueue only logs that
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sbatch"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--test-only*) exit 0;; esac\n'
        "echo 'sbatch: error: Batch job submission failed: Invalid account' >&2\n"
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = yaml.safe_load((REPO / "facility" / "slurm.yaml").read_text())
    cfg["security"]["shared_temp_directory"] = str(tmp_path / "tls")
    cfg["pools"]["cpu"]["options"]["log_directory"] = str(tmp_path / "logs")
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc = main(_run(path, sample, jet_tagger, tmp_path / "out"))
    err = capfd.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1, err  # jobqueue's logged tracebacks stay off
    assert (
        "did not accept job(s) ['cpu-0', 'cpu-1']; the submit command said: "
        "sbatch: error: Batch job submission failed: Invalid account"
    ) in err


def test_facility_check_without_the_batch_system_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    rc = main(["facility", "check", str(REPO / "facility" / "slurm.yaml")])
    err = capfd.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "sbatch, which is not on PATH" in err


def test_the_schedulers_shutdown_cancellation_is_not_printed_as_an_error() -> None:
    import asyncio
    import logging
    import sys

    from e2e_coffea.facility.batch import quiet_submit_failures

    quiet_submit_failures()
    logger = logging.getLogger("distributed.scheduler")

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
        return logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "", (), info)

    # the traceback a failed run used to end with (scheduler.feed cancelled at close) ...
    assert not logger.filter(record(asyncio.CancelledError()))
    # ... while real scheduler errors still show
    assert logger.filter(record(ValueError("a real error")))


def test_workers_killed_on_a_chunk_are_reported_with_their_limit_and_the_chunk(
    tmp_path: Path, sample: Any, jet_tagger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the runner's own message when Dask gives up on a chunk whose workers kept dying
    # (really: about a minute of worker restarts, too slow for the suite)
    import e2e_coffea.runner
    from e2e_coffea.exceptions import RunFailedError
    from e2e_coffea.facility import run_on_cluster

    def killed(*args: Any, **kwargs: Any) -> Any:
        msg = "file x.root, entries 0-300: ... caused a KilledWorker exception (likely a segfault or out-of-memory issue)"
        raise RunFailedError(msg)

    monkeypatch.setattr(e2e_coffea.runner, "run", killed)
    cfg = yaml.safe_load((REPO / "facility" / "local.yaml").read_text())
    cfg["pools"] = {"cpu": {"jobs": 1, "cores": 1, "memory": "1GB"}}
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(RunFailedError) as info:
        run_on_cluster(path, sample.fileset["sparse"], [jet_tagger], chunksize=300, device="cpu")
    line = str(info.value)
    assert "KilledWorker" in line
    assert "95% of their memory limit (cpu 0.93 GiB per worker process)" in line
    assert f"more memory in {path}, or pass a smaller --chunksize (chunks were 300 events)" in line
