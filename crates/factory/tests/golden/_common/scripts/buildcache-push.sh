#!/bin/bash
# Pushes every installed spec to the local buildcache, so the next build of
# the same specs is a download, not a compile.
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

"$SPACK" -e "$ENV_DIR" buildcache push --unsigned --update-index local-buildcache
