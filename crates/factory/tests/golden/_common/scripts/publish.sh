#!/bin/bash
# Pushes this build's Spack binaries to the buildcache the user publishes to.
#   publish.sh URL all|deps [KEY_FILE]
# `deps`: every dependency, not the environment's roots. With KEY_FILE (a
# secret GPG key put there for this script alone) the push is signed and the
# public key is published with the binaries, for `spack buildcache keys
# --install --trust` on a cluster. The key and the GnuPG home it went into
# are removed when the script ends, however it ends.
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
url=$1
scope=$2
key_file=${3:-}
sign=(--unsigned)
only=()
[ "$scope" = deps ] && only=(--only dependencies)
if [ -n "$key_file" ]; then
    export SPACK_GNUPGHOME
    SPACK_GNUPGHOME=$(mktemp -d /run/slurm-factory-gnupg.XXXXXX)
    forget_key() {
        gpgconf --homedir "$SPACK_GNUPGHOME" --kill all 2>/dev/null || true
        rm -rf "$SPACK_GNUPGHOME" "$key_file"
    }
    trap forget_key EXIT
    gpg --batch --quiet --homedir "$SPACK_GNUPGHOME" --import "$key_file"
    rm -f "$key_file"
    fingerprint=$(gpg --batch --homedir "$SPACK_GNUPGHOME" --with-colons --list-secret-keys \
        | awk -F: '$1 == "fpr" { print $10; exit }')
    log "signing with key $fingerprint"
    sign=(--key "$fingerprint")
fi
"$SPACK" -e "$ENV_DIR" buildcache push "${sign[@]}" "${only[@]}" --update-index "$url"
if [ -n "$key_file" ]; then
    "$SPACK" gpg publish --mirror-url "$url" --update-index "$fingerprint"
fi
