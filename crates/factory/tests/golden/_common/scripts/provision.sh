#!/bin/bash
# Prepares the base image: build tools and Lmod from apt or dnf (the
# toolchain's package manager), Spack and spack-packages at pinned refs (or
# pushed in, offline), a Python with clingo
# for Spack's solver, and the container's compiler and build-only tools found
# by Spack once: every build of this base image starts from that config.
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

apt_packages=(
build-essential
gfortran
binutils
patchelf
file
ca-certificates
git
patch
unzip
bzip2
xz-utils
zstd
python3
python3-venv
autoconf
automake
libtool
m4
pkgconf
bison
flex
cmake
ninja-build
meson
perl
gawk
texinfo
gettext
ccache
lmod
gpg
gpg-agent
)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ -n "${missing[*]-}" ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi


# Every program a later stage runs, checked now rather than after the install.
absent=()
for tool in gcc g++ make patchelf readelf objcopy strip ldconfig realpath find du sed grep awk mktemp tar gzip bzip2 xz zstd unzip patch file ccache python3; do
    command -v "$tool" >/dev/null || absent+=("$tool")
done
if [ -n "${absent[*]-}" ]; then
    echo "error: the build image has no ${absent[*]} (needed by the install and package stages); install them in the image or add their packages to scripts/_apt-packages.j2" >&2
    exit 1
fi

mkdir -p /opt/slurm-factory/env /opt/slurm-factory/config /opt/slurm-factory/store /opt/slurm-factory/view /opt/slurm-factory/cache/buildcache /opt/slurm-factory/cache/mirror /opt/slurm-factory/cache/ccache /opt/slurm-factory/out

# Each release at the commit this Slurm Factory pins for it (scripts/git-clone.sh).
bash "$RECIPE_DIR/scripts/git-clone.sh" https://github.com/spack/spack.git v1.1.0 "$SPACK_ROOT" 2e907202bcc8209a6a62243aab50c179b524cc3b
bash "$RECIPE_DIR/scripts/git-clone.sh" https://github.com/spack/spack-packages.git v2025.11.0 /opt/slurm-factory/spack-packages 119680aeee8ea802c6111b7167583bddef97e82f

if [ ! -x "$SPACK_PYTHON" ]; then
    log "creating the Python environment for Spack's solver"
    python3 -m venv /opt/slurm-factory/python
    "$SPACK_PYTHON" -m pip install --quiet clingo
fi
"$SPACK" --version

# The container's compiler and build-only tools, found by Spack once per base image.
bash "$RECIPE_DIR/scripts/spack-externals.sh"
