#!/usr/bin/env bash
# Held-out figures at pile-up <mu> = 35 (issue 20): an independent sample (seed 202; the
# mu = 35 training samples used seed 101) of tau, QCD (one dataset per pT-hat bin, each
# at its cross-section) and W+jets, through the full main job with the physical headline
# (background at its cross-section, signal matched to its pT; not --unweighted), then the
# same headline through `Tagger` alone (tools/tagger-headline.py, sklearn, no shared code).
# Prints the held-out table; with RECORD=1 writes the figures into the contracts of the
# taggers trained at mu = 35 (metrics["heldout_*"]), which
# tests/inference/test_shipped_taggers.py checks against issue 20's floors.
#
# Knobs: OUT=build/pileup  DEST=e2e_coffea/data/taggers  EVENTS=1500  NPROC=2  RECORD=0
#        TAGGERS="tau_simplenet_pu35 tau_simplenet tau_resnet15 tau_particlegnn"
#        TRAINED_AT_PU="tau_simplenet_pu35"
#        (the taggers whose contracts get the figures; the mu = 0 ones keep their seed-2 ones)
set -euo pipefail
OUT=${OUT:-build/pileup}
DEST=${DEST:-e2e_coffea/data/taggers}
EVENTS=${EVENTS:-1500}
NPROC=${NPROC:-2}
RECORD=${RECORD:-0}
TAGGERS=${TAGGERS:-tau_simplenet_pu35 tau_simplenet tau_resnet15 tau_particlegnn}
TRAINED_AT_PU=${TRAINED_AT_PU:-tau_simplenet_pu35}
SAMPLE="$OUT/pu35_heldout"

if [ ! -f "$SAMPLE/fileset.sparse.json" ]; then
  e2e-coffea generate --process tau --process qcd --process wjets --events "$EVENTS" \
    --seed 202 --pileup 35 --nproc "$NPROC" --pthat-datasets --out "$SAMPLE"
fi
args=()
for t in $TAGGERS; do args+=(--tagger "$t"); done
mkdir -p "$OUT/eval"
[ -f "$OUT/eval/tau/summary.json" ] || e2e-coffea run --fileset "$SAMPLE/fileset.sparse.json" \
  "${args[@]}" --device cpu --out "$OUT/eval/tau"
for t in $TAGGERS; do
  python tools/tagger-headline.py "$SAMPLE/fileset.sparse.json" "$t" --signal tau \
    --out "$OUT/eval/tau/tagger_headline.$(basename "$t" .onnx).json" > /dev/null
done
python tools/heldout-table.py "$OUT/eval" \
  --sample "$SAMPLE (seed 202, <mu> = 35, physical headline)" \
  --command "tools/evaluate-pileup-taggers.sh (EVENTS=$EVENTS)" \
  $( [ "$RECORD" = 1 ] && echo --record "$DEST" $(printf -- "--only %s " $TRAINED_AT_PU) )
