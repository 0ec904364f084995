#!/usr/bin/env bash
# Build the virtual environment that runs tools/triton_serve.py: a real Triton Inference
# Server (tritonserver 2.51, bundled in the nvidia-pytriton wheel, CPU only) serving ONNX
# files through onnxruntime. The tests in tests/inference and benchmarks/triton.py use it.
#
#   tools/make-triton-venv.sh DIR
#
# Idempotent: a DIR already built with the same pins is left alone (a marker file holds
# them). Made with Debian's /usr/bin/python3 (3.11.2): nvidia-pytriton pins numpy<2, so it
# cannot share the project's environment, and under the pyenv python3 (3.11.7) the
# Python-backend stub it ships fails ("'_thread.RLock' object has no attribute
# '_recursion_count'"). Override the interpreter with E2E_TRITON_PYTHON.
set -euo pipefail

dir=${1:?usage: tools/make-triton-venv.sh DIR}
python=${E2E_TRITON_PYTHON:-/usr/bin/python3}
# onnxruntime 1.32 runs on numpy 1.26 (checked by the import below)
# awkward, uproot, numba: the sparse-wire server builds frames with e2e_coffea.frames itself
pins=(nvidia-pytriton==0.7.0 onnxruntime==1.32.0 "numpy==1.26.4" awkward==2.14.0 uproot==5.7.7 numba==0.61.2)
marker="$dir/.e2e-triton-venv"

if [[ -f "$marker" && "$(cat "$marker")" == "${pins[*]}" && -x "$dir/bin/python" ]]; then
  echo "make-triton-venv: $dir is ready"
  exit 0
fi
if [[ ! -x "$python" ]]; then
  echo "make-triton-venv: $python not found (Debian's python3; set E2E_TRITON_PYTHON)" >&2
  exit 1
fi
rm -rf "$dir"
if ! "$python" -m venv "$dir" 2>/dev/null; then
  # Debian splits venv out of python3; as root (CI, dev machines) install it once
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
    rm -rf "$dir"
    "$python" -m venv "$dir"
  else
    echo "make-triton-venv: $python -m venv failed; install Debian's python3-venv" >&2
    exit 1
  fi
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
"$dir/bin/python" -m pip install -q "${pins[@]}"
"$dir/bin/python" - <<'EOF'
import awkward, numba, numpy, onnxruntime, pytriton.triton  # noqa: F401  fails loudly on a broken install
from pathlib import Path
server = Path(pytriton.__file__).parent / "tritonserver" / "bin" / "tritonserver"
assert server.is_file(), f"nvidia-pytriton ships no tritonserver at {server}"
print(f"make-triton-venv: numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__}, {server}")
EOF
echo "${pins[*]}" >"$marker"
echo "make-triton-venv: $dir is ready"
