#!/bin/bash
# Publishes this build to the buildcache the user gave (file://, s3://, oci://):
#   publish.sh file|s3|oci URL all|deps|none [--key KEY_FILE] [--credentials FILE] [--ca CERT]
#              [--endpoint S3_URL] [--files DIR --artifact ID]
# Pushes the Spack binaries (`deps`: every dependency, not the environment's
# roots; `none`: no binaries). With --key (a secret GPG key put there for this
# script alone) the push is signed and the public key is published with the
# binaries (a cluster trusts the key it got from the publisher, fingerprint
# checked, not the one it finds there: see the README).
# --credentials: a registry's or S3 key's `username=` and `password=` lines;
# they reach Spack as variables of this script only. --ca: a CA certificate
# trusted besides the system's. --endpoint: the S3 endpoint. --files: the
# archives, manifest and signatures, published beside the buildcache as
# artifact ID (publish-files.py). Key, login, files and the GnuPG home are
# removed when the script ends, however it ends.
# It runs in an instance of its own, fresh from the base image, where no
# package was ever built: the solved environment (spack.lock) is installed
# here from the buildcache layer (read-only), then pushed from here.
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
# read_login FILE: the `username=`/`password=` lines of FILE into the
# exported variables a mirror's login names; FILE is removed.
read_login() {
    SLURM_FACTORY_REGISTRY_USERNAME=$(sed -n 's/^username=//p' "$1" | head -n1)
    SLURM_FACTORY_REGISTRY_PASSWORD=$(sed -n 's/^password=//p' "$1" | head -n1)
    rm -f "$1"
    export SLURM_FACTORY_REGISTRY_USERNAME SLURM_FACTORY_REGISTRY_PASSWORD
}

# trust_ca FILE: the system's CAs and FILE's, for Python's ssl (Spack's
# HTTPS reads SSL_CERT_FILE) and boto3 (AWS_CA_BUNDLE).
trust_ca() {
    export SSL_CERT_FILE AWS_CA_BUNDLE
    SSL_CERT_FILE=$(mktemp /run/slurm-factory-ca-bundle.XXXXXX)
    cat /etc/ssl/certs/ca-certificates.crt "$1" > "$SSL_CERT_FILE" 2>/dev/null || cat "$1" > "$SSL_CERT_FILE"
    AWS_CA_BUNDLE=$SSL_CERT_FILE
}

# ensure_boto3: Spack's S3 client in Spack's Python, unless it is there
# (offline from the wheels).
ensure_boto3() {
    "$SPACK_PYTHON" -c 'import boto3' 2>/dev/null && return
    log "installing boto3 (Spack's S3 client)"
    "$SPACK_PYTHON" -m pip install --quiet boto3
}
kind=$1
url=$2
scope=$3
shift 3
key_file=""
credentials=""
ca=""
endpoint=""
files=""
artifact=""
while [ $# -gt 0 ]; do
    case $1 in
        --key) key_file=$2 ;;
        --credentials) credentials=$2 ;;
        --ca) ca=$2 ;;
        --endpoint) endpoint=$2 ;;
        --files) files=$2 ;;
        --artifact) artifact=$2 ;;
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
    if [ -n "$files" ]; then rm -rf "$files"; fi
}
trap forget_secrets EXIT

bash "$RECIPE_DIR/scripts/spack-setup.sh"
if [ "$scope" != none ]; then
    cp "$RECIPE_DIR/spack.lock" "$ENV_DIR/spack.lock"
    # Only from the layer: the --from buildcaches are the build's (their
    # login never comes here).
    log "installing the environment from the buildcache layer"
    # Build dependencies too: the push takes what the build instance had.
    # The layer is unsigned (with --trust the build's config says signed:
    # it installed nothing from there): this build's binaries are pushed.
    "$SPACK" -e "$ENV_DIR" install --cache-only --include-build-deps --no-check-signature
fi

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

if [ -n "$ca" ]; then trust_ca "$ca"; fi

s3=false
[ "$kind" = s3 ] && s3=true
if $s3; then ensure_boto3; fi

# A named mirror carries the endpoint and the names of the login's
# variables, never their values.
mirror=()
if [ -n "$credentials" ]; then
    read_login "$credentials"
    if $s3; then
        mirror+=(--s3-access-key-id-variable SLURM_FACTORY_REGISTRY_USERNAME
            --s3-access-key-secret-variable SLURM_FACTORY_REGISTRY_PASSWORD)
        log "pushing with S3 access key $SLURM_FACTORY_REGISTRY_USERNAME"
    else
        mirror+=(--oci-username-variable SLURM_FACTORY_REGISTRY_USERNAME
            --oci-password-variable SLURM_FACTORY_REGISTRY_PASSWORD)
        log "pushing as registry user $SLURM_FACTORY_REGISTRY_USERNAME"
    fi
fi
if [ -n "$endpoint" ]; then
    mirror+=(--s3-endpoint-url "$endpoint")
    log "S3 endpoint $endpoint"
fi
target=$url
if [ -n "${mirror[*]-}" ]; then
    "$SPACK" -e "$ENV_DIR" mirror add "${mirror[@]}" slurm-factory-publish "$url"
    target=slurm-factory-publish
fi

if [ "$scope" != none ]; then
    only=()
    [ "$scope" = deps ] && only=(--only dependencies)
    "$SPACK" -e "$ENV_DIR" buildcache push "${sign[@]}" "${only[@]}" --update-index "$target"
    if [ -n "$key_file" ]; then
        "$SPACK" -e "$ENV_DIR" gpg publish --mirror-url "$url" --update-index "$fingerprint"
    fi
fi
if [ -n "$files" ]; then
    "$SPACK" -e "$ENV_DIR" python "$RECIPE_DIR/scripts/publish-files.py" "$kind" "$url" "$artifact" "$files"/*
fi
