#!/usr/bin/env bash
# Puts a verify node on the private verify network: its own address (the
# images run no DHCP client; LXD holds the address for this instance) and
# every node's name in /etc/hosts, so Slurm resolves them to that network.
# Usage: verify-network.sh ADDRESS/PREFIX NAME=ADDRESS...
set -euo pipefail
command -v ip >/dev/null || {
  echo "the verify image has no ip (iproute2): a node cannot take its address on the verify network" >&2
  exit 1
}
cidr=$1
shift
ip link set eth0 up
# An image with a DHCP client may have it already.
ip -4 -o addr show dev eth0 | grep -q " inet ${cidr%/*}/" || ip addr add "$cidr" dev eth0
# Debian maps the host's own name to 127.0.1.1: Slurm would hand that to the other nodes.
sed -i '/^127\.0\.1\.1[[:space:]]/d' /etc/hosts
for pair in "$@"; do
  printf '%s %s\n' "${pair#*=}" "${pair%%=*}" >>/etc/hosts
done
