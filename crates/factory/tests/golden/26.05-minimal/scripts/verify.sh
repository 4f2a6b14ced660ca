#!/usr/bin/env bash
# Verifies a Slurm package where it was not built: in a clean instance (no
# compilers, no Spack), unpacked at a prefix other than the build prefix.
# Usage: verify.sh ARCHIVE PREFIX
# Prints `::check pass|fail NAME` per check; exits non-zero if any failed.
set -euo pipefail
archive=$1
prefix=$2
failed=0
work=$(mktemp -d /tmp/sf-verify.XXXXXX)

check() {
  local name=$1 out
  shift
  # `timeout` runs programs only; the shell functions below bound their own waits.
  local run=(timeout 120)
  [ "$(type -t "$1")" = function ] && run=()
  if out=$("${run[@]}" "$@" 2>&1); then
    [ -n "$out" ] && printf '%s\n' "$out"
    echo "::check pass $name"
  else
    [ -n "$out" ] && printf '%s\n' "$out"
    echo "::check fail $name"
    failed=1
  fi
}

stop_daemons() {
  for pidfile in "$work"/slurmrestd.pid "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  return 0
}
trap stop_daemons EXIT

mkdir -p "$prefix"
# GNU tar picks the decompressor by the name: .tar.zst (zstd) or .tar.gz.
tar -C "$prefix" -xf "$archive" || { echo "::check fail unpack"; exit 1; }
root=$(find "$prefix" -mindepth 1 -maxdepth 1 -type d | head -n1)
echo "::check pass unpack"
echo "unpacked at $root"

# Every ELF file finds its libraries inside the new prefix or the base system.
check libraries-resolve bash "$(dirname "$0")/check-libs.sh" "$root"

check slurmctld-version "$root/sbin/slurmctld" -V

# The module loads from the new prefix and puts its bin on PATH.
if [ -f /usr/share/lmod/lmod/init/bash ]; then
  module_load() {
    # shellcheck disable=SC1091
    source /usr/share/lmod/lmod/init/bash
    export SLURM_INSTALL_PREFIX="$root"
    module use "$root/modules/lmod" && module load slurm && command -v sinfo | grep -qx "$root/bin/sinfo"
  }
  check module-load module_load
fi

# A one-node cluster: munged, slurmctld, slurmd; then srun and sbatch.
munged=$(command -v munged || true)
[ -x "$root/sbin/munged" ] && munged="$root/sbin/munged"
if [ -z "$munged" ]; then
  echo "::check fail munge-present"
  echo "no munged in the package or the verify image"
  exit 1
fi
echo "munged: $munged"
host=$(hostname)
# Slurm resolves names with AI_ADDRCONFIG, so glibc returns no IPv4 address at
# all when the only one configured is 127.0.0.1 (an instance without a network
# device): not even its own name from /etc/hosts. Configure the address that
# /etc/hosts gives this host on lo.
if ! getent ahostsv4 "$host" >/dev/null; then
  addr=$(getent hosts "$host" | awk '{ print $1; exit }')
  if [ -n "$addr" ] && command -v ip >/dev/null && ip addr add "$addr/32" dev lo; then
    echo "no network device: $addr ($host) added to lo"
  else
    echo "$host has no IPv4 address Slurm can resolve; give the instance a network, or iproute2 and an /etc/hosts entry"
  fi
fi
mkdir -p "$work/state" "$work/spool"
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
check munged-start "$munged" --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munge.seed"

cat > "$work/slurm.conf" <<CONF
ClusterName=verify
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$work/munge.socket
CredType=cred/munge
PluginDir=$root/lib/slurm
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
export PATH="$root/bin:$root/sbin:$PATH"

check sinfo-version sinfo --version
check slurmctld-start slurmctld
# slurmstepd's path is compiled in (the build prefix): point slurmd at the relocated one.
check slurmd-start slurmd -d "$root/sbin/slurmstepd"

node_idle() {
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n1)
    [ "$state" = idle ] && { sinfo; return 0; }
    sleep 1
  done
  sinfo; tail -n 20 "$work/slurmctld.log" "$work/slurmd.log"; return 1
}
check node-idle node_idle

srun_hostname() {
  local out
  out=$(timeout 60 srun -N1 hostname) || return 1
  echo "$out"
  [ "$out" = "$host" ]
}
check srun-hostname srun_hostname

sbatch_job() {
  local id
  id=$(timeout 60 sbatch --parsable -o "$work/job-%j.out" --wrap 'echo job ran on $(hostname)') || return 1
  for _ in $(seq 60); do
    squeue -h -j "$id" 2>/dev/null | grep -q . || break
    sleep 1
  done
  cat "$work/job-$id.out"
  grep -qx "job ran on $host" "$work/job-$id.out"
}
check sbatch-job sbatch_job

exit $failed
