#!/usr/bin/env bash
# Fetches SchedMD's Slurm tarball as Debian ships it (the orig tarball of the
# `slurm-wlm` source package) once, for the real-Slurm test recipe
# (tests/recipes/slurm). Idempotent: a cached tarball is reused.
#
#   fetch-slurm-source.sh [MIRROR_DIR]
#
# Keeps the tarball under $SF_CI_CACHE/sources (default
# ~/.cache/slurm-factory-ci) and, given MIRROR_DIR (a source-mirror cache
# layer), copies it there. Prints the tarball's path. apt is pointed at a
# temporary deb-src list derived from the machine's own apt sources, so local
# mirrors and proxies are respected and no mirror host is written anywhere.
set -euo pipefail

PACKAGE=slurm-wlm
CACHE="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}/sources"
die() { printf 'fetch-slurm-source: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CACHE"
tarball=$(find "$CACHE" -maxdepth 1 -name "${PACKAGE}_*.orig.tar.*" | sort | tail -n1)
if [ -z "$tarball" ]; then
    command -v apt-get >/dev/null || die "apt-get not found: fetch a ${PACKAGE} orig tarball into $CACHE by hand"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/parts" "$tmp/dl"
    # deb-src twins of the machine's deb sources (deb822 and one-line formats).
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$tmp/parts/${f##*/}"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -nE 's/^deb([[:space:]])/deb-src\1/p' "$f" >"$tmp/parts/${f##*/}"
    done
    [ -n "$(ls -A "$tmp/parts")" ] || die "no apt sources found to derive a deb-src entry from"
    apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$tmp/parts"
        -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" -qq update || die "apt-get update with deb-src entries failed"
    (cd "$tmp/dl" && apt-get "${apt_opts[@]}" -qq source --download-only "$PACKAGE") \
        || die "apt-get source --download-only $PACKAGE failed"
    orig=$(find "$tmp/dl" -maxdepth 1 -name "${PACKAGE}_*.orig.tar.*" | head -n1)
    [ -n "$orig" ] || die "the $PACKAGE source package has no orig tarball"
    cp "$orig" "$CACHE/${orig##*/}.partial"
    mv "$CACHE/${orig##*/}.partial" "$CACHE/${orig##*/}"
    tarball="$CACHE/${orig##*/}"
fi

if [ $# -ge 1 ]; then
    mkdir -p "$1"
    cmp -s "$tarball" "$1/${tarball##*/}" || cp "$tarball" "$1/${tarball##*/}"
fi
printf '%s\n' "$tarball"
