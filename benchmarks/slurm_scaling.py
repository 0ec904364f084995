"""Per-task overhead and throughput per worker on a real SLURM (tools/slurm-up.sh).

For 1, 2 (and more, --workers) SLURM jobs of one core each, through the facility path
(TLS, one scheduler on this machine):

- ``overhead_ms``: wall time per empty task, from 400 no-op tasks (scheduling, TLS
  round trips, the worker's bookkeeping: what every chunk pays on top of its work);
- ``jets_per_s`` / ``events_per_s``: the main job (tau_simplenet) on FILESET, per chunk size.

    sudo tools/slurm-up.sh && export SLURM_CONF=/tmp/e2e-slurm/slurm.conf
    python benchmarks/slurm_scaling.py --fileset samples/fileset.json \
        --out benchmarks/results/slurm_scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from e2e_coffea.facility import connect, parse_cluster_config
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.runner import run


def _noop(i: int) -> int:
    return i


def config(jobs: int, tmp: str) -> Any:
    return parse_cluster_config(
        {
            "facility": "slurm",
            "device": "cpu",
            "wait_timeout": 120,
            "security": {"temporary": True, "shared_temp_directory": f"{tmp}/tls"},
            "pools": {
                "cpu": {
                    "jobs": jobs,
                    "cores": 1,
                    "memory": "2GB",
                    "options": {"log_directory": f"{tmp}/logs", "interface": "lo"},
                }
            },
        },
        source=f"slurm x{jobs}",
    )


def measure(jobs: int, fileset: Path, chunksizes: list[int], tasks: int) -> dict[str, Any]:
    spec = resolve_tagger("tau_simplenet")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with connect(config(jobs, tmp)) as conn:
            joined = time.perf_counter() - t0
            client = conn.client
            client.gather(client.map(_noop, range(20), pure=False))  # warm the comms
            t0 = time.perf_counter()
            client.gather(client.map(_noop, range(tasks), pure=False))
            overhead_ms = (time.perf_counter() - t0) / tasks * 1e3
            runs = []
            for cs in chunksizes:
                res = run(
                    fileset,
                    [spec],
                    executor="dask",
                    client=client,
                    chunksize=cs,
                    device="cpu",
                    progress=False,
                )
                objects = res.output.get("metrics", {}).get("objects", 0)
                wall = max(res.wall_time, 1e-9)
                runs.append(
                    {
                        "chunksize": cs,
                        "events": res.processed,
                        "jets": objects,
                        "wall_s": round(wall, 2),
                        "events_per_s": round(res.processed / wall, 1),
                        "jets_per_s": round(objects / wall, 1),
                        "jets_per_s_per_worker": round(objects / wall / jobs, 1),
                    }
                )
    return {
        "workers": jobs,
        "join_s": round(joined, 1),
        "overhead_ms": round(overhead_ms, 2),
        "runs": runs,
    }


def _node_line() -> str:
    """The node as slurm.conf declares it (its CPUs may exceed the machine's cores)."""
    conf = Path(os.environ["SLURM_CONF"]).read_text()
    return next((line for line in conf.splitlines() if line.startswith("NodeName=")), "?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fileset", type=Path, required=True)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--chunksize", type=int, nargs="+", default=[25, 150])
    ap.add_argument("--tasks", type=int, default=400)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if "SLURM_CONF" not in os.environ:
        ap.error("SLURM_CONF is not set: start SLURM with tools/slurm-up.sh first")
    rows = [measure(n, args.fileset, args.chunksize, args.tasks) for n in args.workers]
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.processor()}",
        # the load when it ended: others' work on the same cores slows every row
        "load_avg_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "slurm_node": _node_line(),
        "fileset": str(args.fileset),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
