# Shared by scripts/*.sh: package lists and small helpers.

# Debian packages the tests need (the app's build needs are a subset).
TEST_PACKAGES=(
  build-essential pkg-config git curl ca-certificates
  lxd lxd-client debootstrap btrfs-progs
  patchelf binutils file zstd lmod
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

step() { printf '\n==> %s\n' "$*"; }

# Installs the packages that are missing; apt-get update only when needed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  fi
}

# Rust toolchain: use the one on PATH, else rustup's default location.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "cargo not found: install Rust (https://rustup.rs) and run again" >&2
      exit 1
    fi
  fi
}
