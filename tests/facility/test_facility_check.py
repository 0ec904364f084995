"""``e2e-coffea facility check`` on the session's real SLURM: a healthy probe, a worker
whose software differs from the client's, and a scheduler the workers cannot reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.facility import check as check_module

REPO = Path(__file__).parents[2]


def config(tmp_path: Path, **top: Any) -> Path:
    cfg = yaml.safe_load((REPO / "facility" / "slurm.yaml").read_text())
    cfg["security"]["shared_temp_directory"] = str(tmp_path / "tls")
    cfg["pools"]["cpu"]["memory"] = "1GB"
    cfg["pools"]["cpu"]["options"].update(log_directory=str(tmp_path / "logs"), interface="lo")
    cfg.update({"wait_timeout": 120, **top})
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_check_reports_the_probe_worker_and_scores_a_batch(
    slurm: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rc = main(["facility", "check", str(config(tmp_path))])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert "1 probe worker(s) of pool(s) ['cpu'] joined" in out  # one job, not the pool's 2
    assert "reached the scheduler at tls://127.0.0.1:" in out
    assert "CPUExecutionProvider" in out
    assert "tau_simplenet scored a batch of 4" in out
    assert out.strip().endswith("ready")


def test_check_names_a_version_mismatch_with_its_fix(
    slurm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    real = check_module.client_versions()
    monkeypatch.setattr(check_module, "client_versions", lambda: {**real, "torch": "0.0.1"})
    rc = main(["facility", "check", str(config(tmp_path))])
    err = capfd.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1, err
    assert f"torch {real['torch']} but the client has 0.0.1" in err[0]
    assert "fix: install torch==0.0.1" in err[0]


def test_check_names_the_address_workers_could_not_reach(
    slurm: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = config(
        tmp_path, join_timeout=5, scheduler_options={"contact_address": "tls://127.0.0.1:9"}
    )
    rc = main(["facility", "check", str(path)])
    err = capfd.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1, err
    assert "never reached the scheduler at tls://127.0.0.1:9" in err[0]
