#!/usr/bin/env bash
# Builds the Python package (py-export: pyo3 + maturin, release mode) and installs it into
# ./.venv. Cargo's incremental build makes a second run quick.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$ROOT/.venv/bin/maturin" ] || bash "$ROOT/scripts/setup.sh" python
cd "$ROOT/py-export"
export VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH"
maturin develop --release --quiet
