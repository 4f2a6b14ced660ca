# Shared by scripts/*.sh: package lists and small helpers.

# Debian packages the tests need (the app's build needs are a subset).
TEST_PACKAGES=(
  build-essential pkg-config git curl ca-certificates
  lxd lxd-client iptables debootstrap btrfs-progs
  patchelf binutils file zstd lmod ccache
  autoconf automake libtool pkgconf autopoint python3-pip python3-venv shellcheck rpm
  gpg gpg-agent docker-registry
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Each step with the minutes and seconds since the script started.
step() { printf '\n==> %s  [%d:%02d]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

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

# Debian packages the desktop app builds and runs with (Tauri on WebKitGTK).
APP_PACKAGES=(
  build-essential pkg-config curl ca-certificates file gpg gpg-agent
  libwebkit2gtk-4.1-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
)

# What the GUI end-to-end tests add: a virtual X server, WebKit's WebDriver,
# and ImageMagick's `import` to grab screenshots of the X display.
GUI_TEST_PACKAGES=(xvfb webkit2gtk-driver imagemagick)

# Node.js 20.19+ for Vite 8: the machine's if new enough, else the distro's
# nodejs/npm to bootstrap and npm's `node` package (a Node.js 22 build) in
# the user's data dir. Debian 12 and Ubuntu 24.04 ship Node.js 18.
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}

ensure_node() {
  local prefix="${XDG_DATA_HOME:-$HOME/.local/share}/slurm-factory/node"
  if [ -x "$prefix/node_modules/.bin/node" ] && ! node_ok; then
    export PATH="$prefix/node_modules/.bin:$PATH"
  fi
  node_ok && command -v npm >/dev/null 2>&1 && return
  command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
  if ! node_ok; then
    echo "Node.js $(node -p 'process.versions.node') is too old for Vite 8; installing Node.js 22 into $prefix"
    npm install --prefix "$prefix" --no-audit --no-fund node@22
    export PATH="$prefix/node_modules/.bin:$PATH"
    node_ok || { echo "could not get Node.js 20.19 or newer; install it and run again" >&2; exit 1; }
  fi
}

# What building the desktop app needs, then the UI it embeds (ui/dist):
# the start of scripts/run-app.sh and scripts/bundle.sh.
prepare_app_build() {
  step "system packages for the app"
  ensure_packages "${APP_PACKAGES[@]}"
  ensure_rust
  ensure_node
  step "UI"
  (cd ui && npm ci --no-audit --no-fund && npm run build)
}
