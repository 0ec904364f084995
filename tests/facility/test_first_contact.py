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
