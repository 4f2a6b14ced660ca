#!/bin/bash
# Solves the environment into spack.lock. A spack.lock pushed next to the
# recipe (from an identical earlier build) is reused: Spack installs from a
# lock without solving again. Then checks that every runtime library is one
# Spack builds, not an external from the container: known here, before any
# install.
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

if [ -f "$RECIPE_DIR/spack.lock" ]; then
    log "reusing the cached spack.lock"
    cp "$RECIPE_DIR/spack.lock" "$ENV_DIR/spack.lock"
else
    "$SPACK" -e "$ENV_DIR" concretize -f
fi

"$SPACK_PYTHON" - "$ENV_DIR/spack.lock" munge json-c hwloc pmix libevent lz4 curl openssl zlib zlib-ng glib readline ncurses libyaml libjwt http-parser jansson libxml2 xz numactl libpciaccess libgcrypt libgpg-error nghttp2 prrte gettext <<'PY'
import json
import sys

lock, runtime_libs = sys.argv[1], set(sys.argv[2:])
bad = 0
for spec in json.load(open(lock))["concrete_specs"].values():
    if spec["name"] in runtime_libs and "external" in spec:
        path = spec["external"].get("path")
        print(f"error: runtime library {spec['name']} would come from {path} (an external "
              "of the container), not from Spack's store", file=sys.stderr)
        bad = 1
sys.exit(bad)
PY
