"""Generator throughput per process, with and without the detector, and bytes per event.

Run: ``python benchmarks/generate.py [--events 200] [--processes tau qcd ...]``.
Everything is measured in this one run, in this process (one core): Pythia alone
(``detector=False``) is the baseline each detector figure is compared with.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from e2e_coffea.io import write_e2e, write_sparse
from e2e_coffea.sim import PROCESSES, simulate_events


def rate(process: str, n: int, detector: bool, pileup: float = 0.0) -> tuple[float, object]:
    t0 = time.process_time()
    chunk = simulate_events(process, n, seed=11, pileup=pileup, detector=detector)
    return n / (time.process_time() - t0), chunk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--processes", nargs="*", default=list(PROCESSES))
    ap.add_argument("--pileup-process", default="qcd")
    args = ap.parse_args()
    print(
        f"events per measurement: {args.events}; CPU time of this process (1 core); "
        f"cores on machine: {os.cpu_count()}"
    )
    print(
        f"{'process':<10} {'pythia ev/s':>12} {'+detector ev/s':>15} {'ratio':>6} "
        f"{'sparse B/ev':>12} {'e2e B/ev':>10} {'e2e/sparse':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for proc in args.processes:
            r_gen, _ = rate(proc, args.events, detector=False)
            r_det, chunk = rate(proc, args.events, detector=True)
            sp, e2 = Path(tmp) / f"{proc}.sparse.root", Path(tmp) / f"{proc}.e2e.root"
            write_sparse(sp, chunk)
            write_e2e(e2, chunk)
            b_sp, b_e2 = sp.stat().st_size / args.events, e2.stat().st_size / args.events
            print(
                f"{proc:<10} {r_gen:>12.1f} {r_det:>15.1f} {r_det / r_gen:>6.2f} "
                f"{b_sp:>12.0f} {b_e2:>10.0f} {b_e2 / b_sp:>10.1f}"
            )
    if args.pileup_process:
        r0, _ = rate(args.pileup_process, args.events, detector=True, pileup=0)
        # the pool is built once per seed and cached: first call pays for it, second does not
        t0 = time.process_time()
        simulate_events(args.pileup_process, args.events, seed=11, pileup=30)
        first = time.process_time() - t0
        r30, _ = rate(args.pileup_process, args.events, detector=True, pileup=30)
        print(
            f"\npile-up mu=30 ({args.pileup_process}): {r30:.1f} ev/s with a warm pool vs "
            f"{r0:.1f} ev/s at mu=0 (ratio {r30 / r0:.2f}); "
            f"overlay cost {1e3 * (1 / r30 - 1 / r0):.1f} ms/event; first call incl. pool "
            f"{first:.1f} s"
        )


if __name__ == "__main__":
    main()
