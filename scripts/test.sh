#!/usr/bin/env bash
# Sets up everything the tests need on a Debian/Ubuntu machine (system
# packages, LXD, test images, Node and npm packages, tauri-driver) and runs
# every check: formatting, clippy, UI checks and unit tests, Rust unit and CLI
# tests, end-to-end tests against real LXD, and the app window driven over
# WebDriver under Xvfb.
# Idempotent: a second run skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust

step "system packages"
ensure_packages "${TEST_PACKAGES[@]}" "${APP_PACKAGES[@]}" "${GUI_TEST_PACKAGES[@]}"

step "LXD and test images"
ci_cache="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}"
$SUDO env SF_CI_CACHE="$ci_cache" bash .ci/setup-lxd.sh
# The images and pool the end-to-end tests use (written by setup-lxd.sh).
set -a
# shellcheck disable=SC1091
source "$ci_cache/env"
set +a

step "tauri-driver (drives the app window over WebDriver)"
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked
fi

# The app embeds ui/dist, so the UI is built before any cargo step.
step "UI: npm ci, svelte-check, lint, unit tests, build"
ensure_node
(cd ui && npm ci --no-audit --no-fund && npm run check && npm run lint && npm test && npm run build)

step "cargo fmt"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "TypeScript bindings are current"
cargo test -p factory --features ts --locked --lib bindings

step "cargo test (unit, CLI, real LXD, the app window under Xvfb)"
cargo build -p slurm-factory-app --locked
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
set +e
SLURM_FACTORY_REQUIRE_GUI=1 SLURM_FACTORY_REQUIRE_LXD=1 \
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$test_log"
test_status=${PIPESTATUS[0]}
set -e
[ "$test_status" -eq 0 ] && step "all checks passed"
# One closing line for the whole run: the sum of every test binary's result.
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "Tests: %d passed, %d failed\n", p, f }' "$test_log"
exit "$test_status"
