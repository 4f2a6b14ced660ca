#!/usr/bin/env bash
# Sets up everything the tests need on a Debian/Ubuntu machine (system
# packages, LXD, test images, the offline Spack site, Node and npm packages,
# tauri-driver) and runs every check: formatting, clippy, UI checks and unit
# tests, Rust unit and CLI tests, end-to-end tests against real LXD, a real
# Spack build of Slurm, and the app window driven over WebDriver under Xvfb.
# Idempotent: a second run skips what is already in place.
#
# The LXD setup (debootstrap, downloads) runs while the Rust code compiles. The
# real Spack build (tests/tests/spack.rs, the longest test) starts as soon as
# its binaries, images and Spack site are ready, and everything else runs
# beside it; its output is printed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust

step "system packages"
ensure_packages "${TEST_PACKAGES[@]}" "${APP_PACKAGES[@]}" "${GUI_TEST_PACKAGES[@]}"

work=$(mktemp -d)
# A step that fails ends the run: the real Spack build beside it too. (No
# `a || b` here: under set -e a failing kill of a finished build would make
# the run's exit status 1.)
trap 'if [ -n "${spack_pid:-}" ]; then kill "$spack_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

step "LXD, test images and the offline Spack site (in the background; log below)"
ci_cache="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}"
# $work/spack-ready appears once what the real Spack build needs is ready;
# $work/setup.rc when the whole setup has ended.
(
  set +e
  $SUDO env SF_CI_CACHE="$ci_cache" SF_CI_READY="$work/spack-ready" bash .ci/setup-lxd.sh >"$work/setup.log" 2>&1
  echo $? >"$work/setup.rc"
) &
setup_pid=$!

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

# The real Spack build is the longest test by far: it starts as soon as its
# binaries and its part of the LXD setup are ready, and everything below runs
# beside it, niced so that its compiles keep the cores. Built with the whole
# workspace's features, so the later builds reuse what this one compiles.
step "the real Spack build's test and the CLI it drives (the build starts in the background)"
export SLURM_FACTORY_REQUIRE_GUI=1 SLURM_FACTORY_REQUIRE_LXD=1
spack_test=real_spack_build_of_slurm_offline_verified_on_a_bare_system
cargo build --workspace --locked --bin slurm-factory
spack_bin=$(cargo test --workspace --locked --no-run --test spack --message-format=json |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$spack_bin" ] || { echo "no test binary for tests/tests/spack.rs" >&2; exit 1; }
(
  until [ -e "$work/spack-ready" ] || [ -e "$work/setup.rc" ]; do sleep 2; done
  [ -e "$work/spack-ready" ] || { echo "the LXD setup failed before the real Spack build could start"; exit 1; }
  set -a
  # shellcheck disable=SC1091
  source "$ci_cache/env"
  set +a
  # As cargo runs it: from its package's directory.
  cd tests && exec "$spack_bin" --nocapture --exact "$spack_test"
) >"$work/spack.log" 2>&1 &
spack_pid=$!

step "cargo clippy"
nice cargo clippy --workspace --all-targets --locked -- -D warnings

step "TypeScript bindings are current"
nice cargo test -p factory --features ts --locked --lib bindings

step "build the app and every test"
nice cargo build -p slurm-factory-app --locked
nice cargo test --workspace --locked --no-run

# The installed-app test (tests/tests/gui.rs) installs this .deb into a clean root.
step "app bundles: .deb and .rpm (Tauri's bundler, debug build)"
nice ui/node_modules/.bin/tauri build --debug --bundles deb rpm --ci -- --locked

step "waiting for the LXD setup"
wait "$setup_pid"
if [ "$(cat "$work/setup.rc")" != 0 ]; then
  cat "$work/setup.log"
  echo "LXD setup failed (.ci/setup-lxd.sh)" >&2
  kill "$spack_pid" 2>/dev/null
  exit 1
fi
cat "$work/setup.log"
# The images, pool and Spack site the end-to-end tests use (written by setup-lxd.sh).
set -a
# shellcheck disable=SC1091
source "$ci_cache/env"
set +a

step "cargo test (unit, CLI, real LXD, the app window under Xvfb; the real Spack build beside them)"
# If the LXD daemon dies under the tests, the time it stopped answering is
# noted here and told once at the end with its log; each LXD test after it
# fails saying the daemon is gone (tests/src/lib.rs).
lxd_watch() {
  local down=""
  while sleep 2; do
    if lxc query /1.0 >/dev/null 2>&1; then
      down=""
    elif [ -z "$down" ]; then
      down=$(date '+%H:%M:%S')
      echo "$down" >"$work/lxd-down"
    fi
  done
}
lxd_watch &
watch_pid=$!
set +e
cargo test --workspace --locked --no-fail-fast -- --skip "$spack_test" 2>&1 | tee "$work/tests.log"
test_status=${PIPESTATUS[0]}
wait "$spack_pid"
spack_status=$?
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
lxd_died=""
if ! lxc query /1.0 >/dev/null 2>&1; then
  lxd_died=$(cat "$work/lxd-down" 2>/dev/null || date '+%H:%M:%S')
  test_status=1
fi
# Alone, after the others: it restarts the LXD daemon they all use.
step "LXD restarted under a build (tests/tests/faults.rs, run alone)"
cargo test --workspace --locked --test faults -- --ignored --exact \
  lxd_restarted_during_install_fails_naming_lxd --nocapture 2>&1 | tee -a "$work/tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || test_status=1
set -e
step "the real Spack build (tests/tests/spack.rs)"
cat "$work/spack.log"
if [ -n "$lxd_died" ]; then
  step "the LXD daemon died at $lxd_died during the tests"
  echo "Every LXD test that failed after that failed because of it. Last lines of ${SLURM_FACTORY_TEST_LXD_LOG:-its log (journalctl -u lxd)}:"
  if [ -n "${SLURM_FACTORY_TEST_LXD_LOG:-}" ]; then tail -n 40 "$SLURM_FACTORY_TEST_LXD_LOG"; else journalctl -u lxd -n 40 --no-pager; fi
  echo "(slurm-factory doctor checks what is known to kill it; .ci/setup-lxd.sh starts it again)"
fi
[ "$test_status" -eq 0 ] && [ "$spack_status" -eq 0 ] && step "all checks passed"
# One closing line for the whole run: the sum of every test binary's result.
cat "$work/tests.log" "$work/spack.log" | awk '
  /^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
  END { printf "Tests: %d passed, %d failed\n", p, f }'
[ "$test_status" -eq 0 ] && [ "$spack_status" -eq 0 ]
