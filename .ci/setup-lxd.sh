#!/usr/bin/env bash
# Prepares this machine for Slurm Factory's LXD tests: installs and starts LXD,
# initialises a `dir` pool (and a loop-backed btrfs pool when possible), keeps
# host root from being mapped into containers, and builds + imports the test
# images with debootstrap, and prepares the offline Spack site of the
# real-Spack test (.ci/spack-site.sh: Spack, spack-packages, clingo wheels and
# Debian's sources as a Spack mirror), and starts a second LXD server trusted
# as the remote `sf-remote` (.ci/lxd-remote.sh), and installs moto's S3 server
# in a virtualenv (the S3 endpoint of the publish test). Idempotent: a second
# run only checks and exits.
#
# Must run as root. Environment knobs:
#   SF_CI_CACHE      where image tarballs and debootstrap downloads are kept
#                    (default ~/.cache/slurm-factory-ci)
#   SF_CI_NO_BTRFS=1 skip the btrfs pool
#   SF_CI_REBUILD=1  rebuild the image tarballs even if cached
#   SF_CI_BENCH=1    time a launch on every pool (slow on a `dir` pool)
#   SF_CI_IMAGES     build and import only these images (default: all)
#   SF_CI_READY      a file to create once what the real-Spack test needs is
#                    ready (the other images are built after it)
set -eEuo pipefail
# set -e alone exits without a word; say which command stopped the setup.
trap 'printf "%s: line %s failed (exit %s): %s\\n" setup-lxd "$LINENO" "$?" "$BASH_COMMAND" >&2' ERR

# ---- What the images contain (add an image: a name in IMAGES + its list) ----
# The Debian suite of every image unless SUITE_<image> names another.
SUITE=bookworm
# Every image: an init for LXD to boot and the shell the pipeline's scripts use.
BASE_PACKAGES="systemd-sysv bash coreutils tar ca-certificates"
# Compilers and ELF tools for the build stage of the test recipe.
PACKAGES_sf_test_build="zstd lmod gcc g++ make binutils patchelf file"
# A clean instance for verification: no compiler on purpose. iproute2, as in
# every cloud image: a verify node takes its address on the verify network.
PACKAGES_sf_test_plain="zstd lmod procps hostname iproute2"
# The real Spack build (tests/tests/spack.rs): exactly what the product's
# provision.sh installs with apt when it has a network (its list is data in
# templates/scripts/_apt-packages.j2); build containers have none here.
PACKAGES_sf_spack_build=$(grep -v '^{#' "$(dirname "$0")/../templates/scripts/_apt-packages.j2" | tr -s ' \n' ' ')
# A target system with none of Slurm's dependencies: no munge, no zstd (the
# package must bring its own munged; only a .tar.gz unpacks here). Lmod for the
# module check; iproute2: an instance without a network device needs an
# address on lo for Slurm (verify.sh explains).
PACKAGES_sf_verify_bare="lmod procps hostname iproute2"
# An older target (Debian 11, glibc 2.31) than the build images (glibc 2.36):
# a package built on Debian 12 needs a newer glibc than it has.
PACKAGES_sf_test_bullseye="zstd lmod procps hostname"
SUITE_sf_test_bullseye=bullseye
# The test recipe's build and verify images on Debian 13 (glibc 2.41), for
# the toolchain tests: built on one OS, verified on the same or another.
PACKAGES_sf_test_build_trixie=$PACKAGES_sf_test_build
SUITE_sf_test_build_trixie=trixie
PACKAGES_sf_test_plain_trixie=$PACKAGES_sf_test_plain
SUITE_sf_test_plain_trixie=trixie
IMAGES="${SF_CI_IMAGES:-sf-test-build sf-test-plain sf-spack-build sf-verify-bare sf-test-bullseye sf-test-build-trixie sf-test-plain-trixie}"
# Bump when the rootfs tweaks below change, so cached tarballs are rebuilt.
IMAGE_RECIPE_VERSION=2

BTRFS_POOL=sf-btrfs
BTRFS_SIZE=20GiB
CACHE="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}"
LXD_LOG=/var/log/slurm-factory-ci-lxd.log

START=$SECONDS
declare -a SUMMARY=()
note() { printf '\033[1m==>\033[0m %s\n' "$*"; }
say() { SUMMARY+=("$*"); }
die() { printf 'setup-lxd: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (LXD, debootstrap and /etc/subuid need it)"

# ---- Packages ----
need=()
for pkg in lxd lxd-client iptables debootstrap btrfs-progs zstd python3-pip python3-venv; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    note "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ---- The daemon ----
lxd_up() { lxc query /1.0 >/dev/null 2>&1; }

start_lxd() {
    if command -v systemctl >/dev/null && systemctl list-unit-files lxd.service >/dev/null 2>&1 \
        && [ -d /run/systemd/system ]; then
        systemctl start lxd
    else
        # Detached, so it outlives this script and the CI step that ran it;
        # from /, so its rsync (copies on a dir pool) never runs in a
        # checkout a later run deletes. exec: no shell stays behind holding
        # this script's stdout (a pipe to `tee` would then never end).
        (cd / && exec setsid lxd --group root --logfile "$LXD_LOG" </dev/null >>"$LXD_LOG" 2>&1 &)
    fi
    lxd waitready --timeout 60 || die "LXD did not become ready; last lines of $LXD_LOG:
$(tail -n 20 "$LXD_LOG" 2>/dev/null)"
}

stop_lxd() {
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ] \
        && systemctl is-active --quiet lxd 2>/dev/null; then
        systemctl stop lxd
    else
        lxd shutdown --timeout 60 || die "LXD did not shut down; see $LXD_LOG"
    fi
}

# ---- Name lookup for the daemon ----
# LXD names the owner of every file it archives (`lxc publish`: uid 100000 and
# the like, thousands of getpwuid_r calls per image) through NSS, and now and
# then closes a descriptor it no longer owns. nss-systemd opens a dozen O_PATH
# descriptors per lookup and aborts the process when closing one fails with
# EBADF (systemd's safe_close()), so with `systemd` in nsswitch.conf
# (libnss-systemd comes with the test packages) LXD 5.0 died of SIGABRT under
# the tests. Where PID 1 is not systemd (CI machines, containers, WSL),
# nss-systemd answers nothing that `files` does not (its users come from
# systemd's own services), so lookups go to `files` alone; doctor names the
# same fix for users.
nss_changed=0
if [ ! -d /run/systemd/system ] \
    && grep -Eq '^(passwd|group|shadow|gshadow):.*[[:space:]]systemd([[:space:]]|$)' /etc/nsswitch.conf; then
    [ -e /etc/nsswitch.conf.slurm-factory-orig ] || cp -p /etc/nsswitch.conf /etc/nsswitch.conf.slurm-factory-orig
    sed -i -E '/^(passwd|group|shadow|gshadow):/s/[[:space:]]+systemd([[:space:]]|$)/\1/' /etc/nsswitch.conf
    nss_changed=1
    say "nsswitch.conf: systemd dropped from passwd/group/shadow/gshadow (PID 1 is not systemd; original kept as /etc/nsswitch.conf.slurm-factory-orig)"
fi

# Host root is never mapped into an instance (Slurm Factory run as root uses
# LXD's unprivileged map): take back the `root:0:1` delegation that earlier
# versions of this script added, so nothing can map it. LXD reads these files
# only when it starts.
idmap_changed=0
for f in /etc/subuid /etc/subgid; do
    if grep -qx 'root:0:1' "$f" 2>/dev/null; then
        sed -i '/^root:0:1$/d' "$f"
        idmap_changed=1
    fi
done

# A daemon an earlier run started inside its checkout, since deleted: LXD's
# rsync inherits that working directory and fails ("getcwd(): No such file or
# directory"), so instance copies on a dir pool fail.
lxd_cwd_gone() {
    local pid
    pid=$(pgrep -f -- "lxd --group root --logfile $LXD_LOG" | head -1)
    [ -n "$pid" ] && readlink "/proc/$pid/cwd" | grep -q ' (deleted)$'
}

if lxd_up; then
    if [ "$idmap_changed" = 1 ] || [ "$nss_changed" = 1 ]; then
        note "restarting LXD: /etc/subuid, /etc/subgid or /etc/nsswitch.conf changed"
        stop_lxd
        start_lxd
    elif lxd_cwd_gone; then
        note "restarting LXD: its working directory was deleted"
        stop_lxd
        start_lxd
    fi
else
    note "starting LXD (log: $LXD_LOG)"
    start_lxd
fi
say "LXD $(lxc query /1.0 | sed -n 's/.*"server_version": *"\([^"]*\)".*/\1/p' | head -1) reachable"

# ---- Storage ----
if [ "$(lxc storage list --format csv | wc -l)" -eq 0 ]; then
    note "lxd init: dir pool 'default', no network"
    lxd init --preseed <<'EOF'
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF
fi

if [ "${SF_CI_NO_BTRFS:-0}" != 1 ] && ! lxc storage show "$BTRFS_POOL" >/dev/null 2>&1; then
    note "creating loop-backed btrfs pool $BTRFS_POOL ($BTRFS_SIZE, sparse)"
    lxc storage create "$BTRFS_POOL" btrfs size="$BTRFS_SIZE" \
        || note "btrfs pool not available here; tests will use the dir pool"
fi

# ---- Images ----
mirror() {
    # The Debian mirror apt already uses (respects local mirrors and proxies).
    local uri=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        uri=$(awk '/^Types:/ {deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/)}
                   /^URIs:/ && deb {print $2; exit}' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
            /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/*.sources}"
    # Security and update archives are not what debootstrap wants.
    case "$uri" in *-security*) die "first apt source is a security archive: $uri" ;; esac
    printf '%s\n' "$uri"
}

# The Debian suite of one image.
suite_of() {
    local var="SUITE_${1//-/_}"
    printf '%s\n' "${!var:-$SUITE}"
}

# The packages of one image, base included.
packages_of() {
    local var="PACKAGES_${1//-/_}"
    printf '%s %s\n' "$BASE_PACKAGES" "${!var}"
}

build_tarball() {
    local alias=$1 tarball=$2 pkgs root suite
    suite=$(suite_of "$alias")
    pkgs=$(packages_of "$alias" | tr -s ' ' '\n' | grep -v '^$' | sort -u | paste -sd, -)
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    # (cleared as it runs: a RETURN trap left set would fire again when the
    # caller returns, where $root is not set)
    trap 'rm -rf "$root"; trap - RETURN' RETURN
    mkdir -p "$root/rootfs" "$root/templates" "$CACHE/debs"
    note "debootstrap $suite ($alias): $pkgs"
    debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
        "$suite" "$root/rootfs" "$(mirror)" >"$root/debootstrap.log" 2>&1 \
        || { tail -30 "$root/debootstrap.log" >&2; die "debootstrap failed for $alias"; }
    # Slim and container-ready: no package caches, no machine id (systemd
    # makes one per instance), the hostname set from the instance name.
    rm -rf "$root"/rootfs/var/cache/apt/archives/*.deb "$root"/rootfs/var/lib/apt/lists/*
    : >"$root/rootfs/etc/machine-id"
    # LXD stops a container with SIGPWR; systemd only reaches sigpwr.target
    # on it, which Debian leaves empty, so `lxc stop` would wait forever.
    ln -sf /lib/systemd/system/poweroff.target "$root/rootfs/etc/systemd/system/sigpwr.target"
    printf '{{ container.name }}\n' >"$root/templates/hostname.tpl"
    printf '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n' >"$root/templates/hosts.tpl"
    cat >"$root/metadata.yaml" <<EOF
architecture: $(dpkg --print-architecture)
creation_date: $(date +%s)
properties:
  os: debian
  release: $suite
  variant: minbase
  description: slurm-factory CI image $alias (debian $suite)
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
EOF
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf - metadata.yaml templates rootfs \
        | zstd -q -T0 -3 -o "$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
}

import_image() {
    local alias=$1 tarball=$2 want have
    # A unified tarball's LXD fingerprint is its sha256.
    want=$(sha256sum "$tarball" | cut -d' ' -f1)
    have=$(lxc image info "$alias" 2>/dev/null | sed -n 's/^Fingerprint: //p') || true
    if [ "$have" = "$want" ]; then
        say "image $alias: up to date (${want:0:12})"
        return
    fi
    # An older build under this alias: drop it, it only takes space.
    [ -z "$have" ] || lxc image delete "$alias"
    if lxc image info "$want" >/dev/null 2>&1; then
        lxc image alias create "$alias" "$want"
    else
        note "importing $alias"
        lxc image import "$tarball" --alias "$alias" >/dev/null
    fi
    say "image $alias: imported (${want:0:12}, $(du -h "$tarball" | cut -f1))"
}

# One image: its tarball built when missing (or SF_CI_REBUILD=1), then imported.
ensure_image() {
    local alias=$1 key tarball t0
    # The tarball's name carries a hash of what goes into it.
    key=$(printf '%s\n' "$(suite_of "$alias")" "$BASE_PACKAGES" "$(packages_of "$alias")" \
        "$IMAGE_RECIPE_VERSION" "$(dpkg --print-architecture)" | sha256sum | cut -c1-16)
    tarball="$CACHE/$alias-$key.tar.zst"
    if [ ! -f "$tarball" ] || [ "${SF_CI_REBUILD:-0}" = 1 ]; then
        t0=$SECONDS
        build_tarball "$alias" "$tarball"
        say "image $alias: built in $((SECONDS - t0)) s"
        # Older tarballs of this image are dead weight now.
        find "$CACHE" -maxdepth 1 -name "$alias-*.tar.zst" ! -name "${tarball##*/}" -delete
    fi
    import_image "$alias" "$tarball"
}

# The real-Spack test's images come first: that test, the longest, starts as
# soon as they, the Spack site, the remote and the S3 server are ready (the
# file SF_CI_READY names appears), while the other images are built.
SPACK_TEST_IMAGES=" sf-spack-build sf-verify-bare "
mkdir -p "$CACHE"
for alias in $IMAGES; do
    case "$SPACK_TEST_IMAGES" in *" $alias "*) ensure_image "$alias" ;; esac
done

# ---- Which pool the tests use ----
pool=default
if lxc storage show "$BTRFS_POOL" >/dev/null 2>&1; then
    pool=$BTRFS_POOL
fi

# ---- A second LXD server, reached over HTTPS as the remote `sf-remote` ----
bash "$(dirname "$0")/lxd-remote.sh" start
say "second LXD server: remote sf-remote ($(lxc storage list sf-remote: --format csv | cut -d, -f1 | paste -sd' ' -))"

# ---- The offline Spack site the real-Spack test builds with ----
spack_site_env=$(SF_CI_CACHE="$CACHE" bash "$(dirname "$0")/spack-site.sh" x86_64_v3)
say "Spack site: ${spack_site_env%/env}"

# ---- A real S3 endpoint for the publish test: moto's server, from PyPI ----
# (no S3 server is packaged in Debian 12). Reused while it imports.
moto="$CACHE/moto-venv"
if ! "$moto/bin/python" -c 'import moto.server, boto3' >/dev/null 2>&1; then
    note "installing moto's S3 server into $moto"
    rm -rf "$moto"
    python3 -m venv "$moto"
    "$moto/bin/pip" install --quiet 'moto[server]' || die "pip install moto[server] failed (PyPI must be reachable once)"
fi
say "S3 test server: $("$moto/bin/python" -c 'import moto; print("moto", moto.__version__)')"

{
    cat <<EOF
SLURM_FACTORY_TEST_IMAGE=sf-test-build
SLURM_FACTORY_TEST_PLAIN_IMAGE=sf-test-plain
SLURM_FACTORY_TEST_OLD_GLIBC_IMAGE=sf-test-bullseye
SLURM_FACTORY_TEST_TRIXIE_IMAGE=sf-test-build-trixie
SLURM_FACTORY_TEST_TRIXIE_PLAIN_IMAGE=sf-test-plain-trixie
SLURM_FACTORY_TEST_POOL=$pool
SLURM_FACTORY_TEST_SPACK_IMAGE=sf-spack-build
SLURM_FACTORY_TEST_BARE_IMAGE=sf-verify-bare
SLURM_FACTORY_TEST_CACHE=$CACHE/spack-build-cache
SLURM_FACTORY_TEST_APT_CACHE=$CACHE/app-install-debs
SLURM_FACTORY_TEST_REMOTE=sf-remote
SLURM_FACTORY_TEST_MOTO=$moto
EOF
    # The daemon's log, for the test run's report if it dies (systemd: its journal).
    [ -d /run/systemd/system ] || echo "SLURM_FACTORY_TEST_LXD_LOG=$LXD_LOG"
    cat "$spack_site_env"
} >"$CACHE/env"

# The real-Spack test may start now; the other tests wait for the end.
[ -z "${SF_CI_READY:-}" ] || touch "$SF_CI_READY"

for alias in $IMAGES; do
    case "$SPACK_TEST_IMAGES" in *" $alias "*) ;; *) ensure_image "$alias" ;; esac
done

# Seconds from `lxc launch` until `lxc exec` works, as "1.2".
time_launch() {
    local p=$1 name="sf-ci-probe-$$" t0 ms
    lxc delete -f "$name" >/dev/null 2>&1 || true
    t0=$(date +%s%N)
    lxc launch sf-test-build "$name" -s "$p" >/dev/null
    until lxc exec "$name" -- true >/dev/null 2>&1; do sleep 0.1; done
    ms=$((($(date +%s%N) - t0) / 1000000))
    lxc delete -f "$name" >/dev/null
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

if [ "${SF_CI_BENCH:-0}" = 1 ]; then
    for p in $(lxc storage list --format csv | cut -d, -f1); do
        say "launch sf-test-build on pool $p: first $(time_launch "$p") s, second $(time_launch "$p") s"
    done
fi

echo
note "summary ($((SECONDS - START)) s)"
while IFS=, read -r name driver _; do
    echo "  pool $name: $driver"
done < <(lxc storage list --format csv)
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "  tests: export \$(cat $CACHE/env)   # $(paste -sd' ' "$CACHE/env")"
