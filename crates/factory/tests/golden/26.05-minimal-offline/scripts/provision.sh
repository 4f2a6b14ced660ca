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
    echo "error: the build image lacks ${missing[*]}, and an offline build cannot install packages (no network); use an image that has them (its list: scripts/_apt-packages.j2 of the templates)" >&2
    exit 1
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

# Offline: Spack, spack-packages and the clingo wheels were pushed in.
for d in "$SPACK_ROOT/bin/spack" /opt/slurm-factory/spack-packages/repos/spack_repo/builtin /opt/slurm-factory/wheels; do
    if [ ! -e "$d" ]; then
        echo "error: offline build but $d is missing; set spack_root, spack_packages_root and wheels_dir" >&2
        exit 1
    fi
done

if [ ! -x "$SPACK_PYTHON" ]; then
    log "creating the Python environment for Spack's solver"
    python3 -m venv /opt/slurm-factory/python
    if ! "$SPACK_PYTHON" -m pip install --quiet --no-index --find-links /opt/slurm-factory/wheels clingo; then
        py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        echo "error: wheels_dir has no clingo wheel for this image's Python $py on $(uname -m); on a machine with internet: python3 -m pip download --only-binary=:all: --python-version $py --platform manylinux2014_$(uname -m) -d DIR clingo, then set wheels_dir to DIR" >&2
        rm -rf /opt/slurm-factory/python
        exit 1
    fi
fi
"$SPACK" --version

# The container's compiler and build-only tools, found by Spack once per base image.
bash "$RECIPE_DIR/scripts/spack-externals.sh"
