"""``benchmarks/frames.py`` stays runnable and keeps checking what it claims.

Not a timing test: four events, one repeat, and only the correctness columns it prints
(frames identical across layouts, torch matching numpy) are asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "frames.py"


def test_frames_benchmark_runs_and_its_builders_agree(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "4", "--repeat", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for section in ("(a) read + build", "(b) build only", "(c) torch backend"):
        assert section in out
    assert "frames identical: True" in out
    assert "frames identical: False" not in out
    assert out.count("matches numpy: True") == 4
    assert "matches numpy: False" not in out
    assert "differs from ours" not in out  # the slicing-loop baselines build the same frames
