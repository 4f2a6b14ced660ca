#!/usr/bin/env bash
# Benchmark of the app's log path: 1,000,000 log lines at 10,000 lines/s
# through the batching channel into a live run's log viewer. Prints the
# page's lag behind the backend (on arrival and after paint) and the
# backend's memory. BENCH_LINES and BENCH_RATE change the load.
# Leaves the normal UI build in ui/dist afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust
ensure_node
export PATH="$HOME/.cargo/bin:$PATH"

step "benchmark builds of the UI and the app"
(cd ui && npm ci --no-audit --no-fund && VITE_BENCH=1 npm run build)
cargo build -p slurm-factory-app --features bench --locked

step "streaming ${BENCH_LINES:-1000000} lines at ${BENCH_RATE:-10000} lines/s"
status=0
SLURM_FACTORY_REQUIRE_GUI=1 cargo test -p slurm-factory-e2e --locked --test gui \
  -- --ignored log_stream_benchmark --nocapture || status=$?

step "restoring the normal builds"
(cd ui && npm run build)
cargo build -p slurm-factory-app --locked
exit "$status"
