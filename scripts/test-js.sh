#!/usr/bin/env bash
# The npm package's tests: wasm builds, Node tests and headless browsers (js/scripts/test.sh),
# on the zoo that scripts/test.sh exported into target/test-zoo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WASM_TORCH_ZOO="${WASM_TORCH_ZOO:-$ROOT/target/test-zoo}"
exec bash "$ROOT/js/scripts/test.sh"
