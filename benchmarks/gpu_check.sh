#!/usr/bin/env bash
# The one command to run first on any GPU machine: install the GPU stack, run the CUDA
# tests, measure the GPU goals, write everything to benchmarks/results/<date>-<gpu>/.
#
#   benchmarks/gpu_check.sh            # install (GPU only) + tests + bench + report.md
#   benchmarks/gpu_check.sh tests      # doctor --device cuda and the device tests' CUDA runs
#   benchmarks/gpu_check.sh bench      # frames.py, run.py and study.py GPU figures
#   benchmarks/gpu_check.sh prepare    # (a machine with network) wheels for an offline GPU box
#
# Without a GPU it runs green and reports every GPU item as skipped, with the reason.
# Sized to finish in under 10 minutes on one GPU (each step has its own time limit).
#
# Installing. A venv (GPU_VENV, default /tmp/e2e-gpu-venv) on top of the system Python
# (--system-site-packages, so an image's CUDA torch is reused) gets, in this order:
#   1. CUDA torch: kept if the system one sees the GPU, else pip (TORCH_INDEX);
#   2. onnxruntime-gpu: unpacked from the parts of ../shared/tools/ort-gpu-parts when
#      ORT_PARTS (default /tmp/ortparts) or .ortgpu/ holds them, else pip;
#   3. the project's dependencies and dask-cuda: from .gpuwheels/ (made by `prepare`)
#      with --no-deps, else pip (dask-cuda --no-deps: its rapids-dask-dependency pins dask).
# e2e_coffea itself is used from this checkout (PYTHONPATH), never installed.
#
# Offline GPU machines that take at most 64 MiB per transfer (prepare prints the steps):
#   here:  benchmarks/gpu_check.sh prepare          # .gpuwheels/ (~35 MB) and .ortgpu/part-NN
#   there: one transfer per part: mkdir -p /tmp/ortparts && cp .ortgpu/part-NN /tmp/ortparts/
#   there: the last transfer carries .gpuwheels and runs benchmarks/gpu_check.sh
set -uo pipefail

MODE="${1:-all}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
GPU_VENV="${GPU_VENV:-/tmp/e2e-gpu-venv}"
ORT_PARTS="${ORT_PARTS:-/tmp/ortparts}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cu128}"
FRAMES_EVENTS="${FRAMES_EVENTS:-1000}"
RUN_EVENTS="${RUN_EVENTS:-8000}"
STUDY_EVENTS="${STUDY_EVENTS:-500}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
FAILED=()

say() { printf '\n== %s\n' "$*"; }
step() {  # step NAME LIMIT_S CMD...: run, log to $OUT/NAME.txt, remember a failure
  local name="$1" limit="$2"
  shift 2
  say "$name (limit ${limit}s)"
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { FAILED+=("$name (exit $rc)"); echo "!! $name failed with exit $rc"; }
}
e2e() { "$VPY" -c 'import sys; from e2e_coffea.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
has_gpu() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
has_ort_cuda() {
  "$1" -c 'import sys, torch, onnxruntime as o
sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)' 2>/dev/null
}

# -- prepare (a machine with network) -------------------------------------------------------
if [ "$MODE" = prepare ]; then
  PYVER="${GPU_PYTHON_VERSION:-3.12}"
  # Distributions a CUDA PyTorch image already has (not downloaded): the scientific stack
  # and the CUDA libraries. Anything missing there shows up in the install's import check.
  IMAGE_HAS="${GPU_IMAGE_HAS:-aiohappyeyeballs aiohttp aiosignal attrs certifi charset_normalizer \
click cloudpickle contourpy cycler fonttools frozenlist fsspec idna jinja2 kiwisolver llvmlite \
markdown_it_py markupsafe matplotlib mdurl msgpack multidict numba numpy packaging pandas pillow \
propcache psutil pyarrow pygments pyparsing python_dateutil pyyaml requests rich scipy six \
sortedcontainers toolz tqdm typing_extensions urllib3 xxhash yarl zipp}"
  pins=$("$PY" - <<'EOF'
from importlib.metadata import version
names = ["coffea", "awkward", "uproot", "hist", "dask", "distributed", "mplhep", "lz4", "loky",
         "vector", "pyyaml", "click", "tqdm"]
print(" ".join(f"{n}=={version(n)}" for n in names))
EOF
)
  plat=(--only-binary=:all: --python-version "$PYVER" --implementation cp)
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 \
           manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
    plat+=(--platform "$p")
  done
  rm -rf .gpuwheels && mkdir -p .gpuwheels
  grep -qx '/.gpuwheels/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null \
    || echo '/.gpuwheels/' >> "$(git rev-parse --git-path info/exclude)"
  say "downloading wheels for CPython $PYVER: $pins dask-cuda zict"
  # shellcheck disable=SC2086
  "$PY" -m pip download -q "${plat[@]}" -d .gpuwheels $pins || exit 1
  "$PY" -m pip download -q --no-deps "${plat[@]}" -d .gpuwheels dask-cuda zict || exit 1
  for whl in .gpuwheels/*.whl; do
    name=$(basename "$whl" | sed 's/-[0-9].*//' | tr 'A-Z-' 'a-z_')
    case " $IMAGE_HAS " in *" $name "*) rm "$whl" ;; esac
  done
  du -sh .gpuwheels
  if [ -f .git ]; then
    echo "This checkout is a git worktree: ../shared/tools/ort-gpu-parts needs a checkout whose"
    echo ".git is a folder (it edits .git/info/exclude). Run 'prepare' there for the parts."
    exit 1
  fi
  tool="$ROOT/../shared/tools/ort-gpu-parts"
  [ -x "$tool" ] || { echo "no $tool: fetch onnxruntime-gpu for Python $PYVER yourself"; exit 1; }
  "$tool" ${ORT_GPU_VERSION:-}
  exit $?
fi

# -- where the results go ---------------------------------------------------------------------
case "$MODE" in all|tests|bench) ;; *) echo "usage: $0 [all|tests|bench|prepare]"; exit 2 ;; esac
VPY="$PY"
if has_gpu "$PY"; then
  GPU_NAME=$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')
else
  GPU_NAME="no-gpu"
fi
SLUG=$(echo "$GPU_NAME" | tr 'A-Z' 'a-z' | sed 's/nvidia //; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
OUT="${OUT_DIR:-$ROOT/benchmarks/results/$(date -u +%F)-$SLUG}"
mkdir -p "$OUT"
echo "results: $OUT"

# -- install (GPU machines only) --------------------------------------------------------------
install_gpu_stack() {
  say "install into $GPU_VENV"
  if [ ! -x "$GPU_VENV/bin/python" ]; then
    "$PY" -m venv --system-site-packages "$GPU_VENV" \
      || "$PY" -m venv --system-site-packages --without-pip "$GPU_VENV" || return 1
  fi
  VPY="$GPU_VENV/bin/python"
  local pip=("$VPY" -m pip)
  "$VPY" -m pip --version >/dev/null 2>&1 || pip=("$PY" -m pip --python "$VPY")
  local site parent
  site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # A venv's --system-site-packages is its *base* Python's: when PY is itself a venv (an
  # image's torch venv), chain to PY's site-packages too, after ours (ours win).
  parent=$("$PY" -c 'import sys, sysconfig
print(sysconfig.get_paths()["purelib"] if sys.prefix != sys.base_prefix else "")')
  [ -n "$parent" ] && echo "import site; site.addsitedir('$parent')" > "$site/e2e-parent-site.pth"
  if has_gpu "$VPY"; then
    echo "torch: $("$VPY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  else
    "${pip[@]}" install -q torch --index-url "$TORCH_INDEX" || return 1
  fi
  local parts=()
  for d in "$ORT_PARTS" "$ROOT/.ortgpu"; do
    compgen -G "$d/part-*" >/dev/null && { parts=("$d"/part-*); break; }
  done
  if [ ${#parts[@]} -gt 0 ]; then
    echo "onnxruntime-gpu: unpacking ${#parts[@]} part(s) from $(dirname "${parts[0]}")"
    cat "${parts[@]}" | xz -d -T0 | tar x -C "$site" || return 1
  elif ! has_ort_cuda "$VPY"; then
    "${pip[@]}" install -q onnxruntime-gpu || return 1
  fi
  if compgen -G "$ROOT/.gpuwheels/*.whl" >/dev/null; then
    echo "dependencies: $(ls "$ROOT"/.gpuwheels/*.whl | wc -l) wheels from .gpuwheels/"
    "${pip[@]}" install -q --no-index --no-deps --no-compile "$ROOT"/.gpuwheels/*.whl || return 1
  else
    local cu
    cu=$("$VPY" -c 'import torch; print((torch.version.cuda or "12").split(".")[0])')
    "${pip[@]}" install -q -e "$ROOT" pytest hypothesis zict nvidia-ml-py "cuda-core[cu$cu]" \
      || return 1
    "${pip[@]}" install -q --no-deps dask-cuda || return 1
    "${pip[@]}" uninstall -q -y e2e-coffea  # this checkout, through PYTHONPATH
  fi
  "$VPY" - <<'EOF' || return 1
import torch, onnxruntime as ort
import coffea.processor, dask_cuda, e2e_coffea.runner  # noqa: F401
print("onnxruntime", ort.__version__, ort.__file__, ort.get_available_providers())
EOF
}

if [ "$GPU_NAME" != no-gpu ]; then
  if [ -f "$GPU_VENV/.e2e-gpu-stack" ]; then
    echo "GPU stack already installed in $GPU_VENV"
  else
    install_gpu_stack 2>&1 | tee "$OUT/install.txt"
    if [ "${PIPESTATUS[0]}" -eq 0 ]; then
      touch "$GPU_VENV/.e2e-gpu-stack"
    else
      FAILED+=("install")
      echo "!! install failed"
    fi
  fi
  [ -x "$GPU_VENV/bin/python" ] && VPY="$GPU_VENV/bin/python"
else
  echo "no GPU: torch sees no CUDA device; every GPU item below is skipped (scripts run tiny)"
  FRAMES_EVENTS=20 RUN_EVENTS=40
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi: not available" > "$OUT/nvidia-smi.txt"

# -- tests ------------------------------------------------------------------------------------
if [ "$MODE" = all ] || [ "$MODE" = tests ]; then
  say "doctor"
  e2e doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.txt"
  rc=$?
  e2e doctor >> "$OUT/doctor.txt" 2>&1
  cat "$OUT/doctor.txt"
  [ "$rc" -eq 0 ] || FAILED+=("doctor (exit $rc)")
  if [ "$GPU_NAME" != no-gpu ]; then
    step doctor-cuda 300 e2e doctor --device cuda
  else
    echo "doctor --device cuda: skipped (no GPU)" | tee "$OUT/doctor-cuda.txt"
  fi
  # The device tests (marker gpu) live beside the code they test; collect only their files
  # (the GPU environment need not hold every test dependency) and run their CUDA cases.
  mapfile -t device_tests < <(grep -rl --include='test_*.py' 'pytest.mark.gpu' tests | sort)
  step tests 420 "$VPY" -m pytest -m "gpu and cuda" "${device_tests[@]}" -p no:cacheprovider \
    -ra -q --junitxml="$OUT/tests.xml"
fi

# -- bench ------------------------------------------------------------------------------------
if [ "$MODE" = all ] || [ "$MODE" = bench ]; then
  step frames 150 "$VPY" benchmarks/frames.py --gpu-only --events "$FRAMES_EVENTS" --repeat 3 \
    --json "$OUT/frames.json"
  step run 300 "$VPY" benchmarks/run.py --gpu-only --synthetic --events "$RUN_EVENTS" \
    --models resnet15 --chunksize 500 --repeat 2 --gpu-threads 1 2 4 --json "$OUT/run.json"
  if [ "$GPU_NAME" != no-gpu ]; then
    step study 300 "$VPY" benchmarks/study.py --synthetic --taggers tau \
      --models resnet15,simplenet --workers 1 --events "$STUDY_EVENTS" --reps 2 \
      --train-steps 2 --budget 2 --folder "$OUT"
  else
    echo "study: skipped (no GPU: its GPU rows would all be n/a)" | tee "$OUT/study.txt"
  fi
fi

say "report"
"$VPY" benchmarks/gpu_report.py "$OUT" || FAILED+=("report")
if [ ${#FAILED[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${FAILED[*]}"
  exit 1
fi
echo "gpu_check: all steps ran ($OUT)"
