#!/usr/bin/env bash
# Every gate of the kernels crate: fmt, clippy and tests natively and for the three wasm
# feature levels (no SIMD, simd128, simd128+relaxed-simd; tests run under Node's WASI).
# Usage: kernels/check.sh   (from anywhere; uses $CARGO_TARGET_DIR if set)
set -euo pipefail
cd "$(dirname "$0")/.."
runner="node --experimental-wasm-relaxed-simd --no-warnings $PWD/kernels/wasm-runner/run-wasi.mjs"
export CARGO_TARGET_WASM32_WASIP1_RUNNER="$runner"
cargo fmt -p wasm-torch-kernels --check
cargo clippy -p wasm-torch-kernels --all-targets -- -D warnings
cargo test -p wasm-torch-kernels
for flags in "" "-C target-feature=+simd128" "-C target-feature=+simd128,+relaxed-simd"; do
  echo "== wasm32 RUSTFLAGS='$flags'"
  RUSTFLAGS="$flags" cargo clippy -p wasm-torch-kernels --target wasm32-unknown-unknown -- -D warnings
  RUSTFLAGS="$flags" cargo clippy -p wasm-torch-kernels --all-targets --target wasm32-wasip1 -- -D warnings
  RUSTFLAGS="$flags" cargo test -p wasm-torch-kernels --target wasm32-wasip1 -- --test-threads=1
done
echo "kernels: all checks passed"
