#!/usr/bin/env bash
# Builds the ssi node kernel: Linux 6.12 from Debian's linux-source-6.12, with
# CONFIG_RUST=y and kernel/ssi.config merged on top of tinyconfig.
#
#   kernel/build.sh            build (no-op when the cached build is current)
#   kernel/build.sh rustavailable   only check that the toolchain can build Rust
#   kernel/build.sh print-dir  print the cached build tree (KDIR for modules)
#
# The result lives outside the repository, in $SSI_CACHE/kernel/<key>/, where
# <key> hashes every input: the source package version, the config fragment,
# the patches, this script and the rustc/bindgen versions.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"

action=${1:-build}
SRC_TAR=${SSI_KERNEL_TAR:-/usr/src/linux-source-6.12.tar.xz}
[ -f "$SRC_TAR" ] || die "kernel source $SRC_TAR missing: run 'make deps'"
[ -x "$SSI_RUSTC" ] || die "$SSI_RUSTC missing: run 'make deps' (package rustc-web)"
[ -x "$SSI_BINDGEN" ] || die "$SSI_BINDGEN missing: run 'make deps' (bindgen-cli)"

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %s-%Y "$SRC_TAR")
key=$( {
  echo "src $src_version"
  cat "$here/ssi.config"
  ls "$here"/patches/*.patch 2>/dev/null | sort | xargs -r cat
  cat "$here/build.sh"
  "$SSI_RUSTC" --version
  "$SSI_BINDGEN" --version
  gcc --version | head -1
} | sha256sum | cut -c1-16)
dir=$SSI_CACHE/kernel/$key
tree=$dir/linux

kmake() {
  make -C "$tree" -j"$(nproc)" \
    RUSTC="$SSI_RUSTC" HOSTRUSTC="$SSI_RUSTC" RUSTDOC="$SSI_RUSTDOC" \
    BINDGEN="$SSI_BINDGEN" "$@"
}

unpack() {
  [ -f "$dir/.unpacked" ] && return 0
  log "unpacking $SRC_TAR into $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  tar -C "$dir" -xf "$SRC_TAR"
  mv "$dir"/linux-source-6.12 "$tree"
  for p in $(ls "$here"/patches/*.patch 2>/dev/null | sort); do
    log "applying $(basename "$p")"
    patch -d "$tree" -p1 --quiet < "$p"
  done
  touch "$dir/.unpacked"
}

case $action in
  print-dir) echo "$tree"; exit 0 ;;
  rustavailable)
    unpack
    out=$(kmake -s rustavailable 2>&1) || die "the kernel cannot build Rust with this toolchain:
$out
(expected: /usr/bin/rustc from rustc-web, rust-web-src, libclang-dev, bindgen-cli; run 'make deps')"
    log "$out"
    exit 0 ;;
  build) ;;
  *) die "unknown action $action" ;;
esac

if [ -f "$dir/.built" ]; then
  log "kernel up to date: $tree/arch/x86/boot/bzImage"
  exit 0
fi
unpack
log "configuring (tinyconfig + kernel/ssi.config)"
kmake -s tinyconfig >/dev/null
(cd "$tree" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m -O . .config "$here/ssi.config" >/dev/null)
kmake -s olddefconfig >/dev/null
# Every option the fragment asks for must have survived olddefconfig: a
# silently dropped option is a build that does not do what we think.
dropped=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$here/ssi.config" | while IFS= read -r line; do
  opt=${line%%=*}; want=${line#*=}
  have=$(grep -E "^$opt=" "$tree/.config" | cut -d= -f2- || true)
  if [ "$want" = n ]; then [ -z "$have" ] || echo "$opt (wanted n, got $have)"
  elif [ "$have" != "$want" ]; then echo "$opt (wanted $want, got ${have:-unset})"; fi
done)
[ -z "$dropped" ] || die "options in kernel/ssi.config did not survive olddefconfig:
$dropped"
log "building bzImage and modules in $tree (about 11 minutes on 2 cores)"
start=$(date +%s)
kmake bzImage modules > "$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; die "kernel build failed; full log: $dir/build.log"; }
touch "$dir/.built"
log "kernel built in $(( $(date +%s) - start ))s: $tree/arch/x86/boot/bzImage"
