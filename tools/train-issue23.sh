#!/usr/bin/env bash
# Issue 23's taggers: boosted top on R = 0.8 FatJets, the FatJet mass regression trained
# flat in m_gen, and b tagging by hadron flavour. Generation (seed 1 training, seed 2
# held out, both at pile-up <mu> = 35), training, held-out evaluation, and the copy of the
# shipped files into e2e_coffea/data/taggers/. Nothing here was run at full size when it
# was written: a later session runs it (the development machine has 2 CPU cores).
#
#   top_simplenet, top_resnet15   task top: fully merged top vs qcd_boosted, FatJet pT > 400
#   jet_mass_simplenet            task jet_mass: GenJetAK8 mass, --reweight flat-target
#   btag_simplenet                task btag: b vs light R = 0.4 jets, preset btag (images)
#   btag_particlegnn              task btag: the same jets as point clouds
#
# Knobs (environment): OUT, DEST, DEVICE=cpu|cuda, PRECISION=bf16 (CPU) | auto (CUDA),
#   JOBS=2, THREADS=1, PILEUP=35, GEN_WORKERS=2, SCALE=1 (multiplies every sample),
#   TOP_EVENTS=20000 QCDB_EVENTS=20000 QCD_EVENTS=30000 (seed-1 events per process;
#   the held-out seed-2 samples are HELDOUT_FRACTION=0.5 of them),
#   SIMPLENET_MAX=8000 SIMPLENET_EPOCHS=6 RESNET_MAX=3000 RESNET_EPOCHS=4
#   MASS_MAX=10000 MASS_EPOCHS=8 BTAG_MAX=10000 BTAG_EPOCHS=6 POINT_MAX=6000 POINT_EPOCHS=5
#   SHIP=1 (0: train and evaluate, copy nothing), EVALUATE=1.
# A smoke run of the whole path (minutes, numbers meaningless):
#   SCALE=0.01 SIMPLENET_MAX=200 RESNET_MAX=100 MASS_MAX=200 BTAG_MAX=200 POINT_MAX=200 \
#   SIMPLENET_EPOCHS=1 RESNET_EPOCHS=1 MASS_EPOCHS=1 BTAG_EPOCHS=1 POINT_EPOCHS=1 \
#   PILEUP=0 SHIP=0 OUT=build/issue23-smoke tools/train-issue23.sh
set -euo pipefail
OUT=${OUT:-build/issue23}
DEST=${DEST:-e2e_coffea/data/taggers}
DEVICE=${DEVICE:-cpu}
PRECISION=${PRECISION:-bf16}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
PILEUP=${PILEUP:-35}
GEN_WORKERS=${GEN_WORKERS:-2}
SCALE=${SCALE:-1}
TOP_EVENTS=${TOP_EVENTS:-20000}
QCDB_EVENTS=${QCDB_EVENTS:-20000}
QCD_EVENTS=${QCD_EVENTS:-30000}
HELDOUT_FRACTION=${HELDOUT_FRACTION:-0.5}
SIMPLENET_MAX=${SIMPLENET_MAX-8000}
SIMPLENET_EPOCHS=${SIMPLENET_EPOCHS:-6}
RESNET_MAX=${RESNET_MAX-3000}
RESNET_EPOCHS=${RESNET_EPOCHS:-4}
MASS_MAX=${MASS_MAX-10000}
MASS_EPOCHS=${MASS_EPOCHS:-8}
BTAG_MAX=${BTAG_MAX-10000}
BTAG_EPOCHS=${BTAG_EPOCHS:-6}
POINT_MAX=${POINT_MAX-6000}
POINT_EPOCHS=${POINT_EPOCHS:-5}
SHIP=${SHIP:-1}
EVALUATE=${EVALUATE:-1}
mkdir -p "$OUT/logs" "$OUT/models"

events() {  # events N FRACTION: N * SCALE * FRACTION, at least 2
  python -c "print(max(2, round($1 * $SCALE * $2)))"
}
gen() {  # gen SEED FRACTION PROCESS:EVENTS ...
  local seed=$1 frac=$2; shift 2
  for spec in "$@"; do
    local proc=${spec%%:*} n
    n=$(events "${spec##*:}" "$frac")
    [ -f "$OUT/seed$seed/$proc/fileset.json" ] && continue  # already generated
    e2e-coffea generate --process "$proc" --events "$n" --seed "$seed" --pileup "$PILEUP" \
      --nproc "$GEN_WORKERS" --events-per-file 1000 --out "$OUT/seed$seed/$proc"
  done
  python tools/task-filesets.py "$OUT/seed$seed" 2> /dev/null || true
}
# FatJets above 400 GeV: ~1 per ttbar event (about half fully merged), ~1.3 per qcd_boosted
# event; R = 0.4 b jets: ~1.5 per ttbar event in |eta| < 2.4, a few % of QCD jets
gen 1 1 "top:$TOP_EVENTS" "qcd_boosted:$QCDB_EVENTS" "qcd:$QCD_EVENTS"
gen 2 "$HELDOUT_FRACTION" "top:$TOP_EVENTS" "qcd_boosted:$QCDB_EVENTS" "qcd:$QCD_EVENTS"

train() {  # train NAME TASK MODEL EPOCHS MAX_OBJECTS REWEIGHT [extra train options]
  local name=$1 task=$2 model=$3 epochs=$4 cap=$5 reweight=$6; shift 6
  [ -f "$OUT/models/$name.onnx" ] && return 0  # already trained
  OMP_NUM_THREADS=$THREADS e2e-coffea train --task "$task" --model "$model" --name "$name" \
    --fileset "$OUT/seed1/fileset.$task.json" --epochs "$epochs" --patience "$epochs" \
    ${cap:+--max-objects "$cap"} --batch-size 32 --lr-schedule cosine --seed 1 \
    --reweight "$reweight" --device "$DEVICE" --precision "$PRECISION" --loader-workers 0 \
    --out "$OUT/models" "$@" > "$OUT/logs/$name.log" 2>&1 \
    || { echo "training $name failed: see $OUT/logs/$name.log" >&2; return 1; }
}
pool() {  # pool COMMAND...: in the background, at most JOBS at once
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  "$@" &
}
pool train top_simplenet top simplenet "$SIMPLENET_EPOCHS" "$SIMPLENET_MAX" pt
pool train top_resnet15 top resnet15 "$RESNET_EPOCHS" "$RESNET_MAX" pt
pool train jet_mass_simplenet jet_mass simplenet "$MASS_EPOCHS" "$MASS_MAX" flat-target
pool train btag_simplenet btag simplenet "$BTAG_EPOCHS" "$BTAG_MAX" pt
pool train btag_particlegnn btag particle_gnn "$POINT_EPOCHS" "$POINT_MAX" pt
wait
NAMES="top_simplenet top_resnet15 jet_mass_simplenet btag_simplenet btag_particlegnn"
for name in $NAMES; do
  [ -f "$OUT/models/$name.onnx" ] || { echo "no $OUT/models/$name.onnx: see $OUT/logs/$name.log" >&2; exit 1; }
done

if [ "$EVALUATE" = 1 ]; then  # held-out figures, seed 2: the issue's floors
  python tools/evaluate-issue23.py --models "$OUT/models" --train "$OUT/seed1" \
    --heldout "$OUT/seed2" --out "$OUT/heldout.json" | tee "$OUT/logs/heldout.txt"
fi
if [ "$SHIP" = 1 ]; then
  for name in $NAMES; do cp "$OUT/models/$name.onnx" "$OUT/models/$name.pt" "$DEST"/; done
  du -ch "$DEST"/*.onnx "$DEST"/*.pt | tail -1
fi
