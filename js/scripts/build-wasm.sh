#!/usr/bin/env bash
# Builds the wasm variants of the wasm-torch-js crate into js/dist/wasm/<variant>/.
#
#   js/scripts/build-wasm.sh                  # scalar simd relaxed threads threads-simd
#   js/scripts/build-wasm.sh scalar simd      # only some variants
#   js/scripts/build-wasm.sh memory64 memory64-threads   # the opt-in memory64 builds (not by default)
#
# Variants (the SDK picks one at run time by feature detection, see js/src/detect.ts):
#   scalar        no SIMD: engines without wasm SIMD
#   simd          +simd128, one thread: engines without relaxed SIMD (Safari, Node 20)
#   relaxed       +simd128 +relaxed-simd, one thread: no shared memory needed, so pages that are
#                 not cross-origin isolated and a page's main thread get the fast kernels too
#   threads       nightly + build-std, atomics + shared memory, +simd128 +relaxed-simd, rayon pool
#   threads-simd  the threads build without relaxed SIMD: engines with shared memory but no
#                 relaxed SIMD (Safari 16.4+ rejects any module containing it; Node 20 unflagged)
#   memory64      wasm64-unknown-unknown (nightly + build-std), +simd128 +relaxed-simd, one
#                 thread: 64-bit linear memory for models past the 4 GiB of wasm32 (Chromium
#                 133+, Firefox 134+, Node 24). Slower than `relaxed` (bounds checks on 64-bit
#                 addresses; see docs/performance.md), so the SDK uses it only when asked
#                 (`variant: 'memory64'`). Not in the default list: it is one more build-std
#                 build (~3 min here) for a build few users need. Its C code (zstd) needs a
#                 clang of LLVM 20 or newer: older ones emit 32-bit `call_indirect` table
#                 indices, which rustc's LLVM (64-bit tables on wasm64) cannot link with.
#   memory64-threads  the threads build on wasm64: shared 64-bit memory (maximum 16 GiB), a
#                 rayon pool, +simd128 +relaxed-simd. Opt-in like `memory64`.
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
need_wasm64=0
for v in "${VARIANTS[@]}"; do
    case "$v" in threads*) need_threads=1 ;; memory64*) need_threads=1; need_wasm64=1 ;; esac
done
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
# The memory64 build's C code (zstd) needs clang >= 20 (see the header): the newest clang-N
# on PATH, else plain `clang` when it is new enough, else the newest clang-N apt offers.
if [ $need_wasm64 = 1 ]; then
    cc64=""
    for n in $(seq 30 -1 20); do
        command -v "clang-$n" >/dev/null && { cc64="$n"; break; }
    done
    if [ -z "$cc64" ] && ! clang --version | grep -Eq 'clang version ([2-9][0-9])\.'; then
        pkg="$(apt-cache search --names-only '^clang-[0-9]+$' 2>/dev/null | awk '{print $1}' | sort -t- -k2 -n | tail -n1)"
        [ -n "$pkg" ] && [ "${pkg#clang-}" -ge 20 ] ||
            { echo "memory64: needs clang >= 20; apt offers '${pkg:-none}' (run apt-get update?)" >&2; exit 1; }
        say "apt-get install $pkg llvm-${pkg#clang-} (the memory64 build's C code needs clang >= 20)"
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" "llvm-${pkg#clang-}" >/dev/null
        cc64="${pkg#clang-}"
    fi
    if [ -n "$cc64" ]; then
        export CC_wasm64_unknown_unknown="clang-$cc64" AR_wasm64_unknown_unknown="llvm-ar-$cc64"
    else
        export CC_wasm64_unknown_unknown=clang AR_wasm64_unknown_unknown="$AR_wasm32_unknown_unknown"
    fi
fi

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
    local variant="$1" toolchain="" flags="" extra=() features=() triple=wasm32-unknown-unknown
    case "$variant" in
        scalar) flags="" ;;
        simd) flags="-C target-feature=+simd128" ;;
        relaxed) flags="-C target-feature=+simd128,+relaxed-simd" ;;
        threads | threads-simd | memory64-threads)
            toolchain="+$NIGHTLY"
            flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
            [ "$variant" != threads-simd ] && flags+=",+relaxed-simd"
            flags+=" -C link-arg=--shared-memory -C link-arg=--import-memory"
            # A shared memory needs a maximum: all of wasm32's, or the engines' 16 GiB of memory64.
            if [ "$variant" = memory64-threads ]; then
                triple=wasm64-unknown-unknown
                flags+=" -C link-arg=--max-memory=17179869184"
            else
                flags+=" -C link-arg=--max-memory=4294967296"
            fi
            flags+=" -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size"
            flags+=" -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
            extra=(-Z build-std=panic_abort,std)
            features=(--features threads)
            ;;
        memory64)
            # Tier 3 target: no prebuilt std, so nightly + build-std. No --max-memory: the
            # engine's own memory64 limit (16 GiB in V8 and SpiderMonkey) applies.
            toolchain="+$NIGHTLY"
            triple=wasm64-unknown-unknown
            flags="-C target-feature=+simd128,+relaxed-simd"
            extra=(-Z build-std=panic_abort,std)
            ;;
        *) echo "unknown variant '$variant' (scalar|simd|relaxed|threads|threads-simd|memory64|memory64-threads)" >&2; return 2 ;;
    esac
    local tdir="$TARGET_BASE/wasm-$variant"
    local out="$JS/dist/wasm/$variant"
    local start=$SECONDS
    say "$variant: cargo $toolchain build ($PROFILE) -> $tdir"
    # CARGO_TARGET_<triple>_RUSTFLAGS applies to the wasm crates only, not to host build scripts.
    CARGO_TARGET_DIR="$tdir" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
        CARGO_TARGET_WASM64_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
        cargo $toolchain build -p wasm-torch-js --lib --target "$triple" \
        --profile "$PROFILE" "${features[@]}" "${extra[@]}"
    local pdir="$PROFILE"; [ "$PROFILE" = dev ] && pdir=debug
    rm -rf "$out"; mkdir -p "$out"
    wasm-bindgen --target web --out-dir "$out" --out-name wasm_torch \
        "$tdir/$triple/$pdir/wasm_torch_js.wasm"
    if [ "$variant" != "${variant#threads}" ] || [ "$variant" = memory64-threads ]; then
        # Our worker start-up (browsers and Node) replaces wasm-bindgen-rayon's helper.
        local helper
        helper="$(find "$out/snippets" -name 'workerHelpers*.js' | head -n1)"
        [ -n "$helper" ] || { echo "wasm-bindgen-rayon helper snippet not found" >&2; return 1; }
        cp "$JS/scripts/rayon-workers.js" "$helper"
    fi
    say "$variant: done in $((SECONDS - start))s, $(du -h "$out/wasm_torch_bg.wasm" | cut -f1) wasm"
}
for v in "${VARIANTS[@]}"; do build_variant "$v"; done
