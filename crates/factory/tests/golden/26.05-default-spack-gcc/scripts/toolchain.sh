#!/bin/bash
# Builds gcc@14.3.0 with the container's gcc and registers it as a
# compiler; runs between spack-setup.sh and concretize.sh. Spack 1.1 solves
# only with external or installed compilers, so it cannot be part of the
# main environment's solve.
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
TOOLCHAIN_DIR=/opt/slurm-factory/toolchain

"$SPACK" -e "$TOOLCHAIN_DIR" concretize -f
"$SPACK" -e "$TOOLCHAIN_DIR" install -j 8 --fail-fast
gcc_prefix=$("$SPACK" -e "$TOOLCHAIN_DIR" location -i gcc@14.3.0)
"$SPACK" -e "$ENV_DIR" compiler find --scope "env:$ENV_DIR:$CONFIG_DIR" "$gcc_prefix/bin"
