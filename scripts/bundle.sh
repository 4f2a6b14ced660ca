#!/usr/bin/env bash
# Builds the desktop app's installable packages with Tauri's bundler: a .deb
# (Debian, Ubuntu) and an .rpm (Fedora, Rocky, openSUSE), release build.
# Installs what the build needs first (as scripts/run-app.sh does).
# AppImage is not offered: its bundler downloads tools from the internet.
# Usage: scripts/bundle.sh        → packages under <target>/release/bundle/
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_app_build

step "app and bundles (release)"
ui/node_modules/.bin/tauri build --bundles deb rpm --ci -- --locked

bundle="${CARGO_TARGET_DIR:-target}/release/bundle"
step "packages"
ls -l "$bundle"/deb/*.deb "$bundle"/rpm/*.rpm
echo
for deb in "$bundle"/deb/*.deb; do echo "install:  sudo apt install \"$(realpath "$deb")\""; done
for rpm in "$bundle"/rpm/*.rpm; do echo "      or:  sudo dnf install \"$(realpath "$rpm")\""; done
