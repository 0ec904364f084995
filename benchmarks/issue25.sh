#!/usr/bin/env bash
# Issue 25's goals, each a ratio against its baseline measured in the same run, in one go
# (about 12 minutes on an idle 2-core machine at SIZE=full). Outputs go to OUT:
#   run.txt/json        processor vs bare onnxruntime at its best batch and vs the old fixed
#                       batch, vs coffea's torch_wrapper (same model, same jets, same process
#                       and cores), facility units (benchmarks/run.py part 5), and 1 -> 2
#                       one-thread Dask workers (part 4; the client's CPU use is reported:
#                       on 2 cores it cannot sit off the workers' cores)
#   frames.txt/json     sparse frame building vs a preallocated copy (benchmarks/frames.py)
#   precision.txt/json  ResNet-15 int8 vs fp32 and the AUC drops the contracts record
#   goals.md            the goal table (benchmarks/issue25_table.py), also printed
#
# usage: benchmarks/issue25.sh OUT [full|tiny]     (tiny: a minute or two, checks the plumbing)
set -euo pipefail
out=${1:?usage: benchmarks/issue25.sh OUT [full|tiny]}
size=${2:-full}
here=$(cd "$(dirname "$0")" && pwd)
case "$size" in
  full) events=400; real="10000 1500"; dask="4000 1000"; dchunk=500; repeat=2; fevents=200; pevents=120; rounds=3 ;;
  tiny) events=40; real="300 200"; dask="300 100"; dchunk=100; repeat=1; fevents=10; pevents=12; rounds=1 ;;
  *) echo "issue25.sh: size must be full or tiny, got '$size'" >&2; exit 2 ;;
esac
mkdir -p "$out"
start=$(date +%s)
echo "issue 25 benchmarks, size $size, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at start" | tee "$out/README.txt"

# shellcheck disable=SC2086  # the size lists are word-split on purpose
python "$here/run.py" --events "$events" --models simplenet resnet15 --repeat "$repeat" \
  --skip 1 2 3 --realistic-events $real --dask-events $dask --dask-chunksize "$dchunk" \
  --torch-wrapper-realistic --results-json "$out/run.json" 2>&1 | tee "$out/run.txt"
python "$here/frames.py" --build-only --events "$fevents" --repeat 5 --json "$out/frames.json" \
  2>&1 | tee "$out/frames.txt"
python "$here/precision.py" --taggers '*_resnet15' --events "$pevents" --rounds "$rounds" \
  --out "$out/precision.txt" --json "$out/precision.json"
echo "total $(( $(date +%s) - start )) s" | tee -a "$out/README.txt"
python "$here/issue25_table.py" "$out"
