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
check libraries-resolve bash "$(dirname "$0")/check-libs.sh" --allow libnvidia-ml.so.1 --allow libcuda.so.1 "$root"

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

# OpenMPI's wrappers at the new prefix: they read their data from it through
# OPAL_PREFIX, as the module sets it (their build prefix is compiled in).
mpicc_at_prefix() {
  local flags
  flags=$(OPAL_PREFIX="$root" "$root/bin/mpicc" --showme) || return 1
  echo "mpicc --showme: $flags"
  [[ "$flags" == *"-I$root/include"* && "$flags" == *"-L$root/lib"* ]]
}
check mpicc-at-prefix mpicc_at_prefix

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
# JWT beside munge, for slurmrestd: `scontrol token` signs with this key.
dd if=/dev/urandom of="$work/jwt.key" bs=32 count=1 status=none
chmod 600 "$work/jwt.key"
cat >> "$work/slurm.conf" <<CONF
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$work/jwt.key
CONF
export SLURM_CONF="$work/slurm.conf"
export PATH="$root/bin:$root/sbin:$PATH"
# What slurmd.service and the module set: OpenMPI's and PMIx's help texts and
# wrapper data at the new prefix (their components are built into the libraries).
export PMIX_PREFIX="$root" OPAL_PREFIX="$root" PRTE_PREFIX="$root"

# slurmstepd's path is compiled in (the build prefix): point slurmd at the relocated one.
if $node_only; then
  check slurmd-start slurmd -d "$root/sbin/slurmstepd"
  exit $failed
fi

check sinfo-version sinfo --version
mpi_list_pmix() {
  local out
  out=$(srun --mpi=list 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  grep -qw pmix <<<"$out"
}
check mpi-list-pmix mpi_list_pmix
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

# An MPI job started by Slurm through PMIx: the package's own program
# (scripts/mpi-allreduce.c), two ranks on each node, the allreduce checked.
mpi_allreduce() {
  local out status=0 size=$((2 * node_count)) on_hosts
  out=$(timeout 120 srun --mpi=pmix -N"$node_count" -n"$size" \
    "$root/libexec/slurm-factory/mpi-allreduce" 2>&1) || status=$?
  echo "$out"
  on_hosts=$(sed -n "s/^rank [0-9]* of $size on //p" <<<"$out" | sort)
  [ "$status" -eq 0 ] && [ "$on_hosts" = "$(printf '%s\n' "${nodes[@]}" "${nodes[@]}" | sort)" ] \
    && grep -qx "allreduce: sum of ranks $((size * (size - 1) / 2)), expected $((size * (size - 1) / 2))" <<<"$out"
}
check mpi-pmix-allreduce mpi_allreduce

# slurmrestd with JWT auth answers the ping of the newest OpenAPI version the
# release serves, for a token from `scontrol token` (HTTP over bash's
# /dev/tcp: the image needs no curl).
slurmrestd_ping() {
  local version token response
  version=$(find "$root/lib/slurm" -maxdepth 1 -name 'data_parser_v0_0_*.so' -printf '%f\n' \
    | sed 's/^data_parser_v0_0_\([0-9]*\)\.so$/\1/' | sort -n | tail -n1)
  [ -n "$version" ] || { echo "no data_parser plugin in $root/lib/slurm"; return 1; }
  token=$(scontrol token username=nobody lifespan=300 | sed -n 's/^SLURM_JWT=//p')
  [ -n "$token" ] || { echo "scontrol token gave no token"; return 1; }
  # slurmrestd will not run as root: as nobody (by number: 26.05's slurmrestd
  # did not resolve the name here), which reads slurm.conf in $work (the keys
  # in it stay readable by root alone).
  # SLURM_JWT=daemon: it loads auth/jwt to pass tokens on (Slurm's REST quickstart).
  chmod 755 "$work"
  SLURM_JWT=daemon slurmrestd -u "$(id -u nobody)" -g "$(id -g nobody)" -a rest_auth/jwt 127.0.0.1:6820 \
    >"$work/slurmrestd.log" 2>&1 &
  echo $! >"$work/slurmrestd.pid"
  for _ in $(seq 150); do
    (exec 3<>/dev/tcp/127.0.0.1/6820) 2>/dev/null && break
    sleep 0.2
  done
  exec 3<>/dev/tcp/127.0.0.1/6820 || { tail -n 20 "$work/slurmrestd.log"; return 1; }
  printf 'GET /slurm/v0.0.%s/ping HTTP/1.1\r\nHost: localhost\r\nX-SLURM-USER-NAME: nobody\r\nX-SLURM-USER-TOKEN: %s\r\nConnection: close\r\n\r\n' \
    "$version" "$token" >&3
  response=$(timeout 30 cat <&3 | tr -d '\r')
  exec 3>&-
  echo "GET /slurm/v0.0.$version/ping"
  echo "$response" | head -n 1
  if grep -q '^HTTP/1.1 200' <<<"$response" && grep -q '"responding": *true' <<<"$response"; then
    echo "$response" | sed -n '/^{/,$p' | grep -E '"(hostname|responding|primary|status|data_parser)"'
  else
    echo "$response" | sed -n '/^{/,$p' | head -n 30
    tail -n 20 "$work/slurmrestd.log"
    return 1
  fi
}
check slurmrestd-ping slurmrestd_ping

exit $failed
