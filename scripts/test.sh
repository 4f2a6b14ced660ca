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
bash .ci/setup-lxd.sh
export SLURM_FACTORY_TEST_IMAGE=sf-test-build
export SLURM_FACTORY_TEST_PLAIN_IMAGE=sf-test-plain

step "cargo fmt"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "all checks passed"
