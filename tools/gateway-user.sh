#!/usr/bin/env bash
# What dask-gateway-server's SlurmBackend needs besides SLURM (tools/slurm-up.sh): `sudo`
# and a non-root user whose batch jobs run the Dask scheduler and workers, with a Python
# that user can execute. The gateway runs as root and submits each job as that user
# (`sudo -nHu USER dask-gateway-jobqueue-launcher`); SLURM runs it as that user too.
# Needs root; idempotent. Used by tests/facility/conftest.py and .ci/run.
#
#   sudo tools/gateway-user.sh up [PYTHON]     # PYTHON: default the python3 on PATH
#   sudo tools/gateway-user.sh down            # undo the permission changes `up` made
#
# USER is $E2E_GATEWAY_USER (default e2egw). PYTHON must import dask_gateway, distributed
# and e2e_coffea as USER (with the caller's PYTHONPATH). When it cannot because a folder
# above it is closed to others (a venv under /root, say), `up` opens that folder for
# traversal only (chmod o+x: nothing can be listed) and records it in $STATE, which
# `down` reads to close it again. Prints `user=USER` and `python=PATH` on success.
set -euo pipefail

action=${1:-up}
user=${E2E_GATEWAY_USER:-e2egw}
state=${E2E_GATEWAY_STATE:-/var/tmp/e2e-gateway-user.$user.opened}
say() { echo "gateway-user: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (a user, sudo, folder permissions): sudo $0 $*"
  exit 2
fi

if [ "$action" = down ]; then
  if [ -f "$state" ]; then
    while IFS= read -r folder; do
      [ -d "$folder" ] && chmod o-x "$folder"
    done <"$state"
    rm -f "$state"
  fi
  exit 0
fi
if [ "$action" != up ]; then
  say "usage: $0 [up [PYTHON] | down]"
  exit 2
fi
python=${2:-$(command -v python3)}
if [ ! -x "$python" ]; then
  say "no Python at '$python'"
  exit 2
fi

if ! command -v sudo >/dev/null; then
  say "installing sudo (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sudo >/dev/null
fi
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
  say "created user $user"
fi

probe() {  # can USER run PYTHON and import what the jobs need?
  runuser -u "$user" -- "$python" -c "import dask_gateway, distributed, e2e_coffea" 2>&1
}

if ! why=$(probe); then
  # every folder the interpreter needs: the venv, the base installation, the real
  # executable, and each PYTHONPATH entry; open those closed to others for traversal
  mapfile -t needed < <("$python" - <<'EOF'
import os, sys
paths = {sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)}
paths.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
for p in sorted(paths):
    p = os.path.realpath(p)
    while p != "/":
        p = os.path.dirname(p)
        print(p)
EOF
  )
  for folder in $(printf '%s\n' "${needed[@]}" | sort -u); do
    if [ "$(($(stat -c '%#a' "$folder") & 1))" = 0 ]; then
      chmod o+x "$folder"
      echo "$folder" >>"$state"
      say "opened $folder for traversal by others (chmod o+x; '$0 down' closes it)"
    fi
  done
  if ! why=$(probe); then
    say "user $user cannot run $python: ${why//$'\n'/ }"
    exit 1
  fi
fi
echo "user=$user"
echo "python=$python"
