#!/usr/bin/env bash
# Verifies a Slurm package where it was not built: in a clean instance (no
# compilers, no Spack), unpacked at a prefix other than the build prefix.
# Usage: verify.sh ARCHIVE PREFIX [--nodes HOST,HOST... --munge-key FILE [--node-only]]
#   --nodes      the cluster's hosts, the controller first (default: this host
#                alone); each runs verify.sh with the same list and munge key
#   --node-only  on every host but the controller, before it: unpack, start
#                munged and slurmd, and leave them running
# Prints `::check pass|fail NAME` per check; exits non-zero if any failed.
set -euo pipefail
# One line for the engine: say KIND ARGS...
say() { local IFS=' '; printf '::%s\n' "$*"; }
archive=$1
prefix=$2
shift 2
nodes=() munge_key="" node_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) IFS=, read -ra nodes <<<"$2"; shift 2 ;;
    --munge-key) munge_key=$2; shift 2 ;;
    --node-only) node_only=true; shift ;;
    *) echo "verify.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
host=$(hostname)
[ -n "${nodes[*]:-}" ] || nodes=("$host")
controller=${nodes[0]}
set -- "${nodes[@]}"
node_count=$#
# The node-only hosts' checks carry their place in the list: node-2-slurmd-start.
check_prefix=""
if $node_only; then
  for i in "${!nodes[@]}"; do
    if [ "${nodes[$i]}" = "$host" ]; then check_prefix="node-$((i + 1))-"; fi
  done
fi
failed=0
# The same path on every node: slurm.conf names it, and is the same file everywhere.
work=/tmp/sf-verify
mkdir -p "$work"

check() {
  local name=$check_prefix$1 out
  shift
  # `timeout` runs programs only; the shell functions below bound their own waits.
  local run=(timeout 120)
  [ "$(type -t "$1")" = function ] && run=()
  if out=$("${run[@]}" "$@" 2>&1); then
    [ -n "$out" ] && printf '%s\n' "$out"
    say check pass "$name"
  else
    [ -n "$out" ] && printf '%s\n' "$out"
    say check fail "$name"
    failed=1
  fi
}

stop_daemons() {
  for pidfile in "$work"/slurmrestd.pid "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  return 0
}
# A node-only host leaves its daemons to the controller's jobs.
$node_only || trap stop_daemons EXIT

mkdir -p "$prefix"
# GNU tar picks the decompressor by the name: .tar.zst (zstd) or .tar.gz.
tar -C "$prefix" -xf "$archive" || { say check fail "${check_prefix}unpack"; exit 1; }
root=$(find "$prefix" -mindepth 1 -maxdepth 1 -type d | head -n1)
say check pass "${check_prefix}unpack"
echo "unpacked at $root"

if ! $node_only; then

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

fi

# The cluster: munged and slurmd on every node, slurmctld on the first; then
# srun and sbatch across all of them.
munged=$(command -v munged || true)
[ -x "$root/sbin/munged" ] && munged="$root/sbin/munged"
if [ -z "$munged" ]; then
  say check fail "${check_prefix}munge-present"
  echo "no munged in the package or the verify image"
  exit 1
fi
echo "munged: $munged"
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
if [ -n "$munge_key" ]; then
  install -m 400 "$munge_key" "$work/munge.key"
else
  dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
  chmod 400 "$work/munge.key"
fi
check munged-start "$munged" --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munge.seed"

cat > "$work/slurm.conf" <<CONF
ClusterName=verify
SlurmctldHost=$controller
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
NodeName=$(IFS=,; echo "${nodes[*]}") CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
export PATH="$root/bin:$root/sbin:$PATH"

# slurmstepd's path is compiled in (the build prefix): point slurmd at the relocated one.
if $node_only; then
  check slurmd-start slurmd -d "$root/sbin/slurmstepd"
  exit $failed
fi

check sinfo-version sinfo --version
check slurmctld-start slurmctld
check slurmd-start slurmd -d "$root/sbin/slurmstepd"

nodes_idle() {
  local idle
  for _ in $(seq 450); do
    idle=$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | grep -c . || true)
    [ "$idle" -eq "$node_count" ] && { sinfo -N; return 0; }
    sleep 0.2
  done
  sinfo -N; tail -n 20 "$work/slurmctld.log" "$work/slurmd.log"; return 1
}
check node-idle nodes_idle

srun_hostname() {
  local out
  out=$(timeout 60 srun -N"$node_count" hostname) || return 1
  echo "$out"
  [ "$(sort <<<"$out")" = "$(printf '%s\n' "${nodes[@]}" | sort)" ]
}
check srun-hostname srun_hostname

sbatch_job() {
  local id batch_host out
  # shellcheck disable=SC2016 # $(hostname) runs in the job, on each node
  id=$(timeout 60 sbatch --parsable -N"$node_count" -o "$work/job-%j.out" \
    --wrap 'srun sh -c "echo job ran on \$(hostname)"') || return 1
  for _ in $(seq 300); do
    squeue -h -j "$id" 2>/dev/null | grep -q . || break
    sleep 0.2
  done
  # The output file is where the script ran: the job's batch host, which
  # need not be this one. Slurm reads it there.
  batch_host=$(scontrol show job "$id" | sed -n 's/.*BatchHost=\([^ ]*\).*/\1/p')
  echo "batch host: $batch_host"
  out=$(timeout 60 srun -N1 -w "$batch_host" cat "$work/job-$id.out") || return 1
  echo "$out"
  [ "$(sort <<<"$out")" = "$(printf 'job ran on %s\n' "${nodes[@]}" | sort)" ]
}
check sbatch-job sbatch_job

exit $failed
