"""Issue 25's goal table from the outputs of one ``benchmarks/issue25.sh`` run.

Every figure is a ratio measured in that run against its baseline in the same run (or,
for the facility units, the figure with the AGC's published one beside it). Reads
``run.json`` (benchmarks/run.py parts 4 and 5), ``frames.json`` (benchmarks/frames.py
--build-only) and ``precision.json`` (benchmarks/precision.py) in the folder given, and
writes ``goals.md`` there (also printed).

    python benchmarks/issue25_table.py benchmarks/results/<date>-2core/issue25
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

AGC_KHZ_PER_WORKER = 0.70


def _load(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else {}


def rows(folder: Path) -> list[tuple[str, str, str]]:
    """(goal, measured, met?) for every issue-25 goal; "not measured" where its output is
    missing (a part skipped or failed: the table says so rather than leaving it out)."""
    run, frames, precision = (
        _load(folder, n) for n in ("run.json", "frames.json", "precision.json")
    )
    out: list[tuple[str, str, str]] = []

    def ratio(goal: str, value: float | None, floor: float, pct: bool = True) -> None:
        if value is None:
            out.append((goal, "not measured", "-"))
            return
        shown = f"{value:.0%}" if pct else f"{value:.2f}x"
        out.append((goal, shown, "yes" if value >= floor else "no"))

    def real(model: str, key: str) -> float | None:
        v = run.get(model, {}).get("realistic", {}).get(key)
        return None if v is None else float(v)

    for model, label in (("simplenet", "SimpleNet"), ("resnet15", "ResNet-15")):
        ratio(f"{label} processor >= 90 % of bare onnxruntime at its best batch",
              real(model, "calibrated_over_bare_best"), 0.9)  # fmt: skip
    ratio("SimpleNet processor >= 2x today's processor (fixed batch 256)",
          real("simplenet", "calibrated_over_fixed"), 2.0, pct=False)  # fmt: skip
    for model, label in (("simplenet", "SimpleNet"), ("resnet15", "ResNet-15")):
        ratio(f"{label} >= 3x coffea torch_wrapper (same model, same jets, CPU)",
              real(model, "over_torch_wrapper"), 3.0, pct=False)  # fmt: skip
    for model, label in (("simplenet", "SimpleNet"), ("resnet15", "ResNet-15")):
        eff = run.get(model, {}).get("dask", {}).get("efficiency")
        ratio(f"{label} 1 -> 2 Dask workers >= 80 % efficiency",
              None if eff is None else float(eff), 0.8)  # fmt: skip
    for model, label in (("simplenet", "SimpleNet"), ("resnet15", "ResNet-15")):
        r = run.get(model, {}).get("realistic")
        if r:
            out.append((f"{label} facility units (processor, {r['cores']} cores)",
                        f"{r['events_per_s_per_core']:.0f} events/s per core, {r['jets_per_s_per_core']:.0f} "
                        f"jets/s per core, {r['khz_per_worker']:.2f} kHz per worker "
                        f"(AGC: {AGC_KHZ_PER_WORKER} kHz per worker)", "reported"))  # fmt: skip
        d = run.get(model, {}).get("dask", {})
        for nw in ("1", "2"):
            if nw in d:
                out.append((f"{label} facility units, {nw} one-thread Dask worker(s)",
                            f"{d[nw]['khz_per_worker']:.2f} kHz per worker, client used "
                            f"{d[nw]['client_cpu_fraction']:.0%} of a core", "reported"))  # fmt: skip
    ratio("sparse frame building >= 75 % of a preallocated copy of the same pixels",
          frames.get("sparse_into_over_preallocated_copy"), 0.75)  # fmt: skip
    resnets = {k: v for k, v in precision.items() if k.endswith("_resnet15")}
    if not resnets:
        out.append(("ResNet-15 int8 >= 1.4x fp32 at <= 0.002 AUC loss", "not measured", "-"))
    for name, v in sorted(resnets.items()):
        if "not_measured" in v:
            out.append((f"{name} int8 >= 1.4x fp32 at <= 0.002 AUC loss",
                        f"not measured: {v['not_measured']}", "-"))  # fmt: skip
            continue
        drop = v.get("int8_auc_drop")
        shown = f"{v['int8_over_fp32']:.2f}x, AUC drop " + (
            "not recorded" if drop is None else f"{drop:+.4f}"
        )
        met = drop is not None and v["int8_over_fp32"] >= 1.4 and drop <= 0.002 + 1e-12
        out.append(
            (f"{name} int8 >= 1.4x fp32 at <= 0.002 AUC loss", shown, "yes" if met else "no")
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        sys.stderr.write("usage: issue25_table.py FOLDER (the outputs of benchmarks/issue25.sh)\n")
        return 2
    folder = Path(args[0])
    lines = ["| goal | measured | met? |", "| --- | --- | --- |"]
    lines += [f"| {g} | {m} | {ok} |" for g, m, ok in rows(folder)]
    text = "\n".join(lines) + "\n"
    (folder / "goals.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
