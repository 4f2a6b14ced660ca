#!/usr/bin/env bash
# A second, real LXD server on this machine for the matrix tests: its own
# daemon (LXD_DIR=/var/lib/sf-lxd-remote) listening on 127.0.0.1:8444, with
# the same pool names as the first, trusted by this client as the remote
# `sf-remote` through a real trust token. No images: builds on it copy what
# they need from the local server themselves.
#
#   lxd-remote.sh start   start (and on first use set up) the server; idempotent
#   lxd-remote.sh stop    shut the daemon down (the remote stops answering)
set -eEuo pipefail
# set -e alone exits without a word; say which command stopped the setup.
trap 'printf "%s: line %s failed (exit %s): %s\\n" lxd-remote "$LINENO" "$?" "$BASH_COMMAND" >&2' ERR

REMOTE=sf-remote
export LXD_DIR=/var/lib/sf-lxd-remote
ADDRESS=127.0.0.1:8444
LOG=/var/log/slurm-factory-ci-lxd-remote.log
BTRFS_POOL=sf-btrfs
BTRFS_SIZE=12GiB

note() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'lxd-remote: %s\n' "$*" >&2; exit 1; }
up() { lxc query /1.0 >/dev/null 2>&1; }

start() {
    mkdir -p "$LXD_DIR"
    # Like /var/lib/lxd: containers' root (mapped) must pass through it.
    chmod 711 "$LXD_DIR"
    # Started by an earlier run inside its checkout, since deleted: its rsync
    # would inherit that working directory and fail.
    # (pgrep finds nothing when no daemon runs: not a failure)
    local pid
    pid=$(pgrep -f -- "lxd --group root --logfile $LOG" | head -1) || true
    if [ -n "$pid" ] && readlink "/proc/$pid/cwd" | grep -q ' (deleted)$' && up; then
        note "restarting the second LXD server: its working directory was deleted"
        lxd shutdown --timeout 60
    fi
    if ! up; then
        note "starting the second LXD server (LXD_DIR=$LXD_DIR, log: $LOG)"
        # exec: no shell stays behind holding our stdout (see setup-lxd.sh).
        (cd / && exec setsid lxd --group root --logfile "$LOG" </dev/null >>"$LOG.out" 2>&1 &)
        lxd waitready --timeout 60 || die "it did not become ready; last lines of $LOG:
$(tail -n 20 "$LOG" "$LOG.out" 2>/dev/null)"
    fi
    if ! lxc storage show default >/dev/null 2>&1; then
        lxc storage create default dir >/dev/null
        lxc profile device add default root disk path=/ pool=default >/dev/null
    fi
    # The pool the tests build on, under the same name as on the first server.
    if env -u LXD_DIR lxc storage show "$BTRFS_POOL" >/dev/null 2>&1 \
        && ! lxc storage show "$BTRFS_POOL" >/dev/null 2>&1; then
        lxc storage create "$BTRFS_POOL" btrfs size="$BTRFS_SIZE" >/dev/null \
            || note "no btrfs pool on the second server"
    fi
    [ "$(lxc config get core.https_address)" = "$ADDRESS" ] \
        || lxc config set core.https_address "$ADDRESS"
    # Trusted by this client, the way an admin adds a remote: a token.
    if ! env -u LXD_DIR lxc query "$REMOTE:/1.0" 2>/dev/null | grep -q '"auth": "trusted"'; then
        env -u LXD_DIR lxc remote remove "$REMOTE" >/dev/null 2>&1 || true
        local token
        token=$(lxc config trust add --name "slurm-factory-ci-$(date +%s)" | tail -1)
        env -u LXD_DIR lxc remote add "$REMOTE" "$token" >/dev/null
    fi
    env -u LXD_DIR lxc query "$REMOTE:/1.0" | grep -q '"auth": "trusted"' \
        || die "the remote $REMOTE is not trusted"
}

stop() {
    if up; then
        lxd shutdown --timeout 60
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" ;;
esac
