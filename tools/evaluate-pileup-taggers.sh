#!/usr/bin/env bash
# Held-out figures at pile-up <mu> = 35 (issue 20): an independent sample (seed 202; the
# mu = 35 training samples used seeds 101-104) through the full main job with the physical
# headline (background at its cross-section, signal matched to its pT; not --unweighted),
# then the same headline through `Tagger` alone (tools/tagger-headline.py, sklearn, no
# shared code). Prints the held-out table; with RECORD=1 writes the figures into the
# contracts of the taggers trained at mu = 35 (metrics["heldout_*"]), which
# tests/inference/test_shipped_taggers.py checks against issue 20's floors.
#
#   TASK=tau: tau vs QCD (one dataset per pT-hat bin, each at its cross-section) + W+jets
#   TASK=electron: electron vs EM-enriched QCD
#   TASK=eg: photon vs electron (32x32 EB crops)
#   TASK=qg: quark vs gluon jets (70-340 GeV)
#   TASK=tau3: tau / electron / QCD + W+jets, pairwise (the tau and electron samples merged)
#
# Knobs: TASK=tau  OUT=build/pileup  DEST=e2e_coffea/data/taggers  EVENTS=1500  NPROC=2
#        RECORD=0  TAGGERS="..." (default: the task's mu = 35 and mu = 0 taggers)
#        TRAINED_AT_PU="..." (the taggers whose contracts get the figures; the mu = 0 ones
#        keep their seed-2 ones)
set -euo pipefail
OUT=${OUT:-build/pileup}
DEST=${DEST:-e2e_coffea/data/taggers}
EVENTS=${EVENTS:-1500}
NPROC=${NPROC:-2}
RECORD=${RECORD:-0}
TASK=${TASK:-tau}
tau_procs=(--process tau --process qcd --process wjets --pthat-datasets)
electron_procs=(--process electron --process qcd_em)
heldout() {  # heldout DIR PROCS...: the seed-202 sample in DIR, generated once
  local dir=$1; shift
  [ -f "$dir/fileset.sparse.json" ] || e2e-coffea generate "$@" --events "$EVENTS" --seed 202 \
    --pileup 35 --nproc "$NPROC" --out "$dir"
}
case "$TASK" in
  tau)
    procs=("${tau_procs[@]}")
    default_taggers="tau_simplenet_pu35 tau_simplenet tau_resnet15 tau_particlegnn"
    SAMPLE="$OUT/pu35_heldout" ;;
  electron)
    procs=("${electron_procs[@]}")
    default_taggers="electron_simplenet_pu35 electron_simplenet electron_resnet15"
    SAMPLE="$OUT/pu35_heldout_electron" ;;
  eg)
    procs=(--process electron --process photon)
    default_taggers="eg_simplenet_pu35 eg_simplenet eg_resnet15"
    SAMPLE="$OUT/pu35_heldout_eg" ;;
  qg)
    procs=(--process quark --process gluon)
    default_taggers="qg_simplenet_pu35 qg_simplenet qg_resnet15"
    SAMPLE="$OUT/pu35_heldout_qg" ;;
  tau3)
    default_taggers="tau3_simplenet_pu35 tau3_simplenet"
    SAMPLE="$OUT/pu35_heldout_tau3" ;;
  *) echo "evaluate-pileup-taggers: TASK must be tau, electron, eg, qg or tau3, got $TASK" >&2; exit 2 ;;
esac
TAGGERS=${TAGGERS:-$default_taggers}
case "$TASK" in eg) SIGNAL=photon ;; qg) SIGNAL=quark ;; tau3) SIGNAL=tau ;; *) SIGNAL=$TASK ;; esac
TRAINED_AT_PU=${TRAINED_AT_PU:-${TASK}_simplenet_pu35}

if [ "$TASK" = tau3 ] && [ ! -f "$SAMPLE/fileset.sparse.json" ]; then
  # the same seed-202 events as TASK=tau and TASK=electron: one fileset over both samples
  heldout "$OUT/pu35_heldout" "${tau_procs[@]}"
  heldout "$OUT/pu35_heldout_electron" "${electron_procs[@]}"
  mkdir -p "$SAMPLE"
  python - "$OUT" "$SAMPLE/fileset.sparse.json" <<'PY'
import json, sys
out, dest = sys.argv[1], sys.argv[2]
merged = json.load(open(f"{out}/pu35_heldout/fileset.sparse.json"))
merged["electron"] = json.load(open(f"{out}/pu35_heldout_electron/fileset.sparse.json"))["electron"]
json.dump(merged, open(dest, "w"), indent=1)
PY
fi
[ "$TASK" = tau3 ] || heldout "$SAMPLE" "${procs[@]}"
args=()
for t in $TAGGERS; do args+=(--tagger "$t"); done
mkdir -p "$OUT/eval"
[ -f "$OUT/eval/$TASK/summary.json" ] || e2e-coffea run --fileset "$SAMPLE/fileset.sparse.json" \
  "${args[@]}" --device cpu --out "$OUT/eval/$TASK"
for t in $TAGGERS; do
  python tools/tagger-headline.py "$SAMPLE/fileset.sparse.json" "$t" --signal "$SIGNAL" \
    --out "$OUT/eval/$TASK/tagger_headline.$(basename "$t" .onnx).json" > /dev/null
done
python tools/heldout-table.py "$OUT/eval" \
  --sample "$SAMPLE (seed 202, <mu> = 35, physical headline)" \
  --command "tools/evaluate-pileup-taggers.sh (TASK=$TASK EVENTS=$EVENTS)" \
  $( [ "$RECORD" = 1 ] && echo --record "$DEST" $(printf -- "--only %s " $TRAINED_AT_PU) )
