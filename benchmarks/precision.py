"""CPU throughput of every shipped tagger at fp32, fp16 and int8, and their AUC change.

One process, one onnxruntime thread per session, the same frames for all three
precisions (built once per task and input kind from a small generated sample, fixed
seed), timed in interleaved passes (fp32, fp16, int8, fp32, ...) with the fastest pass
of each kept, so that load from other processes falls on all three alike: read the ratios,
not the absolute rates. int8 is the shipped variant where it passed the gate, else one
built here the same way (its throughput is still worth knowing). The AUC changes are the
ones the contracts record (``e2e-coffea contract variants``, a larger held-out sample).

    python benchmarks/precision.py --out benchmarks/results/2026-12-05-2core/precision.txt
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np

from e2e_coffea.exceptions import E2EError
from e2e_coffea.export.precision import MAX_AUC_DROP, bf16_refusal, variant_file
from e2e_coffea.inference.sessions import get_session
from e2e_coffea.inference.shipped import list_taggers, resolve_tagger
from e2e_coffea.inference.variants import TaskFrames, build_int8, task_frames
from e2e_coffea.sim.generate import generate

PROCESSES = ("qcd", "tau", "qcd_em", "electron", "photon", "quark", "gluon", "top")
PRECISIONS = ("fp32", "fp16", "int8")


def one_pass(sess: Any, x: np.ndarray, batch: int) -> float:
    """Seconds for one pass through ``x`` in batches of ``batch``."""
    name = sess.get_inputs()[0].name
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        sess.run(None, {name: x[i : i + batch]})
    return time.perf_counter() - t0


def cpu_flags() -> str:
    flags = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    have = set(" ".join(ln for ln in flags.splitlines() if ln.startswith("Flags")).split())
    want = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in flags.splitlines() if "Model name" in ln), "?"
    )
    return f"{model}; " + ", ".join(f"{f} {'yes' if f in have else 'no'}" for f in want)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", type=Path, default=None, help="Default: generate one (seed 5).")
    ap.add_argument("--events", type=int, default=120, help="Events per process generated.")
    ap.add_argument("--per-class", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5, help="Passes per precision, interleaved.")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--taggers", nargs="+", default=["*"],
                    help="shipped taggers to measure, shell patterns (e.g. '*_resnet15')")  # fmt: skip
    ap.add_argument("--json", type=Path, default=None, help="the ratios and AUC drops, per tagger")
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's per-tensor notes
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="e2e-precision-"))
    sample = args.sample
    if sample is None:
        sample = tmp / "sample"
        generate(list(PROCESSES), args.events, sample, seed=5)
    lines = [
        "# CPU precision variants: throughput ratios (same frames, 1 onnxruntime thread, "
        f"batch {args.batch}, fastest of {args.rounds} interleaved passes) and the AUC "
        "changes the contracts record",
        f"# cpu: {cpu_flags()}",
        "# machine: 2 cores shared with other jobs (under load): read the ratios",
        f"# bf16: {bf16_refusal()}",
        "| tagger | objects | fp32 /s | fp16/fp32 | int8/fp32 | fp16 AUC drop | int8 AUC drop "
        f"| gate (<= {MAX_AUC_DROP}) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    frames_of: dict[Any, TaskFrames] = {}
    figures: dict[str, Any] = {}
    for name in [t for t in list_taggers() if any(fnmatch(t, p) for p in args.taggers)]:
        spec = resolve_tagger(name)
        c = spec.contract
        key = (c.provenance.get("tagger_task"), c.channels, c.input_kind, str(c.points))
        try:
            if key not in frames_of:
                frames_of[key] = task_frames(spec, sample, per_class=args.per_class)
        except E2EError as err:
            lines.append(f"| {name} | - | - | - | - | - | - | not measured: {err} |")
            figures[name] = {"not_measured": str(err)}
            continue
        fr = frames_of[key]
        shipped = variant_file(spec.path, "int8")
        int8 = shipped if shipped.is_file() else build_int8(
            spec.path, tmp / f"{name}.int8.onnx", fr.split()[0], input_name=c.input_names[0]
        )  # fmt: skip
        sessions = {
            "fp32": get_session(spec.path, "cpu", 1),
            "fp16": get_session(spec.path, "cpu", 1, fp16=True),
            "int8": get_session(int8, "cpu", 1),
        }
        for p in PRECISIONS:  # warm: first runs allocate
            one_pass(sessions[p], fr.inputs[: args.batch], args.batch)
        best = dict.fromkeys(PRECISIONS, 0.0)
        for _ in range(args.rounds):  # interleaved, the fastest pass of each kept
            for p in PRECISIONS:
                t = one_pass(sessions[p], fr.inputs, args.batch)
                best[p] = max(best[p], len(fr.labels) / t)
        rec = c.precision_variants or {}

        def drop(p: str, rec: dict[str, Any] = rec) -> str:
            r = rec.get(p)
            return "not recorded" if r is None else f"{r['auc_fp32'] - r['auc_variant']:+.4f}"

        verdict = ", ".join(
            f"{p} {'passes' if p in rec and rec[p]['auc_fp32'] - rec[p]['auc_variant'] <= MAX_AUC_DROP + 1e-12 else 'refused'}"
            for p in ("fp16", "int8")
        )
        lines.append(
            f"| {name} | {len(fr.labels)} | {best['fp32']:.0f} | {best['fp16'] / best['fp32']:.2f}x "
            f"| {best['int8'] / best['fp32']:.2f}x{'' if shipped.is_file() else ' (built here)'} "
            f"| {drop('fp16')} | {drop('int8')} | {verdict} |"
        )
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
        figures[name] = {
            "objects": len(fr.labels), "fp32_per_s": best["fp32"],
            "int8_over_fp32": best["int8"] / best["fp32"], "fp16_over_fp32": best["fp16"] / best["fp32"],
            "int8_shipped": shipped.is_file(),
            "int8_auc_drop": (rec["int8"]["auc_fp32"] - rec["int8"]["auc_variant"]) if "int8" in rec else None,
        }  # fmt: skip
    lines.append(f"# total {time.perf_counter() - t_start:.0f} s (sample generation included)")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(lines[-1] + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
