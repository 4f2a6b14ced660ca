#!/usr/bin/env bash
# check-libs.sh — the verify stage's library check, run inside a clean instance where the
# package was unpacked at a prefix other than the build prefix.
#
#   check-libs.sh [--allow SONAME-GLOB]... ROOT
#
# For every dynamic ELF file under ROOT, asks the dynamic loader (ldd) where each library
# comes from. Fails (exit 1) when a library is not found, or is found outside ROOT without
# being a base-system library (glibc family, loader, libgcc_s, plus --allow globs such as
# libnvidia-ml.so.1 for GPU packages). Prints one line per problem, naming the file.
set -euo pipefail

die() { echo "check-libs: error: $*" >&2; exit 2; }

allow_extra=()
while (($#)); do
    case "$1" in
        --allow) (($# >= 2)) || die "$1 needs a value"; allow_extra+=("$2"); shift 2 ;;
        -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
(($# == 1)) || die "expected ROOT"
[[ -d $1 ]] || die "$1 is not a directory"
ROOT=$(realpath "$1")
command -v ldd >/dev/null || die "ldd is not installed"

# The base-system libraries: the engine's list, rendered beside this script.
here=$(cd "${BASH_SOURCE[0]%/*}" && pwd)
[[ -f $here/base-libraries.sh ]] || die "$here/base-libraries.sh is missing (it is rendered with the recipe)"
# shellcheck source=/dev/null
source "$here/base-libraries.sh"

checked=0 problems=0
# Libraries found outside the base system, resolved after the loop in one
# realpath call (one call per library took seconds for a package with MPI).
found_rel=() found_name=() found_path=()
while IFS= read -r -d '' f; do
    magic=""
    LC_ALL=C IFS= read -r -N4 magic <"$f" 2>/dev/null || true
    [[ $magic == $'\x7fELF' ]] || continue
    rel=${f#"$ROOT"/}
    # ldd alone tells dynamic from static files: a clean instance has no readelf.
    if ! out=$(env -u LD_LIBRARY_PATH -u LD_PRELOAD LC_ALL=C ldd "$f" 2>&1); then
        [[ $out == *"not a dynamic executable"* ]] && continue
        echo "$rel: ldd failed: $out"
        problems=$((problems + 1))
        continue
    fi
    # A shared library with no DT_NEEDED reads "statically linked": nothing to resolve.
    checked=$((checked + 1))
    while IFS= read -r line; do
        [[ $line == *" => "* ]] || continue
        name=${line%% => *}
        name=${name//[[:space:]]/}
        path=${line#* => }
        path=${path%% (*}
        if [[ $path == "not found" ]]; then
            echo "$rel: needs $name, not found"
            problems=$((problems + 1))
        elif ! is_system_lib "$name"; then
            found_rel+=("$rel") found_name+=("$name") found_path+=("$path")
        fi
    done <<<"$out"
done < <(find "$ROOT" -type f -print0 | sort -z)
if ((${#found_path[@]})); then
    mapfile -d '' real < <(realpath -m -z -- "${found_path[@]}")
    for i in "${!found_path[@]}"; do
        if [[ ${real[$i]} != "$ROOT"/* ]]; then
            echo "${found_rel[$i]}: ${found_name[$i]} comes from ${found_path[$i]}, outside the package"
            problems=$((problems + 1))
        fi
    done
fi

if ((checked == 0)); then
    echo "check-libs: no dynamic ELF files under $ROOT: nothing was checked"
    exit 1
fi
if ((problems)); then
    echo "check-libs: $problems problems in $checked ELF files under $ROOT"
    exit 1
fi
echo "check-libs: $checked ELF files resolve their libraries inside $ROOT or the base system"
