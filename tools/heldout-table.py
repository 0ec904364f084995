"""The held-out table of the shipped taggers from the main job's summaries.

Reads EVAL/*/summary.json (one run per task, tools/evaluate-shipped-taggers.sh), prints
one line per tagger: AUC +- its error for classifiers (one-vs-rest per class and their
mean for multi-class ones), response median and resolution against the classical
baseline for regressions, with the objects counted and the kinematic range. With
``--record DEST`` the figures are written into the contracts of DEST/NAME.onnx
(``metrics["heldout_*"]``, with the sample and the command that measured them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _range(r: dict[str, Any]) -> str:
    hi = "inf" if r.get("pt_max") is None else f"{r['pt_max']:g}"
    return f"{r['pt_min']:g}-{hi} GeV, \\|eta\\| < {r['abs_eta_max']:g}"  # escaped: a table cell


def figures(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the table's text, the metrics to record) of one summary entry."""
    if entry.get("task") == "regression":
        base = entry.get("baseline") or {}
        if entry.get("response_median") is None or base.get("response_median") is None:
            return f"no response: {entry.get('note')}", {}
        m = {
            "heldout_response_median": entry["response_median"],
            "heldout_resolution": entry["resolution"],
            "heldout_baseline": base.get("quantity"),
            "heldout_baseline_response_median": base.get("response_median"),
            "heldout_baseline_resolution": base.get("resolution"),
            "heldout_n": entry.get("n_with_truth"),
        }
        text = (
            f"response median {m['heldout_response_median']:.3f}, resolution "
            f"{m['heldout_resolution']:.3f}; baseline ({m['heldout_baseline']}) median "
            f"{m['heldout_baseline_response_median']:.3f}, resolution "
            f"{m['heldout_baseline_resolution']:.3f}; {m['heldout_n']} objects"
        )
        return text, m
    if entry.get("per_class"):
        per = {c: (v["auc"], v["auc_err"]) for c, v in entry["per_class"].items()}
        errs = [e for _, e in per.values()]
        m = {
            "heldout_auc": entry["auc_macro"],
            "heldout_auc_err": (sum(e * e for e in errs) ** 0.5) / len(errs),
            "heldout_auc_per_class": {c: a for c, (a, _) in per.items()},
            "heldout_auc_err_per_class": {c: e for c, (_, e) in per.items()},
            "heldout_n": entry["n_jets"],
        }
        each = ", ".join(f"{c} {a:.3f} ± {e:.3f}" for c, (a, e) in per.items())
        return f"one-vs-rest {each}; mean {m['heldout_auc']:.3f}; {m['heldout_n']} objects", m
    m = {
        "heldout_auc": entry["auc"],
        "heldout_auc_err": entry["auc_err"],
        "heldout_n": entry["n_jets"],
    }
    if m["heldout_auc"] is None:
        return f"no AUC: {entry.get('note')}", {}
    return f"AUC {m['heldout_auc']:.4f} ± {m['heldout_auc_err']:.4f}; {m['heldout_n']} objects", m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("eval", type=Path)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--record", type=Path, default=None, metavar="DEST")
    args = ap.parse_args()
    rows, failed = [], False
    for path in sorted(args.eval.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        for name, entry in summary["taggers"].items():
            text, metrics = figures(entry)
            rows.append(f"| {path.parent.name} | {name} | {text} | {_range(entry['range'])} |")
            failed |= not metrics  # no figure: a sample or a truth was missing
            model = args.record / f"{name}.onnx" if args.record else None
            if metrics and model is not None and model.is_file():
                from e2e_coffea.export.attach import record_metrics

                metrics.update(heldout_sample=args.sample, heldout_command=args.command,
                               heldout_range=entry["range"])  # fmt: skip
                record_metrics(model, metrics)
    sys.stdout.write("| task | tagger | held-out figures | range |\n| --- | --- | --- | --- |\n")
    sys.stdout.write("\n".join(rows) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
