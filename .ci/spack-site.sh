#!/usr/bin/env bash
# Prepares the offline Spack site the real-Spack end-to-end test builds with
# (tests/tests/spack.rs), the way an air-gapped site would prepare one:
#
#   spack/            Spack v1.1.0, with a site scope (etc/spack/) that pins every
#                     package of the minimal Slurm closure to the version Debian ships
#   spack-packages/   spack-packages v2025.11.0
#   wheels/           clingo and boto3 (Spack's S3 client) with their dependencies,
#                     for the containers' Python (3.11)
#   mirror/           the sources of the minimal and the default package's closures
#                     in Spack's mirror layout, from Debian's source packages (apt's
#                     downloader), and Slurm 26.05.3 from ../shared/slurm
#   env               the test's variables (SLURM_FACTORY_TEST_SPACK_*, and the
#                     Slurm release the test adds to the product's overlay repo)
#
# The Spack release tarballs come from ../shared/spack (never committed; see
# its README) or $SF_SPACK_TARBALLS; they are copied into the cache on first
# sight. Idempotent: a complete site under $SF_CI_CACHE is reused as it is.
#
#   spack-site.sh TARGET      (the Spack target the pins name, e.g. x86_64_v3)
#
# Prints the path of the env file. apt is pointed at a temporary deb-src list
# derived from the machine's own apt sources, so local mirrors and proxies are
# respected and no mirror host is written anywhere.
set -euo pipefail

TARGET=${1:?usage: spack-site.sh TARGET}
CACHE="${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}"
HERE=$(cd "$(dirname "$0")" && pwd)
# Bump when what this script produces changes: a new site is then made.
SITE_VERSION=6
SITE="$CACHE/spack-site-$TARGET-v$SITE_VERSION"
SRC_CACHE="$CACHE/debian-sources"
SPACK_TARBALL=spack-v1.1.0.tar.zst
PACKAGES_TARBALL=spack-packages-v2025.11.0.tar.zst

die() { printf 'spack-site: %s\n' "$*" >&2; exit 1; }
note() { printf '==> spack-site: %s\n' "$*" >&2; }

# The closure of the minimal and the default package, as Spack names each package, and the
# Debian source package and suite it comes from. bookworm where its version builds
# with Spack's recipe; trixie where bookworm's does not (libgcrypt 1.10.1 rejects
# Spack's flag patch and 1.11 needs libgpg-error >= 1.49; munge, zlib and zstd:
# versions Spack's recipes know). No glib (nor gettext, elfutils, pcre2, libffi):
# the overlay's Slurm needs it only for sview (+gtk). Slurm is the newest
# release whose tarball the archive serves here (trixie's 24.11.5; sid's 26.05.5 is
# listed but its pool files answer 404), a version spack-packages does not know: the
# test adds it to the product's overlay repo with this tarball's checksum, as a site
# would. The default package's closure (hwloc, OpenMPI, PMIx, ...) from the newest
# version the archive serves here: several pool files its index lists answer 404
# (pmix 5.0.7, hwloc 2.12.0, libevent 2.1.13, libjwt 1.10.2). Debian has no prrte, and
# bookworm's pmix 4.2.2 is below OpenMPI 5's floor: both are cut out of OpenMPI's own
# orig (3rd-party/, configure generated). Debian's libjwt source leaves out base64.c
# and base64.h (Debian builds it otherwise): a stand-in pair from .ci/libjwt-base64/
# is added. util-macros has no source served (xutils-dev's answers 404); only
# libpciaccess's autoreconf would use it, and its orig has a configure: an external.
CLOSURE="
bzip2           bzip2        bookworm
curl            curl         bookworm
json-c          json-c       bookworm
libxml2         libxml2      bookworm
lz4             lz4          bookworm
ncurses         ncurses      bookworm
nghttp2         nghttp2      bookworm
openssl         openssl      bookworm
xz              xz-utils     bookworm
slurm           slurm-wlm    trixie
libgcrypt       libgcrypt20  trixie
libgpg-error    libgpg-error trixie
munge           munge        trixie
zlib            zlib         trixie
zstd            libzstd      trixie
http-parser     http-parser  bookworm
hwloc           hwloc        bookworm
libpciaccess    libpciaccess bookworm
jansson         jansson      bookworm
libyaml         libyaml      bookworm
libevent        libevent     bookworm
readline        readline     bookworm
numactl         numactl      bookworm
libjwt          libjwt       trixie
openmpi         openmpi      trixie
pmix            openmpi      trixie
prrte           openmpi      trixie
"
# Orig tarballs that are git snapshots without a generated configure: made into
# the release tarball upstream would ship (autoreconf), once, here.
AUTORECONF="munge nghttp2 libyaml"

if [ -f "$SITE/env" ]; then
    printf '%s\n' "$SITE/env"
    exit 0
fi

for tool in apt-get autoreconf python3 zstd tar sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

# ---- The Spack release tarballs ----
repo=$(cd "$HERE/.." && pwd)
tarballs=""
for dir in "${SF_SPACK_TARBALLS:-}" "$repo/../shared/spack" "$repo/shared/spack" "$CACHE/spack-tarballs"; do
    if [ -n "$dir" ] && [ -f "$dir/$SPACK_TARBALL" ] && [ -f "$dir/$PACKAGES_TARBALL" ]; then
        tarballs=$dir
        break
    fi
done
[ -n "$tarballs" ] || die "no $SPACK_TARBALL and $PACKAGES_TARBALL found: set SF_SPACK_TARBALLS to their directory"
if [ "$tarballs" != "$CACHE/spack-tarballs" ]; then
    mkdir -p "$CACHE/spack-tarballs"
    for t in "$SPACK_TARBALL" "$PACKAGES_TARBALL"; do
        cmp -s "$tarballs/$t" "$CACHE/spack-tarballs/$t" || cp "$tarballs/$t" "$CACHE/spack-tarballs/$t"
    done
fi

work=$(mktemp -d "$CACHE/spack-site.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar --zstd -xf "$tarballs/$SPACK_TARBALL" -C "$work"
tar --zstd -xf "$tarballs/$PACKAGES_TARBALL" -C "$work"
[ -x "$work/spack/bin/spack" ] || die "$SPACK_TARBALL has no spack/bin/spack"
[ -d "$work/spack-packages/repos/spack_repo/builtin" ] || die "$PACKAGES_TARBALL has no repos/spack_repo/builtin"

# ---- Debian's source packages (cached: each orig tarball is fetched once) ----
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$SRC_CACHE"
# One deb-src entry per suite, on the first (non-security) archive the machine's
# apt uses.
uri=""
if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri=$(awk '/^Types:/ {deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/)}
               /^URIs:/ && deb && $2 !~ /-security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /-security/) {print $i; exit}}' \
        /etc/apt/sources.list)
fi
[ -n "$uri" ] || die "no Debian archive found in /etc/apt/sources.list{,.d/*.sources}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for suite in bookworm trixie; do
    {
        echo "Types: deb-src"
        echo "URIs: $uri"
        echo "Suites: $suite"
        echo "Components: main"
        [ -f "$keyring" ] && echo "Signed-By: $keyring"
    } >"$apt_dir/parts/$suite.sources"
done
apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=root")
apt_update() {
    note "apt-get update (deb-src bookworm, trixie)"
    apt-get "${apt_opts[@]}" -qq update || die "apt-get update with deb-src entries failed"
}

# Prints the cached `<pkg>_*.$3.tar.*` file of source package $1 from suite $2:
# its orig tarball (`orig`) or Debian's packaging with its patches (`debian`),
# fetching it once. Only that file is downloaded (apt's own downloader, hash
# checked): a Debian revision whose .dsc the archive no longer serves still
# shares the orig.
source_tarball() {
    local pkg=$1 suite=$2 part=$3 dir="$SRC_CACHE/$2/$1" found line url file hash
    found=$(find "$dir" -maxdepth 1 -name "${pkg}_*.$part.tar.*" ! -name '*.asc' 2>/dev/null | sort | tail -n1)
    if [ -z "$found" ]; then
        line=$(apt-get "${apt_opts[@]}" -qq source --print-uris "$pkg/$suite" 2>/dev/null \
            | grep -E "^'[^']*/${pkg}_[^']*\.$part\.tar\.[a-z0-9]+'" | head -n1) \
            || die "no $part tarball of the $pkg source package in $suite"
        read -r url file _ hash <<<"$line"
        url=${url//\'/}
        note "fetching $file ($suite)"
        mkdir -p "$dir"
        /usr/lib/apt/apt-helper -o APT::Sandbox::User=root -qq download-file "$url" "$dir/$file.partial" "$hash" >&2 \
            || die "downloading $url failed"
        mv "$dir/$file.partial" "$dir/$file"
        found="$dir/$file"
    fi
    printf '%s\n' "$found"
}

# PMIx or PRRTE as OpenMPI's orig bundles it (3rd-party/$2), repacked under the
# name and version its VERSION file gives; prints "VERSION PATH".
bundled_in_openmpi() {
    local orig=$1 sub=$2 name=$3 tmp top version
    tmp=$(mktemp -d "$work/bundled.XXXXXX")
    tar -xf "$orig" -C "$tmp" --wildcards "*/3rd-party/$sub"
    top=$(find "$tmp" -mindepth 3 -maxdepth 3 -type d -path "*/3rd-party/$sub" | head -n1)
    [ -n "$top" ] || die "$orig bundles no 3rd-party/$sub"
    version=$(awk -F= '$1 == "major" {a = $2} $1 == "minor" {b = $2} $1 == "release" {c = $2}
        END {print a "." b "." c}' "$top/VERSION")
    mv "$top" "$tmp/$name-$version"
    tar -C "$tmp" -czf "$work/$name-$version.tar.gz" "$name-$version"
    rm -rf "$tmp"
    printf '%s %s\n' "$version" "$work/$name-$version.tar.gz"
}

# Debian's libjwt orig with the stand-in base64 pair; prints the new tarball.
libjwt_with_base64() {
    local orig=$1 out=$2 tmp top
    tmp=$(mktemp -d "$work/libjwt.XXXXXX")
    tar -xf "$orig" -C "$tmp"
    top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [ -d "$top/libjwt" ] || die "$orig has no libjwt/ directory"
    cp "$HERE/libjwt-base64/base64.c" "$HERE/libjwt-base64/base64.h" "$top/libjwt/"
    tar -C "$tmp" -czf "$out" "${top##*/}"
    rm -rf "$tmp"
}

# An autotools release tarball made from a git snapshot: unpack, autoreconf, repack.
release_tarball() {
    local orig=$1 out=$2 tmp top
    tmp=$(mktemp -d "$work/autoreconf.XXXXXX")
    tar -xf "$orig" -C "$tmp"
    top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [ -n "$top" ] || die "$orig holds no directory"
    if [ -x "$top/autogen.sh" ] && [ ! -f "$top/configure" ]; then
        (cd "$top" && NOCONFIGURE=1 ./autogen.sh >&2) || (cd "$top" && autoreconf -fi >&2)
    elif [ -x "$top/bootstrap" ] && [ ! -f "$top/configure" ]; then
        (cd "$top" && ./bootstrap >&2)
    else
        (cd "$top" && autoreconf -fi >&2)
    fi
    [ -f "$top/configure" ] || die "autoreconf made no configure for $orig"
    tar -C "$tmp" -czf "$out" "${top##*/}"
    rm -rf "$tmp"
}

# ---- The mirror, in Spack's layout: <name>/<name>-<version>.<ext> ----
mirror="$work/mirror"
mkdir -p "$mirror"
apt_update
pins=()
while read -r name debpkg suite; do
    [ -n "$name" ] || continue
    orig=$(source_tarball "$debpkg" "$suite" orig)
    case $name in
    pmix | prrte)
        sub=$([ "$name" = pmix ] && echo openpmix || echo prrte)
        read -r version src <<<"$(bundled_in_openmpi "$orig" "$sub" "$name")"
        pins+=("$name $version")
        printf '%s %s %s\n' "$name" "$version" "$src"
        continue
        ;;
    esac
    base=${orig##*/}
    version=${base#"${debpkg}_"}
    version=${version%%.orig.tar.*}
    version=${version##*really}      # 1.3.dfsg+really1.3.1 -> 1.3.1
    version=${version%%+*}           # 1.5.7+dfsg -> 1.5.7
    version=${version%%~*}
    version=${version%.dfsg}
    version=${version%-stable}       # libevent 2.1.12-stable -> 2.1.12
    if [ "$name" = slurm ]; then
        version=$(printf '%s-1' "$version" | tr . -)   # 24.11.5 -> 24-11-5-1
        slurm_version=$version
        slurm_sha256=$(sha256sum "$orig" | cut -d' ' -f1)
    else
        # Slurm is not pinned: each test names its release, and the default
        # package's (26.05.3) is added below.
        pins+=("$name $version")
    fi
    src=$orig
    if [ "$name" = libjwt ]; then
        src="$work/libjwt-base64.tar.gz"
        libjwt_with_base64 "$orig" "$src"
    fi
    if [[ " $AUTORECONF " == *" $name "* ]]; then
        src="$work/$name-release.tar.gz"
        note "autoreconf $base"
        release_tarball "$orig" "$src"
    fi
    printf '%s %s %s\n' "$name" "$version" "$src"
done <<<"$CLOSURE" >"$work/sources.txt"
# Slurm 26.05.3, the catalogue's default release, as SchedMD ships it (the bytes
# Spack downloads): the default package's test builds it with the product's own
# overlay recipe and checksum.
shared_slurm=""
for dir in "$repo/../shared/slurm" "$repo/shared/slurm" "$CACHE/slurm-tarballs"; do
    if [ -f "$dir/slurm-26-05-3-1.tar.gz" ]; then
        shared_slurm=$dir/slurm-26-05-3-1.tar.gz
        break
    fi
done
[ -n "$shared_slurm" ] || die "no slurm-26-05-3-1.tar.gz in ../shared/slurm"
mkdir -p "$CACHE/slurm-tarballs"
cmp -s "$shared_slurm" "$CACHE/slurm-tarballs/slurm-26-05-3-1.tar.gz" \
    || cp "$shared_slurm" "$CACHE/slurm-tarballs/slurm-26-05-3-1.tar.gz"
echo "slurm 26-05-3-1 $CACHE/slurm-tarballs/slurm-26-05-3-1.tar.gz" >>"$work/sources.txt"

# The file names Spack looks for: <name>/<name>-<version>.<ext>, and for a version its
# recipe checksums _source-cache/archive/<2 hex>/<sha256>.<ext> (the only one it tries
# then). The extension comes from the recipe's URL, while the archive itself is
# recognised by its magic bytes (a .tar.xz under a .tar.bz2 name unpacks).
export SPACK_DISABLE_LOCAL_CONFIG=1 SPACK_USER_CACHE_PATH="$work/spack-user-cache"
mkdir -p "$work/spack-config"
printf 'repos:\n  builtin: %s\n' "$work/spack-packages/repos/spack_repo/builtin" >"$work/spack-config/repos.yaml"
cat >"$work/mirror-names.py" <<'PY'
import os, shutil, sys
import spack.repo
import spack.llnl.url as url
from spack.version import Version
listing, mirror = sys.argv[1], sys.argv[2]
for line in open(listing):
    name, version, src = line.split()
    pkg_cls = spack.repo.PATH.get_pkg_class(name)
    from spack.spec import Spec
    pkg = pkg_cls(Spec(f"{name}@={version}"))
    ext = url.determine_url_file_extension(pkg.url_for_version(Version(version)))
    dest = os.path.join(mirror, name, f"{name}-{version}.{ext}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(src, dest)
    print(f"mirror: {name}-{version}.{ext} <- {os.path.basename(src)}")
    # A version the recipe checksums is looked up by that digest only; one it does
    # not know (Slurm) by the digest the test's overlay declares: the tarball's own.
    sha = pkg.versions.get(Version(version), {}).get("sha256")
    if not sha:
        import hashlib
        sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
    if sha:
        by_digest = os.path.join(mirror, "_source-cache", "archive", sha[:2], f"{sha}.{ext}")
        os.makedirs(os.path.dirname(by_digest), exist_ok=True)
        os.link(dest, by_digest)
        print(f"mirror:   also as _source-cache/archive/{sha[:2]}/{sha}.{ext}")
PY
"$work/spack/bin/spack" -C "$work/spack-config" python "$work/mirror-names.py" "$work/sources.txt" "$mirror" >&2

# Fetched by digest, whatever the version: openssl's CA bundle (a single .pem,
# any bundle serves) and libxml2's conformance suite (used only by `make check`:
# a stand-in). With `checksum: false` Spack takes them as they are.
digest_path() {
    mkdir -p "$mirror/_source-cache/archive/${1:0:2}"
    printf '%s/_source-cache/archive/%s/%s%s' "$mirror" "${1:0:2}" "$1" "$2"
}
ca=$(digest_path 64dfd5b1026700e0a0a324964749da9adc69ae5e51e899bf16ff47d6fd0e9a5e "")
cp /etc/ssl/certs/ca-certificates.crt "$ca" 2>/dev/null \
    || die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (install ca-certificates)"
xmlts=$(digest_path 96151685cec997e1f9f3387e3626d61e6284d4d6e66e0e440c209286c03e9cc7 .tar.gz)
mkdir -p "$work/xmlconf"
echo "stand-in for the W3C XML conformance suite (only used by make check)" >"$work/xmlconf/README"
tar -C "$work" -czf "$xmlts" xmlconf

# The patches Spack's recipes fetch from the network, looked up by digest alone (no
# extension). readline 8.2's upstream patches: Debian carries the first (git form,
# while Spack applies them with -p0); 002..013 are not in its source: stand-ins that
# add a note file, so readline builds at Debian's level. OpenMPI 5.0.7's GitHub fix
# of oshmem's sshmem_base_open.c is Debian's sshmem.patch.
debian=$(mktemp -d "$work/debian.XXXXXX")
tar -xf "$(source_tarball readline bookworm debian)" -C "$debian" debian/patches
sed -e 's#^--- a/#--- #' -e 's#^+++ b/#+++ #' \
    "$debian"/debian/patches/0001-Readline-8.2-patch-1-*.patch \
    >"$(digest_path bbf97f1ec40a929edab5aa81998c1e2ef435436c597754916e6a5868f273aff7 "")" \
    || die "Debian's readline source has no upstream patch 1"
while read -r num sha; do
    printf -- '--- /dev/null\n+++ SPACK-OFFLINE-readline82-%s\n@@ -0,0 +1 @@\n+upstream patch readline82-%s: not in Debian'"'"'s source, not applied\n' \
        "$num" "$num" >"$(digest_path "$sha" "")"
done <<'PATCHES'
002 e06503822c62f7bc0d9f387d4c78c09e0ce56e53872011363c74786c7cd4c053
003 24f587ba46b46ed2b1868ccaf9947504feba154bb8faabd4adaea63ef7e6acb0
004 79572eeaeb82afdc6869d7ad4cba9d4f519b1218070e17fa90bbecd49bd525ac
005 622ba387dae5c185afb4b9b20634804e5f6c1c6e5e87ebee7c35a8f065114c99
006 c7b45ff8c0d24d81482e6e0677e81563d13c74241f7b86c4de00d239bc81f5a1
007 5911a5b980d7900aabdbee483f86dab7056851e6400efb002776a0a4a1bab6f6
008 a177edc9d8c9f82e8c19d0630ab351f3fd1b201d655a1ddb5d51c4cee197b26a
009 3d9885e692e1998523fd5c61f558cecd2aafd67a07bd3bfe1d7ad5a31777a116
010 758e2ec65a0c214cfe6161f5cde3c5af4377c67d820ea01d13de3ca165f67b4c
011 e0013d907f3a9e6482cc0934de1bd82ee3c3c4fd07a9646aa9899af237544dd7
012 6c8adf8ed4a2ca629f7fd11301ed6293a6248c9da0c674f86217df715efccbd3
013 1ea434957d6ec3a7b61763f1f3552dad0ebdd6754d65888b5cd6d80db3a788a8
PATCHES
tar -xf "$(source_tarball openmpi trixie debian)" -C "$debian" debian/patches/sshmem.patch
cp "$debian/debian/patches/sshmem.patch" \
    "$(digest_path 38529b557df029d6a987fa7e337db40b0ac1c1bb921776b95aacaa40e945cd21 "")"

# ---- The site scope: pins, and Debian's orig tarballs accepted as they are ----
{
    echo "# Written by .ci/spack-site.sh: every package of the closure at the version"
    echo "# Debian ships (a package's own require replaces all:require, so the target"
    echo "# is repeated)."
    echo "packages:"
    for pin in "${pins[@]}"; do
        read -r name version <<<"$pin"
        echo "  $name:"
        echo "    require: [\"@=$version target=$TARGET\"]"
    done
    echo "  iconv:"
    echo "    require: [glibc]"
    echo "  zlib-api:"
    echo "    require: [zlib]"
    echo "  # No source served; build-only, for libpciaccess, whose orig has its configure."
    echo "  util-macros:"
    echo "    buildable: false"
    echo "    externals:"
    echo "    - spec: util-macros@1.19.3"
    echo "      prefix: /usr"
} >"$work/spack/etc/spack/packages.yaml"
cat >"$work/spack/etc/spack/config.yaml" <<'EOF'
# Written by .ci/spack-site.sh: Debian's orig tarballs often differ byte for
# byte from the upstream ones Spack's recipes checksum.
config:
  checksum: false
  deprecated: true
EOF

# ---- clingo and boto3 for the containers' Python (Debian 12: 3.11) ----
note "pip download clingo boto3 (cp311, manylinux x86_64)"
python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --implementation cp --abi cp311 -d "$work/wheels" clingo boto3 >&2 \
    || die "pip download clingo boto3 failed (PyPI must be reachable once)"
compgen -G "$work/wheels/clingo-*.whl" >/dev/null || die "pip download gave no clingo wheel"

rm -rf "$work/apt" "$work/spack-config" "$work/spack-user-cache" "$work"/dl-* \
    "$work"/*-release.tar.gz "$work"/autoreconf.* "$work"/debian.* "$work"/*.tar.gz "$work/xmlconf" "$work/sources.txt" "$work/mirror-names.py"
cat >"$work/env" <<EOF
SLURM_FACTORY_TEST_SPACK_ROOT=$SITE/spack
SLURM_FACTORY_TEST_SPACK_PACKAGES_ROOT=$SITE/spack-packages
SLURM_FACTORY_TEST_SPACK_WHEELS=$SITE/wheels
SLURM_FACTORY_TEST_SPACK_MIRROR=$SITE/mirror
SLURM_FACTORY_TEST_SPACK_SLURM=$slurm_version
SLURM_FACTORY_TEST_SPACK_SLURM_SHA256=$slurm_sha256
EOF
rm -rf "$SITE"
mv "$work" "$SITE"
trap - EXIT
# Older sites are dead weight now.
find "$CACHE" -maxdepth 1 -name "spack-site-$TARGET-v*" ! -name "${SITE##*/}" -exec rm -rf {} +
note "site ready: $(du -sh "$SITE/mirror" | cut -f1) of sources, $(find "$SITE/wheels" -name '*.whl' | wc -l) wheels"
printf '%s\n' "$SITE/env"
