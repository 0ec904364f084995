"""The dashboards read a run folder without running code from it: a pickle planted as
``output.pkl`` is never unpickled unless the caller says ``allow_pickle=True``."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.dashboards import EventDisplay, PerformanceDashboard
from e2e_coffea.exceptions import UnsafeOutputError


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def planted(tmp_path: Path, saved_run: Any) -> tuple[Path, Path]:
    """A run folder whose output is a crafted pickle (next to a genuine summary.json)."""
    run_dir, marker = tmp_path / "run", tmp_path / "pwned"
    run_dir.mkdir()
    shutil.copy(saved_run.dir / "summary.json", run_dir)
    (run_dir / "output.pkl").write_bytes(pickle.dumps({"hists": _Payload(marker)}))
    return run_dir, marker


def test_performance_dashboard_never_unpickles_by_default(planted: tuple[Path, Path]) -> None:
    run_dir, marker = planted
    with pytest.raises(UnsafeOutputError, match="allow_pickle=True") as info:
        PerformanceDashboard.from_run(run_dir)
    assert not marker.exists()
    assert str(run_dir / "output.pkl") in str(info.value)


def test_event_display_never_unpickles_by_default(
    planted: tuple[Path, Path], saved_run: Any
) -> None:
    run_dir, marker = planted
    for where in (run_dir, run_dir / "output.pkl"):
        with pytest.raises(UnsafeOutputError, match="allow_pickle=True"):
            EventDisplay.from_run(where, saved_run.fileset, saved_run.spec)
        assert not marker.exists()


def test_opting_in_reads_an_older_runs_pickle(planted: tuple[Path, Path], saved_run: Any) -> None:
    """``allow_pickle=True`` still opens what older versions wrote."""
    run_dir, marker = planted
    (run_dir / "output.pkl").write_bytes(pickle.dumps(saved_run.output))
    dash = PerformanceDashboard.from_run(run_dir, allow_pickle=True)
    assert dash.classes == {saved_run.spec.name: ("qcd", "tau")}
    assert not marker.exists()
