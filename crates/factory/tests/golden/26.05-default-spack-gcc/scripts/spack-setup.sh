#!/bin/bash
# Creates the Spack environment from the rendered spack.yaml, with the
# package repositories it uses. The compiler and build-only tools were found
# once, when the base image was prepared (provision.sh).
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

mkdir -p "$ENV_DIR" "$CONFIG_DIR"
cp "$RECIPE_DIR/spack.yaml" "$ENV_DIR/spack.yaml"
cp "$RECIPE_DIR/repos.yaml" "$CONFIG_DIR/repos.yaml"
mkdir -p /opt/slurm-factory/toolchain
cp "$RECIPE_DIR/toolchain.yaml" /opt/slurm-factory/toolchain/spack.yaml
if [ ! -s "$CONFIG_DIR/packages.yaml" ]; then
    echo "error: the base image has no compiler config ($CONFIG_DIR/packages.yaml); delete it (slurm-factory cache clean base-images) so the next build prepares it again" >&2
    exit 1
fi
log "environment at $ENV_DIR (compilers and externals from the base image)"
