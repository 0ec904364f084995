#!/usr/bin/env bash
# Held-out figures of the shipped taggers on independent samples (seed 2; training used
# seed 1), through the full main job (`e2e-coffea run`: each tagger in its contract's
# validity range). Objects are counted unweighted (--unweighted), as the published E2E
# AUCs the floors follow are: a tagger's separation on its samples; a cross-section
# weighted QCD mixture adds the pT spectra's difference (see the README). Prints the table (commit it under benchmarks/results/) and, with
# RECORD=1, writes each figure into its model's contract (metrics["heldout_*"]), which
# tests/inference/test_shipped_taggers.py checks against the floors.
#
# Knobs: OUT=build/shipped  DEST=e2e_coffea/data/taggers  SCALE=1 (events)  WORKERS=2
#        RECORD=0  EXTRA="tau:build/shipped/models/tau_simplenet_scalars.onnx"
#        (TASK:PATH ... further models to evaluate with a task's sample, not recorded)
set -euo pipefail
OUT=${OUT:-build/shipped}
DEST=${DEST:-e2e_coffea/data/taggers}
SCALE=${SCALE:-1}
WORKERS=${WORKERS:-2}
RECORD=${RECORD:-0}
EXTRA=${EXTRA-tau:$OUT/models/tau_simplenet_scalars.onnx}
mkdir -p "$OUT/eval"

for spec in tau:12000 qcd:10000 top:3000 quark:6000 gluon:6000 electron:6000 photon:10000 \
    qcd_em:4000; do
  proc=${spec%%:*} events=$(( ${spec##*:} * SCALE ))
  [ -f "$OUT/test-seed2/$proc/fileset.json" ] && continue
  e2e-coffea generate --process "$proc" --events "$events" --seed 2 --nproc "$WORKERS" \
    --events-per-file 1000 --out "$OUT/test-seed2/$proc"
done
python tools/task-filesets.py "$OUT/test-seed2"

declare -A TAGGERS=(
  [tau]="tau_simplenet tau_resnet15 tau_particlegnn tau_pointtransformer"
  [electron]="electron_simplenet electron_resnet15"
  [eg]="eg_simplenet eg_resnet15"
  [qg]="qg_simplenet qg_resnet15"
  [top]="top_simplenet top_resnet15"
  [tau3]="tau3_simplenet"
  [jet_mass]="jet_mass_simplenet"
)
for item in $EXTRA; do
  [ -f "${item#*:}" ] && TAGGERS[${item%%:*}]+=" ${item#*:}"
done
for task in tau electron eg qg top tau3 jet_mass; do
  args=()
  for t in ${TAGGERS[$task]}; do args+=(--tagger "$t"); done
  [ -f "$OUT/eval/$task/summary.json" ] && continue
  e2e-coffea run --fileset "$OUT/test-seed2/fileset.$task.json" "${args[@]}" --unweighted \
    --executor futures --workers "$WORKERS" --chunksize 1000 --out "$OUT/eval/$task"
done
python tools/heldout-table.py "$OUT/eval" --sample "$OUT/test-seed2 (seed 2, unweighted)" \
  --command "tools/evaluate-shipped-taggers.sh (SCALE=$SCALE)" \
  $( [ "$RECORD" = 1 ] && echo --record "$DEST" )
