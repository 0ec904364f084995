#!/usr/bin/env bash
# AUC table of the shipped taggers on independent samples (seed 2), through the main job.
set -euo pipefail
OUT=${OUT:-build/shipped}
EVENTS=${EVENTS:-600}
declare -A SIG=([tau]=tau [electron]=electron [eg]=photon [qg]=quark [top]=top)
declare -A BKG=([tau]=qcd [electron]=qcd_em [eg]=electron [qg]=gluon [top]=qcd)
for task in tau electron eg qg top; do
  dir="$OUT/test-seed2/$task"
  [ -f "$dir/fileset.json" ] || e2e-coffea generate --process "${SIG[$task]}" --process "${BKG[$task]}" \
      --events "$EVENTS" --seed 2 --workers 2 --events-per-file 300 --out "$dir"
  e2e-coffea run --fileset "$dir/fileset.json" --tagger "${task}_simplenet" --tagger "${task}_resnet15" \
      --chunksize 300 --out "$OUT/eval/$task"
done
python - "$OUT/eval" <<'PY'
import json, sys, pathlib
print("| tagger | AUC (test, seed 2) | objects |")
print("| --- | --- | ---: |")
for p in sorted(pathlib.Path(sys.argv[1]).glob("*/summary.json")):
    for name, t in json.loads(p.read_text())["taggers"].items():
        print(f"| {name} | {t['auc']:.3f} ± {t['auc_err']:.3f} | {t['n_jets']} |")
PY
