"""What checkpoints cost: a run without them, a run writing them, and a run resuming from them.

Ratios against the run without checkpoints, measured in the same process (median of 3,
after a warm-up run), on a fileset of your choice with the shipped ``tau_simplenet``:

    python benchmarks/checkpoint_cost.py FILESET.json > benchmarks/results/<folder>/checkpoint_cost.json
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from e2e_coffea.runner import run

KW: dict[str, Any] = {"chunksize": 15, "device": "cpu", "progress": False}


def timed(fileset: str, **extra: Any) -> float:
    t0 = time.perf_counter()
    run(fileset, ["tau_simplenet"], **KW, **extra)
    return time.perf_counter() - t0


def main(fileset: str) -> dict[str, Any]:
    timed(fileset)  # warm-up: sessions, numba kernels
    rows = []
    for _ in range(3):
        folder = Path(tempfile.mkdtemp())
        ckpt = folder / "ckpt"
        plain = timed(fileset)
        write = timed(fileset, checkpoint_dir=ckpt)
        resume = timed(fileset, checkpoint_dir=ckpt)
        size = sum(p.stat().st_size for p in ckpt.rglob("*") if p.is_file())
        rows.append({"plain_s": plain, "write_s": write, "resume_s": resume, "ckpt_bytes": size})
        shutil.rmtree(folder)
    med = {k: sorted(r[k] for r in rows)[1] for k in rows[0]}
    return {
        "runs": rows,
        "median": med,
        "write_over_plain": med["write_s"] / med["plain_s"],
        "resume_over_plain": med["resume_s"] / med["plain_s"],
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), indent=1))
