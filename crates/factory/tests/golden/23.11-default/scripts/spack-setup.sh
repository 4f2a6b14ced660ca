#!/bin/bash
# Creates the Spack environment from the rendered spack.yaml and writes the
# config it includes: the recipe repository, the container's compiler and
# the build-only tools as externals.
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

mkdir -p "$ENV_DIR" "$CONFIG_DIR"
cp "$RECIPE_DIR/spack.yaml" "$ENV_DIR/spack.yaml"
printf 'repos:\n  builtin: %s\n' /opt/slurm-factory/spack-packages/repos/spack_repo/builtin >"$CONFIG_DIR/repos.yaml"

# The scope of the directory spack.yaml includes: externals land there, and
# the rendered spack.yaml stays as rendered.
scope="env:$ENV_DIR:$CONFIG_DIR"
if [ ! -f "$CONFIG_DIR/packages.yaml" ]; then
    log "finding the container's compiler and build tools"
    "$SPACK" -e "$ENV_DIR" compiler find --scope "$scope"
    "$SPACK" -e "$ENV_DIR" external find --not-buildable --scope "$scope" autoconf automake libtool m4 gmake cmake ninja meson perl python pkgconf bison flex gawk texinfo diffutils findutils tar git ccache
fi
"$SPACK" -e "$ENV_DIR" mirror list
