#!/usr/bin/env bash
# Reproduce the shipped taggers in e2e_coffea/data/taggers/ (about 10 min on 2 idle CPU cores).
# Training samples use seed 1; the independent test samples for the AUC table use seed 2.
set -euo pipefail
OUT=${OUT:-build/shipped}
DEST=${DEST:-e2e_coffea/data/taggers}
mkdir -p "$OUT" "$DEST"

gen() {  # gen NAME SEED PROCESS:EVENTS ...
  local name=$1 seed=$2; shift 2
  for spec in "$@"; do
    [ -f "$OUT/$name-seed$seed/${spec%%:*}/fileset.json" ] && continue  # already generated
    e2e-coffea generate --process "${spec%%:*}" --events "${spec##*:}" --seed "$seed" \
      --workers 2 --events-per-file 500 --out "$OUT/$name-seed$seed/${spec%%:*}"
  done
}
gen train 1 tau:3000 qcd:2000 electron:1500 qcd_em:1500 photon:1500 quark:1500 gluon:1500 top:1000

# one fileset per task: the task's signal and background processes
python - "$OUT/train-seed1" <<'PY'
import json, sys, pathlib
root = pathlib.Path(sys.argv[1])
tasks = {"tau": ("tau", "qcd"), "electron": ("electron", "qcd_em"), "eg": ("photon", "electron"),
         "qg": ("quark", "gluon"), "top": ("top", "qcd")}
for task, procs in tasks.items():
    fs = {}
    for p in procs:
        fs.update(json.loads((root / p / "fileset.json").read_text()))
    (root / f"fileset.{task}.json").write_text(json.dumps(fs, indent=2))
PY

for task in tau electron eg qg top; do
  [ -f "$OUT/models/${task}_simplenet.onnx" ] && continue  # already trained
  e2e-coffea train --task "$task" --model simplenet --fileset "$OUT/train-seed1/fileset.$task.json" \
    --epochs 4 --patience 2 --max-objects 1000 --batch-size 32 --seed 1 --out "$OUT/models"
done
for task in tau electron eg qg top; do
  [ -f "$OUT/models/${task}_resnet15.onnx" ] && continue  # already trained
  e2e-coffea train --task "$task" --model resnet15 --fileset "$OUT/train-seed1/fileset.$task.json" \
    --epochs 2 --patience 2 --max-objects 400 --batch-size 32 --seed 1 --out "$OUT/models"
done
cp "$OUT"/models/*.onnx "$DEST"/
ls -la "$DEST"
