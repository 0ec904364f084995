#!/usr/bin/env bash
# Reproduce the shipped taggers in e2e_coffea/data/taggers/ (about 10 min on 2 idle CPU cores
# at the default SCALE=1). Training samples use seed 1; the independent test samples for the
# AUC table use seed 2.
#
# Knobs (environment):
#   SCALE=1            multiplies every sample's events (E2E papers train on 1e5-1e6 jets per class)
#   DEVICE=cpu         cpu or cuda;  PRECISION=auto (AMP on CUDA, fp32 on CPU; bf16 on CPU is opt-in)
#   NPROC=1            data-parallel processes on this machine (gloo on CPU, nccl on CUDA)
#   WORKERS=2          DataLoader worker processes per training process
#   REWEIGHT=pt        none | pt | pt-eta | flat  (signal reweighted to the background's pT)
#   SIMPLENET_MAX=1000 RESNET_MAX=400   objects per class (empty: every object)
#   GEN_WORKERS=2      parallel generator processes
set -euo pipefail
OUT=${OUT:-build/shipped}
DEST=${DEST:-e2e_coffea/data/taggers}
SCALE=${SCALE:-1}
DEVICE=${DEVICE:-cpu}
PRECISION=${PRECISION:-auto}
NPROC=${NPROC:-1}
WORKERS=${WORKERS:-2}
REWEIGHT=${REWEIGHT:-pt}
SIMPLENET_MAX=${SIMPLENET_MAX-1000}
RESNET_MAX=${RESNET_MAX-400}
GEN_WORKERS=${GEN_WORKERS:-2}
mkdir -p "$OUT" "$DEST"

gen() {  # gen NAME SEED PROCESS:EVENTS ...
  local name=$1 seed=$2; shift 2
  for spec in "$@"; do
    local proc=${spec%%:*} events=$(( ${spec##*:} * SCALE ))
    [ -f "$OUT/$name-seed$seed/$proc/fileset.json" ] && continue  # already generated
    e2e-coffea generate --process "$proc" --events "$events" --seed "$seed" \
      --workers "$GEN_WORKERS" --events-per-file 500 --out "$OUT/$name-seed$seed/$proc"
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

train() {  # train TASK MODEL EPOCHS MAX_OBJECTS
  local task=$1 model=$2 epochs=$3 cap=$4
  [ -f "$OUT/models/${task}_${model}.onnx" ] && return 0  # already trained
  e2e-coffea train --task "$task" --model "$model" --fileset "$OUT/train-seed1/fileset.$task.json" \
    --epochs "$epochs" --patience 2 ${cap:+--max-objects "$cap"} --batch-size $(( 32 * NPROC )) \
    --seed 1 --reweight "$REWEIGHT" --device "$DEVICE" --precision "$PRECISION" \
    --nproc "$NPROC" --workers "$WORKERS" --out "$OUT/models"
}
for task in tau electron eg qg top; do train "$task" simplenet 4 "$SIMPLENET_MAX"; done
for task in tau electron eg qg top; do train "$task" resnet15 2 "$RESNET_MAX"; done
cp "$OUT"/models/*.onnx "$DEST"/
ls -la "$DEST"
