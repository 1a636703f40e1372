#!/usr/bin/env bash
# Builds the installable packages into one folder (default target/pkg):
#   wasm_torch-<version>-*.whl   the Python package (maturin, release): exporter + native runtime
#   wasm-torch-<version>.tgz     the npm package (npm pack): TypeScript SDK + the five wasm builds
#
#   scripts/package.sh [OUT_DIR]
#
# Installs what it needs (scripts/setup.sh) and skips what is there; cargo and tsc are
# incremental, so a second run is quick. scripts/install-check.sh installs both into a fresh
# venv and a fresh npm project and runs a model with them (the `install` stage of scripts/test.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/target/pkg}" && cd "${1:-$ROOT/target/pkg}" && pwd)"
say() { printf '\033[1;36m[package]\033[0m %s\n' "$*"; }
cd "$ROOT"
bash scripts/setup.sh rust wasm python node
rm -f "$OUT"/wasm_torch-*.whl "$OUT"/wasm-torch-*.tgz
say "Python wheel (maturin build --release)"
(cd py-export && "$ROOT/.venv/bin/maturin" build --release --quiet --out "$OUT")
say "npm package: wasm builds, tsc, npm pack"
bash js/scripts/build-wasm.sh
(cd js && { [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --loglevel=error; } && ./node_modules/.bin/tsc -p tsconfig.json &&
    npm pack --silent --pack-destination "$OUT" >/dev/null)
say "written to $OUT:"
ls -l "$OUT"/wasm_torch-*.whl "$OUT"/wasm-torch-*.tgz
