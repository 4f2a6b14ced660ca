#!/usr/bin/env bash
# Rendered from templates/scripts/base-libraries.sh.j2; sourced by relocate.sh and
# check-libs.sh (which run under the same strict mode).
set -euo pipefail
base_libs=('libc.so.*' 'libm.so.*' 'libmvec.so.*' 'libpthread.so.*' 'libdl.so.*' 'librt.so.*' 'libresolv.so.*' 'libutil.so.*' 'libanl.so.*' 'libnss_*.so.*' 'libthread_db.so.*' 'libBrokenLocale.so.*' 'ld-linux*.so.*' 'ld64.so.*' libgcc_s.so.1)

# Whether soname $1 comes from the system the package runs on: a base library, or one
# matching an --allow/--allow-system glob of the sourcing script (allow_extra).
is_system_lib() {
    local n=$1 a
    # shellcheck disable=SC2154 # allow_extra: the sourcing script's
    for a in "${base_libs[@]}" "${allow_extra[@]}"; do
        # shellcheck disable=SC2053 # a glob on purpose
        [[ $n == $a ]] && return 0
    done
    return 1
}
