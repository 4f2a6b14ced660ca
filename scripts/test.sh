#!/usr/bin/env bash
# Sets up everything the tests need on a Debian/Ubuntu machine (system
# packages, LXD, test images, npm packages) and runs every check: formatting,
# clippy, unit, CLI and end-to-end tests against real LXD.
# Idempotent: a second run skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust

step "system packages"
ensure_packages "${TEST_PACKAGES[@]}"

step "LXD and test images"
ci_cache="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}"
$SUDO env SF_CI_CACHE="$ci_cache" bash .ci/setup-lxd.sh
# The images and pool the end-to-end tests use (written by setup-lxd.sh).
set -a
# shellcheck disable=SC1091
source "$ci_cache/env"
set +a

step "cargo fmt"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "all checks passed"
