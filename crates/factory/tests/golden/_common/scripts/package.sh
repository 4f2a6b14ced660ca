#!/usr/bin/env bash
# Package stage, run inside the build container: make the relocatable tree of the install
# prefix (or Spack view) SRC at DEST with relocate.sh, which the pipeline pushes next to this
# script. Everything arrives as argv:
#   package.sh [relocate options] SRC DEST
# e.g. package.sh --build-prefix /opt/spack/opt/spack --report /stage/leftovers.txt \
#        /opt/view /stage/slurm-24.11-default-x86_64_v3
# Options are relocate.sh's (`relocate.sh --help`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(($# >= 2)) || { bash "$here/relocate.sh" --help >&2; exit 2; }
dest=${!#}
bash "$here/relocate.sh" "$@"
# A listing for the stage log: what the package holds and how big it is.
echo "package: contents of $dest"
(cd "$dest" && find . -mindepth 1 -maxdepth 2 | LC_ALL=C sort | sed 's|^\./|  |')
echo "package: $(du -sb "$dest" | cut -f1) bytes, $(find "$dest" -type f | wc -l) files"
