"""The held-out table of the shipped taggers from the main job's summaries.

Reads EVAL/*/summary.json (one run per task, tools/evaluate-shipped-taggers.sh), prints
one line per tagger: for binary classifiers the physical headline AUC (background at its
cross-section, signal matched to its pT) +- its error, the unweighted AUC, per background
dataset and per nVtx bin, signal efficiencies and single-feature baselines; pairwise AUCs
for multi-class ones (one-vs-rest for outputs without them); response median and resolution against the classical
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
    if entry.get("pairwise"):
        pairs = {k: v for k, v in entry["pairwise"].items() if v.get("auc") is not None}
        if pairs:
            m = {
                "heldout_auc_pairwise": {k: v["auc"] for k, v in pairs.items()},
                "heldout_auc_err_pairwise": {k: v["auc_err"] for k, v in pairs.items()},
                "heldout_n": entry["n_jets"],
            }
            each = ", ".join(f"{k} {v['auc']:.3f} ± {v['auc_err']:.3f}" for k, v in pairs.items())
            return f"pairwise {each}; {m['heldout_n']} objects", m
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
    phys = entry.get("physical") or {}
    if phys.get("auc_headline") is None:
        return (
            f"AUC {m['heldout_auc']:.4f} ± {m['heldout_auc_err']:.4f}; {m['heldout_n']} objects",
            m,
        )
    return physical_text(phys, m["heldout_n"]), {
        **m,
        "heldout_auc_xsec_weighted": m.pop("heldout_auc"),
        "heldout_auc": phys["auc_headline"],
        "heldout_auc_err": phys["auc_headline_err"],
        "heldout_auc_unweighted": phys["auc_unweighted"],
        "heldout_auc_per_background": {
            ds: v["auc"] for ds, v in phys["per_background_dataset"].items()
        },
        "heldout_auc_per_nvtx": {k: v["auc"] for k, v in phys["per_nvtx"].items()},
        "heldout_baselines": {k: v.get("auc_headline") for k, v in phys["baselines"].items()},
    }


def physical_text(phys: dict[str, Any], n: int) -> str:
    """Headline ± err, unweighted, per background dataset, per nVtx, efficiencies and
    single-feature baselines (headline weighting) of one binary tagger."""
    per_ds = ", ".join(
        f"{ds} {v['auc']:.3f}"
        for ds, v in phys["per_background_dataset"].items()
        if v["auc"] is not None
    )
    per_nv = ", ".join(f"nVtx {k}: {v['auc']:.3f}" for k, v in phys["per_nvtx"].items())
    base = ", ".join(
        f"{k} {v['auc_headline']:.3f}"
        for k, v in phys["baselines"].items()
        if v.get("auc_headline") is not None
    )
    return (
        f"headline {phys['auc_headline']:.4f} ± {phys['auc_headline_err']:.4f}; unweighted "
        f"{phys['auc_unweighted']:.4f}; per background: {per_ds}; {per_nv}; eff. at 1 % / 10 % "
        f"background {phys['signal_eff_at_1pct_bkg']:.3f} / {phys['signal_eff_at_10pct_bkg']:.3f}; "
        f"single features: {base}; {n} objects"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("eval", type=Path)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--record", type=Path, default=None, metavar="DEST")
    ap.add_argument("--only", action="append", default=None, metavar="NAME",
                    help="record only these taggers (repeatable); default: every one in DEST")  # fmt: skip
    args = ap.parse_args()
    rows, failed = [], False
    for path in sorted(args.eval.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        for name, entry in summary["taggers"].items():
            text, metrics = figures(entry)
            rows.append(f"| {path.parent.name} | {name} | {text} | {_range(entry['range'])} |")
            failed |= not metrics  # no figure: a sample or a truth was missing
            model = args.record / f"{name}.onnx" if args.record else None
            chosen = args.only is None or name in args.only
            if metrics and model is not None and model.is_file() and chosen:
                from e2e_coffea.export.attach import record_metrics

                metrics.update(heldout_sample=args.sample, heldout_command=args.command,
                               heldout_range=entry["range"])  # fmt: skip
                record_metrics(model, metrics)
    sys.stdout.write("| task | tagger | held-out figures | range |\n| --- | --- | --- | --- |\n")
    sys.stdout.write("\n".join(rows) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
