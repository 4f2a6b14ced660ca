#!/bin/bash
# Pushes this build's Spack binaries to the buildcache the user publishes to.
#   publish.sh URL all|deps [--key KEY_FILE] [--credentials FILE] [--ca CERT]
# `deps`: every dependency, not the environment's roots. With --key (a secret
# GPG key put there for this script alone) the push is signed and the public
# key is published with the binaries, for `spack buildcache keys --install
# --trust` on a cluster. --credentials: a registry's `username=` and
# `password=` lines; they reach Spack as variables of this script only.
# --ca: a CA certificate trusted for the push besides the system's. Key,
# credentials and the GnuPG home are removed when the script ends, however it
# ends.
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
shift 2
key_file=""
credentials=""
ca=""
while [ $# -gt 0 ]; do
    case $1 in
        --key) key_file=$2 ;;
        --credentials) credentials=$2 ;;
        --ca) ca=$2 ;;
        *) echo "publish.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
gnupg_home=""
forget_secrets() {
    if [ -n "$gnupg_home" ]; then
        gpgconf --homedir "$gnupg_home" --kill all 2>/dev/null || true
        rm -rf "$gnupg_home"
    fi
    rm -f "$key_file" "$credentials"
    if [ -n "$ca" ]; then rm -f "$SSL_CERT_FILE"; fi
}
trap forget_secrets EXIT

sign=(--unsigned)
if [ -n "$key_file" ]; then
    gnupg_home=$(mktemp -d /run/slurm-factory-gnupg.XXXXXX)
    export SPACK_GNUPGHOME=$gnupg_home
    gpg --batch --quiet --homedir "$gnupg_home" --import "$key_file"
    rm -f "$key_file"
    fingerprint=$(gpg --batch --homedir "$gnupg_home" --with-colons --list-secret-keys \
        | awk -F: '$1 == "fpr" { print $10; exit }')
    log "signing with key $fingerprint"
    sign=(--key "$fingerprint")
fi

if [ -n "$ca" ]; then
    # Python's ssl (Spack's HTTPS) reads SSL_CERT_FILE: the system's CAs and this one.
    export SSL_CERT_FILE
    SSL_CERT_FILE=$(mktemp /run/slurm-factory-ca-bundle.XXXXXX)
    cat /etc/ssl/certs/ca-certificates.crt "$ca" > "$SSL_CERT_FILE" 2>/dev/null || cat "$ca" > "$SSL_CERT_FILE"
fi

target=$url
if [ -n "$credentials" ]; then
    SLURM_FACTORY_REGISTRY_USERNAME=$(sed -n 's/^username=//p' "$credentials" | head -n1)
    SLURM_FACTORY_REGISTRY_PASSWORD=$(sed -n 's/^password=//p' "$credentials" | head -n1)
    rm -f "$credentials"
    export SLURM_FACTORY_REGISTRY_USERNAME SLURM_FACTORY_REGISTRY_PASSWORD
    # A named mirror carries the names of the variables, never their values.
    "$SPACK" -e "$ENV_DIR" mirror add \
        --oci-username-variable SLURM_FACTORY_REGISTRY_USERNAME \
        --oci-password-variable SLURM_FACTORY_REGISTRY_PASSWORD \
        slurm-factory-publish "$url"
    target=slurm-factory-publish
    log "pushing as registry user $SLURM_FACTORY_REGISTRY_USERNAME"
fi

only=()
[ "$scope" = deps ] && only=(--only dependencies)
"$SPACK" -e "$ENV_DIR" buildcache push "${sign[@]}" "${only[@]}" --update-index "$target"
if [ -n "$key_file" ]; then
    "$SPACK" gpg publish --mirror-url "$url" --update-index "$fingerprint"
fi
