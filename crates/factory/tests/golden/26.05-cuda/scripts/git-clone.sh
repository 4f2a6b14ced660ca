#!/bin/bash
# git-clone.sh URL REF DIR [COMMIT]: a shallow clone of REF (a tag) of the
# repository at URL into DIR, unless DIR has one; with COMMIT, REF must be
# that commit. A tag can be moved upstream (a rewritten or compromised
# repository): the build stops rather than build with what it points at now.
set -euo pipefail
url=$1
ref=$2
dir=$3
commit=${4:-}
if [ ! -d "$dir/.git" ]; then
    echo "==> slurm-factory: cloning $url at $ref"
    git clone --quiet --depth 1 --branch "$ref" -c advice.detachedHead=false -- "$url" "$dir"
fi
head=$(git -C "$dir" rev-parse HEAD)
if [ -z "$commit" ]; then
    echo "==> slurm-factory: $dir: $ref is commit $head (a release of your own: not pinned)"
elif [ "$head" != "$commit" ]; then
    echo "error: $url at $ref is commit $head, not $commit, the commit this Slurm Factory pins for $ref: the tag was moved upstream; find out why before you build with it" >&2
    exit 1
else
    echo "==> slurm-factory: $dir: $ref is commit $commit, as pinned"
fi
