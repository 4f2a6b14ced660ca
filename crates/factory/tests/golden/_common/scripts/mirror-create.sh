#!/bin/bash
# `slurm-factory mirror create`: fills the mirror layer with every source of
# the solved environment (Spack tries its configured mirrors, an
# upstream_mirror among them, before each package's own URL), and leaves in
# the out dir what an air-gapped host needs besides: the Spack and
# spack-packages trees this build used and the clingo wheels for this
# image's Python. A source no fetcher finds is reported by the check that
# follows, by name, so Spack's own error does not stop the snapshot.
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
OFFLINE=/opt/slurm-factory/out/offline

envs=("$ENV_DIR")
for env in "${envs[@]}"; do
    log "spack mirror create for $env"
    "$SPACK" -e "$env" mirror create --directory /opt/slurm-factory/cache/mirror --all ||
        log "spack mirror create reported errors; the source check below names what is missing"
done

rm -rf "$OFFLINE"
mkdir -p "$OFFLINE/spack" "$OFFLINE/spack-packages" "$OFFLINE/wheels"
snapshot() { # from to
    tar -C "$1" --exclude=.git --exclude=__pycache__ -cf - . | tar -C "$2" -xf -
}
log "snapshot of Spack and spack-packages"
snapshot "$SPACK_ROOT" "$OFFLINE/spack"
snapshot /opt/slurm-factory/spack-packages "$OFFLINE/spack-packages"
# boto3: Spack's S3 client, for publishing to s3:// from the air-gapped site.
log "downloading the clingo and boto3 wheels for $("$SPACK_PYTHON" --version)"
"$SPACK_PYTHON" -m pip download --quiet --only-binary=:all: --dest "$OFFLINE/wheels" clingo boto3
