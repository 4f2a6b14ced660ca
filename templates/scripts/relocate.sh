#!/usr/bin/env bash
# relocate.sh — turn an install prefix (or a Spack view) into a relocatable package tree.
#
# Runs inside the build container (bash, coreutils, findutils, binutils, patchelf). Everything
# arrives as argv; nothing is evaluated. Steps:
#   1. copy the runtime tree of SRC into DEST; symlinks that leave SRC (a Spack view points into
#      Spack's prefixes) are replaced by one copy of their target plus relative links to it;
#   2. drop libtool .la files, static archives (unless --keep-static), headers/pkg-config/cmake
#      files (unless --keep-headers) and docs (unless --keep-docs);
#   3. bundle every shared library an ELF file needs that is neither in the package nor a
#      base-system library, found through the file's original RPATH/RUNPATH, --lib-path dirs and
#      the ldconfig cache, into DEST/lib (repeated for what the bundled libraries need);
#   4. strip debug info (unless --no-strip), keeping it under --debug-tarball-dir DIR on request;
#   5. set RUNPATH of every dynamic ELF file to $ORIGIN-relative paths of the package's lib dirs;
#   6. rewrite text that embeds the build prefix (pkg-config, shebangs) and report the rest.
set -euo pipefail
shopt -s nullglob

usage() {
    cat <<'EOF'
usage: relocate.sh [options] SRC DEST

  SRC   install prefix or Spack view to package
  DEST  package root to create (must not exist or be empty)

options:
  --keep-headers            keep include/, pkg-config and cmake files
  --keep-static             keep static archives (*.a)
  --keep-docs               keep share/doc, share/info
  --no-strip                keep debug info in the binaries
  --debug-tarball-dir DIR   save stripped debug info as DIR/<path>.debug (with a gnu-debuglink)
  --build-prefix P          another prefix that must not leak into the package (repeatable),
                            e.g. Spack's install tree
  --lib-path DIR            also look here for libraries to bundle (repeatable)
  --allow-system GLOB       treat matching sonames as provided by the target system
                            (repeatable), e.g. libnvidia-ml.so.1 for GPU builds
  --report FILE             write the files that still contain a build prefix to FILE
EOF
}

die() { echo "relocate: error: $*" >&2; exit 2; }
log() { echo "relocate: $*"; }

keep_headers=0 keep_static=0 keep_docs=0 do_strip=1 debug_dir="" report=""
prefixes=() lib_paths=() allow_extra=()
while (($#)); do
    case "$1" in
        --keep-headers) keep_headers=1; shift ;;
        --keep-static) keep_static=1; shift ;;
        --keep-docs) keep_docs=1; shift ;;
        --no-strip) do_strip=0; shift ;;
        --debug-tarball-dir) (($# >= 2)) || die "$1 needs a value"; debug_dir=$2; shift 2 ;;
        --build-prefix) (($# >= 2)) || die "$1 needs a value"; prefixes+=("$2"); shift 2 ;;
        --lib-path) (($# >= 2)) || die "$1 needs a value"; lib_paths+=("$2"); shift 2 ;;
        --allow-system) (($# >= 2)) || die "$1 needs a value"; allow_extra+=("$2"); shift 2 ;;
        --report) (($# >= 2)) || die "$1 needs a value"; report=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) break ;;
    esac
done
(($# == 2)) || { usage >&2; die "expected SRC and DEST"; }
for tool in patchelf objcopy strip realpath find; do
    command -v "$tool" >/dev/null || die "$tool is not installed in this container"
done

[[ -d $1 ]] || die "SRC $1 is not a directory"
SRC=$(realpath "$1")
if [[ -e $2 ]]; then
    [[ -d $2 && -z $(ls -A "$2") ]] || die "DEST $2 exists and is not empty"
fi
mkdir -p "$2"
DEST=$(realpath "$2")
case "$DEST/" in "$SRC"/*) die "DEST must not be inside SRC" ;; esac
prefixes=("$SRC" "${prefixes[@]}")
[[ $1 != "$SRC" && $1 == /* ]] && prefixes+=("${1%/}")
if [[ -n $debug_dir ]]; then
    mkdir -p "$debug_dir"
    debug_dir=$(realpath "$debug_dir")
fi

# Base-system libraries, never bundled: glibc's family, the dynamic loader and libgcc_s
# (glibc's pthread_cancel needs it, so every glibc system has it). The list is the
# engine's (Allowlist::base_system), rendered beside this script for it and check-libs.sh.
here=$(cd "${BASH_SOURCE[0]%/*}" && pwd)
[[ -f $here/base-libraries.sh ]] || die "$here/base-libraries.sh is missing (it is rendered with the recipe)"
# shellcheck source=/dev/null
source "$here/base-libraries.sh"

is_elf() {
    local magic=""
    [[ -f $1 && ! -L $1 ]] || return 1
    LC_ALL=C IFS= read -r -N4 magic <"$1" 2>/dev/null || true
    [[ $magic == $'\x7fELF' ]]
}

# The DT_NEEDED entries of a dynamic ELF file, one per line; fails for files without a
# dynamic section (static programs, object files), which need no RUNPATH.
needed_of() {
    patchelf --print-needed "$1" 2>/dev/null
}

# ---------------------------------------------------------------- 1. copy the runtime tree
dirs=(bin sbin lib lib64 libexec etc share)
((keep_headers)) && dirs+=(include)
copied=()
for d in "${dirs[@]}"; do
    [[ -e $SRC/$d ]] || continue
    cp -a "$SRC/$d" "$DEST/"
    copied+=("$d")
done
((${#copied[@]})) || die "SRC $SRC has none of: ${dirs[*]}"
log "copied ${copied[*]} from $SRC"

# Symlinks: inside SRC -> relative link to the copy; leaving SRC -> one copy of the target
# (named like the target when a link has that name) and relative links to it.
# Every link's final target, resolved in one realpath call (forks cost milliseconds
# each in a container, and a Spack view is thousands of links).
declare -A copy_of=() target_of=()
mapfile -d '' links < <(find "$DEST" -type l -print0 | sort -z)
if ((${#links[@]})); then
    mapfile -d '' targets < <(realpath -z -m -- "${links[@]/#"$DEST"/"$SRC"}")
    for i in "${!links[@]}"; do
        target_of[${links[$i]}]=${targets[$i]}
    done
fi
# Pass 1 copies in batches, one cp per directory of links: a Spack view has thousands
# of links that leave it, and one cp per link took seconds.
batch_dir="" batch=()
flush_copies() {
    if ((${#batch[@]})); then
        cp -RL --remove-destination --preserve=mode,timestamps -t "$batch_dir" -- "${batch[@]}"
    fi
    batch=()
}
fix_links() {
    local pass=$1 link rel target
    for link in "${links[@]}"; do
        [[ -L $link ]] || continue
        rel=${link#"$DEST"/}
        target=${target_of[$link]}
        if [[ ! -e $target ]]; then
            log "dropping dangling link $rel"
            rm -f "$link"
            continue
        fi
        if [[ $target == "$SRC"/* && -e $DEST/${target#"$SRC"/} ]]; then
            # Relative links that stay inside keep their chain (libfoo.so -> libfoo.so.1).
            [[ $(readlink "$link") == /* ]] && ((pass == 2)) &&
                ln -sfnr "$DEST/${target#"$SRC"/}" "$link"
            continue
        fi
        if [[ -n ${copy_of[$target]:-} ]]; then
            ((pass == 2)) && ln -sfnr "${copy_of[$target]}" "$link"
            continue
        fi
        # Pass 1 only copies targets whose name the link carries (libfoo.so.1.2 -> ...).
        if ((pass == 1)) && [[ ${link##*/} != "${target##*/}" ]]; then
            continue
        fi
        # A link to a directory must go first, or cp copies into what it points at.
        [[ -d $target ]] && rm -f "$link"
        if ((pass == 1)); then
            # The link has the target's name: copied into the link's directory.
            [[ ${link%/*} == "$batch_dir" ]] || { flush_copies; batch_dir=${link%/*}; }
            batch+=("$target")
        else
            cp -RL --remove-destination --preserve=mode,timestamps "$target" "$link"
        fi
        copy_of[$target]=$link
    done
    flush_copies
}
fix_links 1
fix_links 2

# ---------------------------------------------------------------- 2. drop what is not runtime
find "$DEST" \( -type f -o -type l \) -name '*.la' -delete
((keep_static)) || find "$DEST" \( -type f -o -type l \) -name '*.a' -delete
if ((!keep_headers)); then
    rm -rf "$DEST"/lib*/pkgconfig "$DEST"/lib*/cmake "$DEST/share/pkgconfig" "$DEST/share/aclocal"
fi
((keep_docs)) || rm -rf "$DEST/share/doc" "$DEST/share/info" "$DEST/share/gtk-doc"
find "$DEST" -depth -mindepth 1 -type d -empty -delete

# ---------------------------------------------------------------- 3. bundle dependencies
declare -A origin_of=() have=() needs=()
elf_files=()
while IFS= read -r -d '' f; do
    is_elf "$f" || continue
    list=$(needed_of "$f") || continue
    elf_files+=("$f")
    needs[$f]=$list
done < <(find "$DEST" -type f -print0 | sort -z)
# Each file's original, whose RPATH/RUNPATH and $ORIGIN find its libraries: the
# target a link was replaced by, else the same path under SRC.
for target in "${!copy_of[@]}"; do
    origin_of[${copy_of[$target]}]=$target
done
for f in "${elf_files[@]}"; do
    if [[ -z ${origin_of[$f]:-} ]]; then
        orig=$SRC/${f#"$DEST"/}
        [[ -L $orig ]] && orig=$(realpath -m "$orig")
        origin_of[$f]=$orig
    fi
done
while IFS= read -r -d '' f; do
    have[${f##*/}]=1
done < <(find "$DEST" \( -type f -o -type l \) -name '*.so*' -print0)

ldconfig_cache=$(ldconfig -p 2>/dev/null || true)

# Prints the path of library $1 as the original file $2 found it (its RPATH/RUNPATH with
# $ORIGIN expanded), else from --lib-path, else from the system's ldconfig cache.
find_lib() {
    local name=$1 orig=$2 rp entry dir line
    rp=$(patchelf --print-rpath "$orig" 2>/dev/null || true)
    local IFS=:
    for entry in $rp "${lib_paths[@]}"; do
        [[ -n $entry ]] || continue
        dir=${entry//\$\{ORIGIN\}/${orig%/*}}
        dir=${dir//\$ORIGIN/${orig%/*}}
        if [[ -e $dir/$name ]]; then
            realpath -e "$dir/$name"
            return 0
        fi
    done
    while IFS= read -r line; do
        if [[ $line == *[[:space:]]"$name ("*") => "* ]]; then
            realpath -e "${line##* => }"
            return 0
        fi
    done <<<"$ldconfig_cache"
    return 1
}

bundled=0
queue=("${elf_files[@]}")
while ((${#queue[@]})); do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    while IFS= read -r need; do
        [[ -n $need && $need != */* ]] || continue
        is_system_lib "$need" && continue
        [[ -n ${have[$need]:-} ]] && continue
        if from=$(find_lib "$need" "${origin_of[$f]}"); then
            mkdir -p "$DEST/lib"
            cp -L --preserve=mode,timestamps "$from" "$DEST/lib/$need"
            chmod u+w "$DEST/lib/$need"
            have[$need]=1
            origin_of[$DEST/lib/$need]=$from
            elf_files+=("$DEST/lib/$need")
            needs[$DEST/lib/$need]=$(needed_of "$DEST/lib/$need" || true)
            queue+=("$DEST/lib/$need")
            bundled=$((bundled + 1))
            log "bundled $need from $from (needed by ${f#"$DEST"/})"
        else
            log "warning: ${f#"$DEST"/} needs $need, found nowhere (not bundled)"
        fi
    done <<<"${needs[$f]}"
done

# ---------------------------------------------------------------- 4. strip
# Every path on its own: strip writes a new file, so hard links part ways here.
((${#elf_files[@]})) && chmod u+w "${elf_files[@]}"
if ((do_strip)); then
    if [[ -n $debug_dir ]]; then
        for f in "${elf_files[@]}"; do
            rel=${f#"$DEST"/}
            mkdir -p "$debug_dir/${rel%/*}"
            objcopy --only-keep-debug "$f" "$debug_dir/$rel.debug"
            strip --strip-unneeded "$f"
            objcopy --add-gnu-debuglink="$debug_dir/$rel.debug" "$f"
        done
    elif ((${#elf_files[@]})); then
        strip --strip-unneeded "${elf_files[@]}"
    fi
    log "stripped ${#elf_files[@]} ELF files${debug_dir:+, debug info in $debug_dir}"
fi

# ---------------------------------------------------------------- 5. RUNPATH
# Lib dirs: every directory holding a lib*.so* (Slurm's lib/slurm holds libslurmfull.so);
# plugin-only dirs (OpenMPI's mca_*.so) are loaded by path and need no entry.
mapfile -t libdirs < <(
    find "$DEST" \( -type f -o -type l \) -name 'lib*.so*' -printf '%h\n' |
        sed "s|^$(printf '%s' "$DEST" | sed 's/[][\.*^$|]/\\&/g')/\{0,1\}||" |
        sort -u | awk '{ print ($0 == "lib" ? 0 : $0 == "lib64" ? 1 : 2) "\t" $0 }' |
        sort -k1,1n -k2 | cut -f2
)
# Files in one directory get the same RUNPATH: one patchelf call per directory.
declare -A in_dir=()
for f in "${elf_files[@]}"; do
    in_dir[${f%/*}]+=${in_dir[${f%/*}]:+$'\n'}$f
done
for dir in "${!in_dir[@]}"; do
    rp=""
    for d in "${libdirs[@]}"; do
        rel=$(realpath -m --relative-to="$dir" "$DEST/$d")
        entry=\$ORIGIN
        [[ $rel != . ]] && entry+=/$rel
        rp+=${rp:+:}$entry
    done
    mapfile -t files <<<"${in_dir[$dir]}"
    if [[ -n $rp ]]; then
        patchelf --set-rpath "$rp" "${files[@]}"
    else
        patchelf --remove-rpath "${files[@]}"
    fi
done
log "set RUNPATH on ${#elf_files[@]} ELF files (lib dirs: ${libdirs[*]:-none}); bundled $bundled libraries"

# ---------------------------------------------------------------- 6. text files
sed_escape() { printf '%s' "$1" | sed 's/[][\.*^$|/]/\\&/g'; }
while IFS= read -r -d '' pc; do
    old=$(sed -n 's/^prefix=//p' "$pc" | head -n1)
    up=$(realpath -m --relative-to="$(dirname "$pc")" "$DEST")
    sed -i "s|^prefix=.*|prefix=\${pcfiledir}/$up|" "$pc"
    if [[ -n $old ]]; then
        sed -i "/^prefix=/!s|$(sed_escape "$old")|\${prefix}|g" "$pc"
    fi
done < <(find "$DEST" -type f -name '*.pc' -print0)

for p in "${prefixes[@]}"; do
    ep=$(sed_escape "$p")
    while IFS= read -r -d '' f; do
        is_elf "$f" && continue
        # A shebang into the build prefix: use the interpreter of that name from PATH.
        sed -i "1s|^#![[:space:]]*$ep/[^[:space:]]*/\([^/[:space:]]*\)|#!/usr/bin/env \1|" "$f"
    done < <(grep -rlIZF -- "#!$p" "$DEST" 2>/dev/null || true)
done

leftover=()
for p in "${prefixes[@]}"; do
    while IFS= read -r -d '' f; do
        leftover+=("${f#"$DEST"/}")
    done < <(grep -rlZF -- "$p" "$DEST" 2>/dev/null || true)
done
if ((${#leftover[@]})); then
    mapfile -t leftover < <(printf '%s\n' "${leftover[@]}" | sort -u)
    log "warning: ${#leftover[@]} files still contain a build prefix:"
    printf 'relocate:   %s\n' "${leftover[@]}"
fi
if [[ -n $report ]]; then
    if ((${#leftover[@]})); then printf '%s\n' "${leftover[@]}" >"$report"; else : >"$report"; fi
fi
log "done: $(du -sh "$DEST" | cut -f1) in $DEST"
