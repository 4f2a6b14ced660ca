#!/usr/bin/env bash
# Benchmark of Spack's concurrent_packages (the `spack_concurrent_packages`
# setting) on the real default package: the packages it adds to the minimal
# closure (OpenMPI, PMIx, PRRTE, hwloc, libevent, numactl, Slurm) compiled
# cold, once one package at a time and once two at a time, each from its own
# copy of the CI's buildcache without them and an empty ccache. Prints each
# build's stages and the install ratio. Needs the CI's LXD images, Spack site
# and a buildcache that holds the default package's closure (one .ci/run).
# Takes about 50 minutes on 2 cores. BENCH_DIR (default /tmp/sf-bench-concurrent)
# holds the copies; BENCH_JOBS the build's --jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ci_cache=${SF_CI_CACHE:-$HOME/.cache/slurm-factory-ci}
# shellcheck disable=SC2046 # KEY=VALUE words, no spaces in them
export $(cat "$ci_cache/env")
bench=${BENCH_DIR:-/tmp/sf-bench-concurrent}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ci_cache/target}"
cargo build -p slurm-factory-cli --release --locked
cli="$CARGO_TARGET_DIR/release/slurm-factory"

for n in 1 2; do
  cache=$bench/cache-$n data=$bench/data-$n
  rm -rf "$cache" "$data"
  mkdir -p "$cache" "$data"
  # Hard links: the copies cost no room; the removed entries are rebuilt.
  cp -al "$SLURM_FACTORY_TEST_CACHE/buildcache" "$cache/buildcache"
  cp -al "$SLURM_FACTORY_TEST_CACHE/mirror" "$cache/mirror"
  for p in openmpi pmix prrte hwloc libevent numactl slurm; do
    find "$cache/buildcache/v3/manifests/spec/$p" -name "$p-*" ! -name 'slurm-24-*' -delete 2>/dev/null || true
  done
  rm -f "$cache"/buildcache/v3/manifests/index/*
  start=$(date +%s)
  env -i PATH="$PATH" HOME="$bench" NO_COLOR=1 \
    SLURM_FACTORY_SPACK_CONCURRENT_PACKAGES="$n" \
    SLURM_FACTORY_IMAGE="$SLURM_FACTORY_TEST_SPACK_IMAGE" \
    SLURM_FACTORY_VERIFY_IMAGE="$SLURM_FACTORY_TEST_BARE_IMAGE" \
    SLURM_FACTORY_STORAGE_POOL="$SLURM_FACTORY_TEST_POOL" \
    SLURM_FACTORY_CACHE_DIR="$cache" SLURM_FACTORY_DATA_DIR="$data" \
    SLURM_FACTORY_SPACK_ROOT="$SLURM_FACTORY_TEST_SPACK_ROOT" \
    SLURM_FACTORY_SPACK_PACKAGES_ROOT="$SLURM_FACTORY_TEST_SPACK_PACKAGES_ROOT" \
    SLURM_FACTORY_WHEELS_DIR="$SLURM_FACTORY_TEST_SPACK_WHEELS" \
    SLURM_FACTORY_CONFIG="$bench/config.toml" SLURM_FACTORY_MIN_FREE_DISK_MIB=2048 \
    "$cli" build --offline --target x86_64_v3 --jobs "${BENCH_JOBS:-2}" --no-verify \
    >"$bench/build-$n.log" 2>&1
  echo "concurrent_packages=$n: $(($(date +%s) - start)) s end to end"
  grep -E '^ +[0-9]+\. ' "$bench/build-$n.log"
done

install_s() { sed -n 's/^ *6\. install *done *\([0-9.]*\)s.*/\1/p' "$bench/build-$1.log"; }
awk -v one="$(install_s 1)" -v two="$(install_s 2)" \
  'BEGIN { printf "install: %.1f s one at a time, %.1f s two at a time: %.2fx\n", one, two, two / one }'
