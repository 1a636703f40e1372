#!/usr/bin/env bash
# The exporter's tests: builds py-export into .venv and runs its pytest suite against PyTorch.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/build-python.sh"
mkdir -p "$ROOT/target/coverage"
cd "$ROOT/py-export"
# With pytest-cov: line coverage of the wasm_torch package (Python lines), printed per file.
# Two workers (pytest-xdist), a test file each at a time (module fixtures export once per
# file): most of the time is single-threaded Python in torch.export, so a 2-core machine runs
# two files at once. PYTEST_WORKERS=0 runs in one process.
# The tests' temporary files (exported models, some of them hundreds of MB) go under target/ and
# are removed afterwards: pytest's default keeps the last three runs in /tmp (~2 GB each).
BASETEMP="$ROOT/target/pytest-tmp"
trap 'rm -rf "$BASETEMP"' EXIT
HF_HUB_OFFLINE=1 "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider tests \
    --basetemp="$BASETEMP" \
    -n "${PYTEST_WORKERS:-2}" --dist loadfile \
    --cov=wasm_torch --cov-report=term --cov-report="json:$ROOT/target/coverage/python.json"
# docs/ops.md is generated from the registry and torch's Core ATen list: fail when stale.
bash "$ROOT/scripts/gen-ops-doc.sh" --check
