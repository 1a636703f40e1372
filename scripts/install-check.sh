#!/usr/bin/env bash
# Installs the packages built by scripts/package.sh into a fresh venv and a fresh npm project,
# outside the repository, and runs a model with them: the Python wheel exports a small CNN and
# runs it natively against PyTorch; the npm tarball runs the same file in Node against PyTorch's
# output. This is the README's "install from the packages" quick start, checked.
#
#   scripts/install-check.sh [PKG_DIR]      # default target/pkg (runs scripts/package.sh first)
#
# torch itself is not installed again: PyPI's torch wheel is the CUDA build (about 5 GB), so
# the fresh venv sees the test venv's torch through a .pth file. Everything of ours comes from
# the wheel, and the check fails if `wasm_torch` is imported from anywhere else.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="${1:-$ROOT/target/pkg}"
WORK="$ROOT/target/install-check"
say() { printf '\033[1;36m[install-check]\033[0m %s\n' "$*"; }
[ -n "${1:-}" ] || bash "$ROOT/scripts/package.sh" "$PKG"
PKG="$(cd "$PKG" && pwd)"
WHEEL="$(ls "$PKG"/wasm_torch-*.whl | head -n1)"
TGZ="$(ls "$PKG"/wasm-torch-*.tgz | head -n1)"
rm -rf "$WORK" && mkdir -p "$WORK/app"

say "fresh venv: pip install $(basename "$WHEEL")"
python3 -m venv "$WORK/venv"
SITE="$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
TORCH_SITE="$("$ROOT/.venv/bin/python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')"
echo "$TORCH_SITE" > "$SITE/zz_torch_from_test_venv.pth"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$WHEEL"
(cd "$WORK" && "$WORK/venv/bin/python" "$ROOT/scripts/install-check/check.py" "$WORK" "$WORK/venv")

say "fresh npm project: npm install $(basename "$TGZ")"
cd "$WORK/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$TGZ"
cp "$ROOT/scripts/install-check/check.mjs" .
node check.mjs "$WORK"
say "ok: the wheel and the npm package install and run a model outside the repository"
