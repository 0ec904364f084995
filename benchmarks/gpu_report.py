"""The GPU goals, measured or why not: ``report.md`` of a ``gpu_check.sh`` results folder.

Reads what the steps left there (``doctor.json``, ``tests.xml``, ``frames.json``,
``run.json``, ``table.csv`` of the study) and states each goal as a ratio against a
baseline measured in the same run, with the reference numbers beside it. A missing or
skipped input is reported as skipped with its reason, never as a pass.

    python benchmarks/gpu_report.py benchmarks/results/<date>-<gpu>
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REFERENCE = (
    "Reference (the project's GPU issue): an H100 ran the E2E ResNet-15 at 17k frames/s "
    "with onnxruntime CUDA fp32 and 22.6k/s fp16 on resident frames; a 16-thread CPU "
    "session 835/s."
)


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _skip(name: str, why: str) -> str:
    return f"| {name} | skipped | {why} |"


def goal_frames(folder: Path) -> str:
    name = "GPU frames from sparse hits vs the dense-frame PCIe path, >= 10x"
    f = _json(folder / "frames.json")
    if not f:
        return _skip(name, "frames.json missing (bench step not run or failed)")
    if "skipped" in f:
        return _skip(name, f["skipped"])
    r = f["sparse_over_dense_transfer"]
    detail = (
        f"{f['cuda_sparse_jets_per_s']:.0f} vs {f['dense_transfer_jets_per_s']:.0f} jets/s "
        f"({f['jets']} tau13 jets); frames equal numpy: {f['cuda_sparse_matches_numpy']}"
    )
    return f"| {name} | {r:.1f}x {'PASS' if r >= 10 else 'MISS'} | {detail} |"


def goal_worker(folder: Path) -> list[str]:
    name = "GPU worker end to end vs resident onnxruntime, ResNet-15, >= 70%"
    runs = _json(folder / "run.json")
    if not runs:
        return [_skip(name, "run.json missing (bench step not run or failed)")]
    r = runs.get("resnet15", {})
    if "skipped" in r or not r:
        return [_skip(name, r.get("skipped", "no ResNet-15 in run.json"))]
    rates = {int(k): v for k, v in r["worker"].items() if isinstance(v, (int, float))}
    if not rates:
        return [_skip(name, f"no GPU worker measured: {r['worker']}")]
    threads = max(rates, key=lambda k: rates[k])
    ratio = rates[threads] / r["resident_ort_per_s"]
    split = ", ".join(f"{k} thread(s) {v:.0f}/s" for k, v in sorted(rates.items()))
    return [
        f"| {name} | {ratio:.0%} {'PASS' if ratio >= 0.7 else 'MISS'} | best at {threads} "
        f"thread(s); resident ORT fp32 {r['resident_ort_per_s']:.0f}/s, fp16 "
        f"{r['resident_ort_fp16_per_s']:.0f}/s; one process {r['one_process_per_s']:.0f}/s |",
        f"| work split (GPU worker threads, ResNet-15) | measured | {split} |",
    ]


def goal_vs_cpu(folder: Path) -> str:
    name = "GPU worker vs a 16-thread CPU worker, ResNet-15, >= 10x"
    table = folder / "table.csv"
    if not table.is_file():
        log = folder / "study.txt"
        said = log.read_text().strip() if log.is_file() else ""
        if said.startswith("study: skipped"):
            return _skip(name, said.removeprefix("study: skipped").strip(" ()"))
        return _skip(name, "study table.csv missing (bench step not run or failed)")
    with table.open() as fh:
        e2e = [r for r in csv.DictReader(fh) if r["section"] == "e2e" and r["model"] == "resnet15"]
    cpu = next((r for r in e2e if r["device"] == "cpu" and r["objects_per_s"]), None)
    gpu = next((r for r in e2e if r["device"] == "cuda" and r["objects_per_s"]), None)
    if cpu is None or gpu is None:
        why = next((r["note"] for r in e2e if r["device"] == "cuda"), "no ResNet-15 rows")
        return _skip(name, why)
    ratio = float(gpu["objects_per_s"]) / float(cpu["objects_per_s"])
    note = "" if cpu["threads"] == "16" else f" (the CPU worker had {cpu['threads']} threads)"
    return (
        f"| {name} | {ratio:.1f}x {'PASS' if ratio >= 10 else 'MISS'} | "
        f"{float(gpu['objects_per_s']):.0f} vs {float(cpu['objects_per_s']):.0f} objects/s{note} |"
    )


def tests_line(folder: Path) -> str:
    xml = folder / "tests.xml"
    if not xml.is_file():
        return "cuda tests: not run"
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    n, fail, err, skip = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    reasons = sorted(
        {s.get("message", "") for c in suite.iter("testcase") for s in c.iter("skipped")}
    )
    why = f"; skipped because: {' / '.join(reasons)}" if reasons else ""
    return f"cuda tests: {n - fail - err - skip} passed, {fail + err} failed, {skip} skipped{why}"


def doctor_line(folder: Path) -> str:
    d = _json(folder / "doctor.json")
    if not d:
        return "doctor: not run"
    gpus = "; ".join(d["gpus"]) or "none"
    smoke = ", ".join(
        f"{s['device']} {'ok' if not s['error'] else 'FAILED'}"
        + (
            f" (max score diff {s['max_abs_diff_vs_cpu']:.2g})"
            if s["max_abs_diff_vs_cpu"] is not None
            else ""
        )
        for s in d["smoke"]
    )
    return f"doctor: GPU {gpus}; CUDA session {d['cuda_session']}; smoke {smoke}"


def report(folder: Path) -> str:
    lines = [
        f"# GPU check, {folder.name}",
        "",
        doctor_line(folder),
        "",
        tests_line(folder),
        "",
        "| goal | result | detail |",
        "|---|---|---|",
        goal_frames(folder),
        *goal_worker(folder),
        goal_vs_cpu(folder),
        "",
        REFERENCE,
        "",
        "Logs: doctor.txt, tests.txt, frames.txt, run.txt, study.txt; the study's table.md.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    folder = Path((argv or sys.argv[1:])[0])
    text = report(folder)
    (folder / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
