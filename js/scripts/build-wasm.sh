#!/usr/bin/env bash
# Builds the wasm variants of the wasm-torch-js crate into js/dist/wasm/<variant>/.
#
#   js/scripts/build-wasm.sh                  # scalar simd relaxed threads threads-simd
#   js/scripts/build-wasm.sh scalar simd      # only some variants
#
# Variants (the SDK picks one at run time by feature detection, see js/src/detect.ts):
#   scalar        no SIMD: engines without wasm SIMD
#   simd          +simd128, one thread: engines without relaxed SIMD (Safari, Node 20)
#   relaxed       +simd128 +relaxed-simd, one thread: no shared memory needed, so pages that are
#                 not cross-origin isolated and a page's main thread get the fast kernels too
#   threads       nightly + build-std, atomics + shared memory, +simd128 +relaxed-simd, rayon pool
#   threads-simd  the threads build without relaxed SIMD: engines with shared memory but no
#                 relaxed SIMD (Safari 16.4+ rejects any module containing it; Node 20 unflagged)
#
# Installs what it needs when missing (rustup targets, nightly rust-src, wasm-bindgen-cli pinned
# to the wasm-bindgen version in Cargo.lock) and skips what is there. Each variant has its own
# cargo target dir because the RUSTFLAGS differ: sharing one would rebuild everything each time.
set -euo pipefail
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS  # would override the per-variant flags below

JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$JS/.." && pwd)"
source "$ROOT/scripts/nightly.sh"
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(scalar simd relaxed threads threads-simd)
TARGET_BASE="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${WASM_PROFILE:-release}"
say() { printf '\033[1;36m[build-wasm]\033[0m %s\n' "$*"; }

# --- tools ----------------------------------------------------------------------------------
installed="$(rustup target list --installed)"
grep -qx wasm32-unknown-unknown <<<"$installed" || rustup target add wasm32-unknown-unknown
need_threads=0
for v in "${VARIANTS[@]}"; do case "$v" in threads*) need_threads=1 ;; esac; done
if [ $need_threads = 1 ]; then
    ensure_nightly
fi
# zstd-sys compiles C zstd for wasm32: needs clang (with the wasm32 backend) and llvm-ar.
if ! command -v clang >/dev/null; then
    say "apt-get install clang lld"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang lld >/dev/null
fi
export CC_wasm32_unknown_unknown=clang
if command -v llvm-ar >/dev/null; then export AR_wasm32_unknown_unknown=llvm-ar
else export AR_wasm32_unknown_unknown="$(ls /usr/bin/llvm-ar-* 2>/dev/null | head -n1)"; fi

WBG_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WBG_VERSION\$"; then
    say "cargo install wasm-bindgen-cli =$WBG_VERSION (about 2.5 min)"
    # --locked first (reproducible); the registry mirror here lacks some locked versions of the
    # CLI's own dependencies, so fall back to a fresh resolution of the same CLI version.
    cargo install wasm-bindgen-cli --version "=$WBG_VERSION" --locked --quiet ||
        cargo install wasm-bindgen-cli --version "=$WBG_VERSION" --quiet
fi

# --- builds ---------------------------------------------------------------------------------
build_variant() {
    local variant="$1" toolchain="" flags="" extra=() features=()
    case "$variant" in
        scalar) flags="" ;;
        simd) flags="-C target-feature=+simd128" ;;
        relaxed) flags="-C target-feature=+simd128,+relaxed-simd" ;;
        threads | threads-simd)
            toolchain="+$NIGHTLY"
            flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
            [ "$variant" = threads ] && flags+=",+relaxed-simd"
            flags+=" -C link-arg=--shared-memory -C link-arg=--import-memory"
            flags+=" -C link-arg=--max-memory=4294967296"
            flags+=" -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size"
            flags+=" -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
            extra=(-Z build-std=panic_abort,std)
            features=(--features threads)
            ;;
        *) echo "unknown variant '$variant' (scalar|simd|relaxed|threads|threads-simd)" >&2; return 2 ;;
    esac
    local tdir="$TARGET_BASE/wasm-$variant"
    local out="$JS/dist/wasm/$variant"
    local start=$SECONDS
    say "$variant: cargo $toolchain build ($PROFILE) -> $tdir"
    # CARGO_TARGET_<triple>_RUSTFLAGS applies to the wasm crates only, not to host build scripts.
    CARGO_TARGET_DIR="$tdir" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
        cargo $toolchain build -p wasm-torch-js --lib --target wasm32-unknown-unknown \
        --profile "$PROFILE" "${features[@]}" "${extra[@]}"
    local pdir="$PROFILE"; [ "$PROFILE" = dev ] && pdir=debug
    rm -rf "$out"; mkdir -p "$out"
    wasm-bindgen --target web --out-dir "$out" --out-name wasm_torch \
        "$tdir/wasm32-unknown-unknown/$pdir/wasm_torch_js.wasm"
    if [ "$variant" != "${variant#threads}" ]; then
        # Our worker start-up (browsers and Node) replaces wasm-bindgen-rayon's helper.
        local helper
        helper="$(find "$out/snippets" -name 'workerHelpers*.js' | head -n1)"
        [ -n "$helper" ] || { echo "wasm-bindgen-rayon helper snippet not found" >&2; return 1; }
        cp "$JS/scripts/rayon-workers.js" "$helper"
    fi
    say "$variant: done in $((SECONDS - start))s, $(du -h "$out/wasm_torch_bg.wasm" | cut -f1) wasm"
}
for v in "${VARIANTS[@]}"; do build_variant "$v"; done
