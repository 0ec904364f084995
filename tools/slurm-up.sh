#!/usr/bin/env bash
# A single-node SLURM on this machine (munge, slurmctld, slurmd on 127.0.0.1, with the
# machine's own CPUs and memory): the quickest way to try the facility path on a laptop,
# and what the SLURM tests stand on. Needs root (the daemons); idempotent.
#
#   sudo tools/slurm-up.sh            # up; prints the line to export
#   export SLURM_CONF=/tmp/e2e-slurm/slurm.conf
#   e2e-coffea facility check facility/slurm.yaml
#   sudo tools/slurm-up.sh down       # stop what it started
#
# DIR (default /tmp/e2e-slurm, or $E2E_SLURM_DIR) holds slurm.conf, state, logs and pid
# files. The jobs' spool is $E2E_SLURM_SPOOL (default DIR/spool): every job user must be
# able to traverse it (slurmstepd runs the job script from there as that user), so keep it
# out of folders closed to others, such as pytest's. Ports: $E2E_SLURM_PORT (slurmctld,
# default 6817) and the next one (slurmd). $E2E_SLURM_CPUS declares the node's CPUs
# (default: this machine's), e.g. more than it has, to place more 1-core jobs than cores.
# Installs slurm-wlm and munge with apt-get only when they are missing.
set -euo pipefail

action=${1:-up}
dir=$(realpath -m "${2:-${E2E_SLURM_DIR:-/tmp/e2e-slurm}}")
port=${E2E_SLURM_PORT:-6817}
spool=$(realpath -m "${E2E_SLURM_SPOOL:-$dir/spool}")
node=e2e-node
partition=debug
conf=$dir/slurm.conf
say() { echo "slurm-up: $*" >&2; }

stop_pid() {  # stop_pid FILE: TERM the process the pid file names, wait up to 10 s
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

if [ "$action" = down ]; then
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  if [ -f "$dir/munged.started" ]; then  # only the munged this script started
    stop_pid /run/munge/munged.pid
    rm -f "$dir/munged.started"
  fi
  say "stopped (files stay in $dir)"
  exit 0
fi
if [ "$action" != up ]; then
  say "usage: $0 [up|down] [DIR]"
  exit 2
fi

if [ "$(id -u)" != 0 ]; then
  say "needs root to start munged, slurmctld and slurmd: sudo $0"
  exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
export SLURM_CONF=$conf

# Already up (this DIR's daemons answer, the node is usable): nothing to do.
if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null \
  && [ -f "$dir/slurmd.pid" ] && kill -0 "$(cat "$dir/slurmd.pid")" 2>/dev/null \
  && timeout 5 sinfo -h >/dev/null 2>&1; then
  echo "export SLURM_CONF=$conf"
  exit 0
fi

mkdir -p "$dir/state" "$spool" "$dir/log"
chmod 0755 "$spool"

# munge: the authentication every SLURM message carries.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    install -d -o munge -g munge -m 0700 /etc/munge
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
  fi
  runuser -u munge -- munged --force
  touch "$dir/munged.started"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

cpus=${E2E_SLURM_CPUS:-$(nproc)}
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
host=$(hostname -s)
cat >"$conf" <<EOF
# written by tools/slurm-up.sh: one node, this machine, on 127.0.0.1
ClusterName=e2e
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=1
KillWait=5
MinJobAge=30
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

stop_pid "$dir/slurmd.pid"  # a half-started earlier attempt
stop_pid "$dir/slurmctld.pid"
slurmctld -c -f "$conf"
slurmd -N "$node" -f "$conf"
for _ in $(seq 300); do
  state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
  case $state in
    idle | mixed | allocated) break ;;
  esac
  sleep 0.1
done
case $state in
  idle | mixed | allocated) ;;
  *)
    say "node $node did not come up (state '${state:-none}'); logs in $dir/log"
    exit 1
    ;;
esac
say "up: partition $partition, node $node with $cpus CPUs and ${mem_mb} MB"
echo "export SLURM_CONF=$conf"
