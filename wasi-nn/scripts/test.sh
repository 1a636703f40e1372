#!/usr/bin/env bash
# Builds what the wasi-nn tests need and runs them all:
#   1. the Rust crate wasm-torch-wasi-nn: tests natively (+ the zoo vs PyTorch when a zoo exists)
#   7. last, a release build of the crate for wasm32-unknown-unknown and wasm32-wasip1 (the
#      latter needs the wasi-libc headers for zstd's C code: apt-get install wasi-libc), and
#      the crate's tests compiled to wasm32-wasip1 and run under node:wasi. A build, not a
#      check: some errors (e.g. constant overflow on 32-bit usize) only show there.
#   2. the fixtures (tiny .wtb models + inputs + expected outputs) via the test-support crate's
#      `fixtures` tool
#   3. the guest for wasm32-wasip1
#   4. wasm-torch's wasm build: $WASM_TORCH_WASM_DIR if set, else js/dist/wasm/simd or
#      js/dist/wasm/scalar; when none exists it runs `js/scripts/build-wasm.sh simd`
#   5. the zoo: $WASI_NN_ZOO, target/wasi-nn-zoo, target/demo-zoo or zoo-out if present; with
#      WASI_NN_BUILD_ZOO=1 it first exports resnet18 + squeezenet1_1 with .venv's wasm_torch
#      (py-export) into target/wasi-nn-zoo (about 30 s)
#   6. node --test wasi-nn/test/
#
#   wasi-nn/scripts/test.sh            # everything
#   SKIP_RUST=1 wasi-nn/scripts/test.sh  # only the JavaScript side
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1;35m[wasi-nn]\033[0m %s\n' "$*"; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/wasi-nn}"
GUEST_TARGET="${WASI_NN_GUEST_TARGET:-$CARGO_TARGET_DIR-guest}"
export WASI_NN_GUEST_TARGET="$GUEST_TARGET"
CRATE=(--manifest-path "$HERE/crate/Cargo.toml")
AR="$(command -v llvm-ar || ls /usr/bin/llvm-ar-* 2>/dev/null | head -n1 || true)"

installed="$(rustup target list --installed)"
for t in wasm32-unknown-unknown wasm32-wasip1; do grep -qx "$t" <<<"$installed" || rustup target add "$t"; done

if [ "${WASI_NN_BUILD_ZOO:-0}" = 1 ] && [ -z "${WASI_NN_ZOO:-}" ]; then
    export WASI_NN_ZOO="$ROOT/target/wasi-nn-zoo"
    say "exporting resnet18 squeezenet1_1 from PyTorch -> $WASI_NN_ZOO"
    mkdir -p "$WASI_NN_ZOO"
    .venv/bin/python py-export/zoo/build_zoo.py --out "$WASI_NN_ZOO" --models resnet18 squeezenet1_1
fi
for d in "${WASI_NN_ZOO:-}" "$ROOT/target/wasi-nn-zoo" "$ROOT/target/demo-zoo" "$ROOT/zoo-out"; do
    if [ -n "$d" ] && [ -f "$d/manifest.json" ]; then export WASI_NN_ZOO="$d"; break; fi
done

if [ "${SKIP_RUST:-0}" != 1 ]; then
    say "crate tests (native)"
    cargo test "${CRATE[@]}"
    if [ -n "${WASI_NN_ZOO:-}" ]; then
        say "crate: zoo models in $WASI_NN_ZOO vs PyTorch"
        cargo test "${CRATE[@]}" --release --test zoo -- --ignored --nocapture
    else
        say "no zoo (set WASI_NN_ZOO or WASI_NN_BUILD_ZOO=1): the PyTorch comparisons do not run"
    fi
fi

say "fixtures -> wasi-nn/test/fixtures"
cargo run -q -p wasm-torch-test-support --bin fixtures -- wasi-nn "$HERE/test/fixtures"

say "guest for wasm32-wasip1 -> $GUEST_TARGET"
CARGO_TARGET_DIR="$GUEST_TARGET" cargo build --manifest-path "$HERE/guest/Cargo.toml" --release --target wasm32-wasip1

if [ -z "${WASM_TORCH_WASM_DIR:-}" ] && [ ! -f js/dist/wasm/simd/wasm_torch_bg.wasm ] && [ ! -f js/dist/wasm/scalar/wasm_torch_bg.wasm ]; then
    say "no wasm-torch wasm build yet: js/scripts/build-wasm.sh simd"
    bash js/scripts/build-wasm.sh simd
fi


if [ ! -d "$HERE/node_modules/@bjorn3/browser_wasi_shim" ] || [ ! -d "$HERE/node_modules/playwright-core" ] || [ ! -d "$HERE/node_modules/puppeteer-core" ]; then
    say "npm ci in wasi-nn/ (browser_wasi_shim; playwright-core, puppeteer-core for the browser tests)"
    (cd "$HERE" && npm ci --no-audit --no-fund)
fi

say "node --test wasi-nn/test/*.test.mjs"
node --test "$HERE"/test/*.test.mjs

if [ "${SKIP_RUST:-0}" != 1 ]; then
    say "crate build for wasm32-unknown-unknown"
    CC_wasm32_unknown_unknown=clang AR_wasm32_unknown_unknown="$AR" \
        cargo build "${CRATE[@]}" --lib --release --target wasm32-unknown-unknown
    if [ -d /usr/include/wasm32-wasi ]; then
        say "crate build for wasm32-wasip1, and its tests run inside wasm under node:wasi"
        export CC_wasm32_wasip1=clang CFLAGS_wasm32_wasip1="-isystem /usr/include/wasm32-wasi" AR_wasm32_wasip1="$AR"
        cargo build "${CRATE[@]}" --lib --release --target wasm32-wasip1
        # Only the test harnesses (profile.test): `cargo test` also builds examples and bins,
        # which would take the harness flags as their own arguments.
        mapfile -t tests < <(cargo test "${CRATE[@]}" --target wasm32-wasip1 --no-run --message-format=json |
            grep '"test":true' | grep -o '"executable":"[^"]*\.wasm"' | cut -d'"' -f4)
        for t in "${tests[@]}"; do
            (cd "$HERE/crate" && node --no-warnings "$HERE/scripts/run-wasi-test.mjs" "$t" --test-threads=1)
        done
    else
        say "NOT building for wasm32-wasip1: apt-get install wasi-libc (zstd's C code needs libc headers)"
        exit 1
    fi
fi
say "all passed"
