#!/usr/bin/env bash
# A one-node Slurm cluster on localhost for the gpu-slurm driver's tests,
# benchmark and `make dev`: installs slurm-wlm and munge when missing,
# writes slurm.conf and gres.conf under DIR (GPUs declared as gres, one
# File= per GPU, backed by plain files under DIR/gpus), starts munged,
# slurmctld and slurmd with everything (sockets, state, logs, PID files)
# under DIR, and waits until sinfo shows the node idle. `stop` stops what
# `start` started, by the PIDs it wrote, and nothing else.
#
#   scripts/slurm.sh start DIR [GPUS]   (default 2 GPUs)
#   scripts/slurm.sh stop DIR
#
# Slurm commands reach this cluster with SLURM_CONF=DIR/slurm.conf. Ports:
# SLURMCTLD_PORT and SLURMD_PORT (default 6817 and 6818). The daemons run
# as root (SlurmUser=root), as the tests do. Needs root.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR [GPUS]" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop_pid() { # stop_pid FILE: SIGTERM the PID in FILE, SIGKILL after 10s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

if [ "$cmd" = stop ]; then
  # Jobs first: their processes (under slurmstepd) outlive slurmd.
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    export SLURM_CONF="$dir/slurm.conf"
    scancel --quiet -u "$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 150); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
  exit 0
fi
if [ "$cmd" != start ]; then
  echo "usage: $0 start|stop DIR [GPUS]" >&2
  exit 2
fi
gpus=${3:-2}
ctld_port=${SLURMCTLD_PORT:-6817}
slurmd_port=${SLURMD_PORT:-6818}

missing=()
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
if ((${#missing[@]})); then
  echo "slurm: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# munge: a key of this cluster's own (never a shared secret in the repo),
# and a munged of its own on a socket under DIR.
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/gpus"
chmod 700 "$dir/munge"
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none
  chmod 400 "$dir/munge/munge.key"
fi
socket="$dir/munge/munge.socket.2"
munged --force --socket="$socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"

host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
gres_line="" node_gres=""
if ((gpus > 0)); then
  for i in $(seq 0 $((gpus - 1))); do : >"$dir/gpus/gpu$i"; done
  gres_line="NodeName=mk-slurm Name=gpu File=$dir/gpus/gpu[0-$((gpus - 1))]"
  node_gres="Gres=gpu:$gpus"
fi
cat >"$dir/gres.conf" <<EOF
AutoDetect=off
$gres_line
EOF
cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm.sh: a one-node test cluster on localhost.
ClusterName=mk-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
# Finished jobs stay in the controller (squeue -t all, scontrol) for an
# hour: there is no slurmdbd here, so sacct has nothing to read.
MinJobAge=3600
MaxJobCount=100000
KillWait=5
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
NodeName=mk-slurm NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem $node_gres State=UNKNOWN
PartitionName=gpu Nodes=mk-slurm Default=YES MaxTime=INFINITE OverSubscribe=FORCE:16 State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N mk-slurm

for _ in $(seq 1 300); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)
  [ "$state" = idle ] && exit 0
  sleep 0.1
done
echo "slurm: the node is not idle after 30s (state ${state:-none}); the logs:" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
