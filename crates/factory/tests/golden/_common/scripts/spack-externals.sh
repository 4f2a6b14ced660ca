#!/bin/bash
# Finds the container's compiler and build-only tools as Spack externals, into
# the config dir every environment includes (spack.yaml's include:). Run once
# per base image by provision.sh (a minute of `compiler find` and `external
# find`), so every build of that image starts from the result.
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
cp "$RECIPE_DIR/repos.yaml" "$CONFIG_DIR/repos.yaml"
printf 'spack:\n  include:\n  - path: %s\n  specs: []\n' "$CONFIG_DIR" >"$ENV_DIR/spack.yaml"
scope="env:$ENV_DIR:$CONFIG_DIR"
log "finding the container's compiler and build tools"
"$SPACK" -e "$ENV_DIR" compiler find --scope "$scope"
"$SPACK" -e "$ENV_DIR" external find --not-buildable --scope "$scope" autoconf automake libtool m4 gmake cmake ninja meson perl python pkgconf bison flex gawk texinfo diffutils findutils tar git ccache
rm -f "$ENV_DIR/spack.yaml"
test -s "$CONFIG_DIR/packages.yaml" || { echo "error: Spack found no compiler or build tools" >&2; exit 1; }
