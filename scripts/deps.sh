#!/usr/bin/env bash
# Installs, idempotently, everything a fresh Debian 12 machine lacks to build
# and test ssi: Debian packages, and bindgen-cli and cargo-fuzz from crates.io.
# Nothing else is downloaded. Safe to run again: it only installs what is missing.
set -euo pipefail

PACKAGES=(
  # kernel source and the Rust toolchain the kernel is built with
  linux-source-6.12 rustc-web rust-web-src libclang-dev
  # kernel build
  build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils kmod rsync
  # node root file system and the virtual cluster
  debootstrap e2fsprogs qemu-system-x86 qemu-utils iproute2 util-linux procps
  # misc tools the scripts use
  git curl ca-certificates python3 jq
)

BINDGEN_VERSION=${BINDGEN_VERSION:-0.73.2}
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || SUDO=sudo
SUDO=${SUDO:-}

. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
  log "warning: this was written for Debian 12; found ${PRETTY_NAME:-unknown}"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  log "Debian packages: all present"
fi

# bindgen-cli and cargo-fuzz, from crates.io, into cargo's bin dir.
CARGO=${CARGO:-cargo}
command -v "$CARGO" >/dev/null || die "cargo not found on PATH (needed to install bindgen-cli and build ssi-ctl)"
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
# cargo_tool BINARY CRATE VERSION: installs CRATE at VERSION with cargo
# unless BINARY --version already says that version.
cargo_tool() {
  if [ -x "$CARGO_BIN/$1" ] && "$CARGO_BIN/$1" --version 2>/dev/null | grep -q " $3\$"; then
    log "$2 $3: present"
  else
    log "installing $2 $3 with cargo"
    "$CARGO" install --locked --quiet --version "$3" "$2" || die "cargo install $2 failed"
  fi
}
cargo_tool bindgen bindgen-cli "$BINDGEN_VERSION"

# cargo-fuzz, from crates.io, into cargo's bin dir: `make test-fuzz` builds
# and runs the fuzz targets of proto/fuzz with it (RUSTC_BOOTSTRAP=1 lets
# the stable toolchain take the sanitizer flags it passes).
cargo_tool cargo-fuzz cargo-fuzz "$CARGO_FUZZ_VERSION"

# The kernel must be built with Debian's rustc-web: it ships the library source
# that `core` is built from. The rustup toolchain has none.
[ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing (package rustc-web)"
[ -d /usr/lib/rustlib/src/rust/library/core ] || die "Rust library source missing under /usr/lib/rustlib/src (package rust-web-src)"
[ -f /usr/src/linux-source-6.12.tar.xz ] || die "/usr/src/linux-source-6.12.tar.xz missing (package linux-source-6.12)"
log "toolchain: $(/usr/bin/rustc --version), $("$CARGO_BIN/bindgen" --version)"
