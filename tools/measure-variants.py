"""Measure and record the fp16 and int8 variants of every shipped tagger (or those named).

The sample is a held-out one of every task's processes, e.g.::

    e2e-coffea generate --process qcd --process tau --process qcd_em --process electron \\
        --process photon --process quark --process gluon --process top --events 400 \\
        --seed 2 --out build/variants-sample
    python tools/measure-variants.py build/variants-sample

Each tagger's frames are built once and both variants measured on them
(``e2e-coffea contract variants`` does one tagger and one precision); the records go
into the shipped contracts, the passing int8 files into ``data/taggers/variants/``.
Prints one table row per tagger.
"""

from __future__ import annotations

import argparse
import sys

from e2e_coffea.exceptions import E2EError
from e2e_coffea.export.precision import MAX_AUC_DROP
from e2e_coffea.inference.shipped import list_taggers, resolve_tagger
from e2e_coffea.inference.variants import measure_and_record, task_frames


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sample")
    ap.add_argument("taggers", nargs="*")
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--describe", default=None, help="What the contracts say of the sample.")
    args = ap.parse_args()
    out(
        f"| tagger | fp32 AUC | fp16 drop | int8 drop | held-out objects | gate (<= {MAX_AUC_DROP}) |"
    )
    out("| --- | --- | --- | --- | --- | --- |")
    for name in args.taggers or list_taggers():
        spec = resolve_tagger(name)
        try:
            frames = task_frames(spec, args.sample, per_class=args.per_class)
        except E2EError as err:
            out(f"| {name} | - | - | - | - | not gated: {err} |")
            continue
        cells, verdict = {}, []
        for precision in ("fp16", "int8"):
            spec = resolve_tagger(name)  # the contract as just rewritten
            rec, ok = measure_and_record(spec, precision, frames, args.describe or args.sample)
            cells[precision] = f"{rec['auc_fp32'] - rec['auc_variant']:+.4f}"
            verdict.append(f"{precision} {'passes' if ok else 'refused'}")
        out(f"| {name} | {rec['auc_fp32']:.4f} | {cells['fp16']} | {cells['int8']} | "
              f"{rec['n_objects']} | {', '.join(verdict)} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
