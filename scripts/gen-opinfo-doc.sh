#!/usr/bin/env bash
# Runs every float32 OpInfo entry through the exporter and the native interpreter and
# regenerates docs/opinfo.md (per-entry table and percentage). A few minutes; CI checks a
# deterministic sample of the table instead (py-export/tests/test_opinfo.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/build-python.sh"
cd "$ROOT"
exec .venv/bin/python py-export/tests/opinfo_harness.py --out docs/opinfo.md "$@"
