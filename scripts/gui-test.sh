#!/usr/bin/env bash
# Tests the desktop app as a person uses it: installs what is missing
# (Debian packages, tauri-driver, npm packages), checks and builds the UI,
# builds the app, and drives its window under Xvfb over WebDriver. Saves a
# screenshot of every screen to docs/screenshots/.
# Idempotent: a second run skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust

step "system packages for the app and its GUI tests"
ensure_packages "${APP_PACKAGES[@]}" "${GUI_TEST_PACKAGES[@]}"

step "tauri-driver"
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked
fi
export PATH="$HOME/.cargo/bin:$PATH"

step "UI: npm ci, svelte-check, lint, unit tests, build"
ensure_node
(cd ui && npm ci --no-audit --no-fund && npm run check && npm run lint && npm test && npm run build)

step "app (debug build) and its .deb and .rpm"
cargo build -p slurm-factory-app --locked
ui/node_modules/.bin/tauri build --debug --bundles deb rpm --ci -- --locked

step "GUI end-to-end tests (Xvfb + tauri-driver + WebKitWebDriver)"
SLURM_FACTORY_REQUIRE_GUI=1 cargo test -p slurm-factory-e2e --locked --test gui -- --nocapture --test-threads=1

step "GUI tests passed; screenshots in docs/screenshots/"
ls -1 docs/screenshots/
