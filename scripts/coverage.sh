#!/usr/bin/env bash
# Line coverage per component, in one command:
#   Rust        cargo-llvm-cov over the workspace's tests (native; the pyo3 crate is exercised
#               through Python and left out here)
#   Python      pytest-cov over py-export's test suite (the wasm_torch package)
#   TypeScript  c8 over the Node tests (the SDK's compiled dist/)
#
#   scripts/coverage.sh            # all three (about 20 minutes on 2 cores, cold)
#   scripts/coverage.sh rust js    # some
#
# Installs what it needs (llvm-tools-preview, cargo-llvm-cov, pytest-cov, c8) and skips what
# is there. Writes target/coverage/summary.md. CI prints the Python and TypeScript numbers in
# their test stages (scripts/test-python.sh, js/scripts/test.sh); the Rust run needs an
# instrumented build of the whole workspace and cargo-llvm-cov compiled from source (about
# 4 minutes), so CI leaves it to this command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(rust python js)
want() { local p; for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
say() { printf '\033[1;36m[coverage]\033[0m %s\n' "$*"; }
OUT="$ROOT/target/coverage"
mkdir -p "$OUT"
SUMMARY=("| component | lines covered | tool |" "|---|---|---|")

if want rust; then
    bash scripts/setup.sh rust
    rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools-preview
    command -v cargo-llvm-cov >/dev/null || cargo install cargo-llvm-cov --version 0.9.1 --locked
    say "Rust: cargo llvm-cov --workspace --exclude wasm-torch-py"
    cargo llvm-cov --workspace --exclude wasm-torch-py --json --summary-only --output-path "$OUT/rust.json"
    cargo llvm-cov report --summary-only | tail -n 1
    pct="$(python3 -c "import json; d=json.load(open('$OUT/rust.json'))['data'][0]['totals']['lines']; print(f\"{d['percent']:.1f}% ({d['covered']}/{d['count']})\")")"
    SUMMARY+=("| Rust (workspace tests) | $pct | cargo-llvm-cov |")
fi
if want python; then
    bash scripts/setup.sh python
    bash scripts/build-python.sh
    say "Python: pytest --cov=wasm_torch"
    (cd py-export && HF_HUB_OFFLINE=1 "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider tests \
        --cov=wasm_torch --cov-report=term --cov-report="json:$OUT/python.json")
    pct="$(python3 -c "import json; d=json.load(open('$OUT/python.json'))['totals']; print(f\"{d['percent_covered']:.1f}% ({d['covered_lines']}/{d['num_statements']})\")")"
    SUMMARY+=("| Python (wasm_torch) | $pct | pytest-cov |")
fi
if want js; then
    say "TypeScript: the Node tests under c8 (js/scripts/test.sh node)"
    bash js/scripts/test.sh node
    pct="$(python3 -c "import json; d=json.load(open('$OUT/js/coverage-summary.json'))['total']['lines']; print(f\"{d['pct']:.1f}% ({d['covered']}/{d['total']})\")")"
    SUMMARY+=("| TypeScript (SDK, dist/) | $pct | c8 |")
fi
printf '%s\n' "${SUMMARY[@]}" | tee "$OUT/summary.md"
