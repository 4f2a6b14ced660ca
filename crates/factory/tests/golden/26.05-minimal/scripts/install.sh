#!/bin/bash
# Installs the environment (binaries from the local buildcache when there,
# else built from source).
# shellcheck disable=SC2034  # a shared prologue: not every script uses every name
set -euo pipefail
export SPACK_ROOT=/opt/slurm-factory/spack
export SPACK_PYTHON=/opt/slurm-factory/python/bin/python
# Only the environment's config and Spack's own defaults: nothing from ~/.spack or /etc/spack.
export SPACK_DISABLE_LOCAL_CONFIG=1
export CCACHE_DIR=/opt/slurm-factory/cache/ccache
SPACK="$SPACK_ROOT/bin/spack"
ENV_DIR=/opt/slurm-factory/env
CONFIG_DIR=/opt/slurm-factory/config
RECIPE_DIR=/opt/slurm-factory/recipe
log() { printf '==> slurm-factory: %s\n' "$*"; }
# One line for the engine: say KIND ARGS...
say() { local IFS=' '; printf '::%s\n' "$*"; }

# This build's own ccache counters (the ones in the shared cache dir mix every
# build's): ccache appends one line per counter per call to the stats log.
# Reported as `say cache ccache HITS LOOKUPS`, even when the install fails.
export CCACHE_STATSLOG
CCACHE_STATSLOG=$(mktemp)
report_ccache() {
    local hits misses
    hits=$(grep -cxE 'direct_cache_hit|preprocessed_cache_hit' "$CCACHE_STATSLOG" || true)
    misses=$(grep -cx 'cache_miss' "$CCACHE_STATSLOG" || true)
    say cache ccache "$hits" "$((hits + misses))"
    rm -f "$CCACHE_STATSLOG"
}
trap report_ccache EXIT

"$SPACK" -e "$ENV_DIR" install -j 8 --fail-fast
