#!/usr/bin/env bash
# One-command setup: installs what is missing (as root on Debian), then npm ci, the LibTorch
# addon and the TypeScript build. Idempotent; fast when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '%s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = "0" ]; }
have() { command -v "$1" >/dev/null 2>&1; }

DEBIAN_TORCH_CONFIG=/usr/lib/$(uname -m)-linux-gnu/cmake/Torch/TorchConfig.cmake

apt_install() {
  if ! is_root || ! have apt-get; then
    die "Missing $*: install with 'sudo apt-get install $*' (Debian/Ubuntu) or set LIBTORCH=/path/to/libtorch for a LibTorch of your own, then run make again."
  fi
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists once when they are missing or a package is not found.
  if ! apt-get install -y -q --no-install-recommends "$@" >/tmp/nnunet-apt.log 2>&1; then
    apt-get update -q >/tmp/nnunet-apt-update.log 2>&1 || die "apt-get update failed (see /tmp/nnunet-apt-update.log): check the network or the Debian mirror."
    apt-get install -y -q --no-install-recommends "$@" >/tmp/nnunet-apt.log 2>&1 || die "apt-get install $* failed (see /tmp/nnunet-apt.log)."
  fi
}

# --- Node.js
have node || die "Node.js 20 or newer is required: install it (e.g. from your distribution or nodejs.org), then run make again."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $node_major is too old: install Node.js 20 or newer, then run make again."

# --- build tools and LibTorch
missing=()
have cmake || missing+=(cmake)
have g++ || missing+=(g++)
have make || missing+=(make)
if [ -n "${LIBTORCH:-}" ]; then
  [ -f "$LIBTORCH/share/cmake/Torch/TorchConfig.cmake" ] || [ -f "$LIBTORCH/lib/cmake/Torch/TorchConfig.cmake" ] ||
    [ -f "$LIBTORCH/Torch/TorchConfig.cmake" ] ||
    die "LIBTORCH=$LIBTORCH has no share/cmake/Torch/TorchConfig.cmake: point it at a LibTorch folder, a PyTorch install's torch/ folder or its torch.utils.cmake_prefix_path, or unset it to use Debian's libtorch-dev."
elif [ ! -f "$DEBIAN_TORCH_CONFIG" ]; then
  missing+=(libtorch-dev)
fi
# c10d's Gloo process group (data-parallel training) compiles against Gloo's headers.
if [ -z "${LIBTORCH:-}" ] && [ ! -f /usr/include/gloo/config.h ]; then missing+=(libgloo-dev); fi
# progress.png labels need a font; resvg draws no text without one.
if [ ! -d /usr/share/fonts/truetype/dejavu ] && is_root && have apt-get; then missing+=(fonts-dejavu-core); fi
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

# --- npm dependencies (npm ci when the lock file changed since the last install)
stamp=node_modules/.nnunet-ci-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "npm ci"
  # --ignore-scripts: the addon (the install script of @nnunet/torch) is built below, once, with
  # its output visible; no other dependency needs an install script.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# --- native addon and TypeScript
say "building the LibTorch addon"
npm run --silent build:addon -w @nnunet/torch
say "compiling TypeScript"
# A clean output: a module removed or moved in src/ must not survive in dist/ (tests would still
# import the stale copy).
rm -rf packages/torch/dist packages/nnunet/dist
npx tsc -p packages/torch && npx tsc -p packages/nnunet
# npm links a package's commands at `npm ci`, before tsc has written them, and skips missing
# targets: link the nnUNet_* commands into node_modules/.bin now that they exist. npm makes the
# targets executable only when it creates a link, and tsc rewrote them, so set the mode here.
npm rebuild --ignore-scripts --no-audit --no-fund --loglevel=error nnunet
chmod +x packages/nnunet/dist/src/cli/*.js
