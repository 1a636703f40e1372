#!/usr/bin/env bash
# Regenerates docs/ops.md (or, with --check, fails when it is stale).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build -q -p wasm-torch-cli
exec .venv/bin/python scripts/gen_ops_doc.py --cli "${CARGO_TARGET_DIR:-target}/debug/wasm-torch" "$@"
