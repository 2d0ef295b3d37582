# Shared settings for ssi's build scripts (sourced, not run).
# Caches live outside the repository; override with SSI_CACHE.
SSI_CACHE=${SSI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ssi}
SSI_RUSTC=${SSI_RUSTC:-/usr/bin/rustc}
SSI_RUSTDOC=${SSI_RUSTDOC:-/usr/bin/rustdoc}
SSI_BINDGEN=${SSI_BINDGEN:-${CARGO_HOME:-$HOME/.cargo}/bin/bindgen}
SSI_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SSI_CACHE

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
