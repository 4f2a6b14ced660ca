#!/usr/bin/env bash
# Quick start: on a fresh Debian/Ubuntu machine, installs what the desktop
# app needs (Debian packages, Rust if missing, npm packages), builds the UI
# and the app, and starts it. Run it again to rebuild and start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_app_build

step "app"
cargo build -p slurm-factory-app --release --locked

step "starting Slurm Factory"
exec "${CARGO_TARGET_DIR:-target}/release/slurm-factory-app" "$@"
