#!/usr/bin/env bash
# Builds the documentation site into target/site, warnings as errors:
#   guides          MkDocs (Material theme) over docs/ and the packages' READMEs (mkdocs.yml)
#   Rust API        rustdoc, every workspace crate (`cargo doc --no-deps`, -D warnings)
#   TypeScript API  TypeDoc over the npm package's entry points; an undocumented export fails
#   Python API      pdoc over the wasm_torch package
#
#   bash scripts/docs.sh                                   # build
#   python3 -m http.server -d target/site 8000             # serve: http://localhost:8000/
#
# Needs `scripts/setup.sh python node docs` (scripts/test.sh docs runs it) and the wasm_torch
# package built into .venv (scripts/build-python.sh, which this script runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1;32m[docs]\033[0m %s\n' "$*"; }
SRC="$ROOT/target/site-src"
PY="$ROOT/.venv/bin/python"

say "stage the pages (scripts/docs_stage.py)"
"$PY" scripts/docs_stage.py "$ROOT" "$SRC" "$ROOT/target/mkdocs.yml"
mkdir -p "$SRC/api"

say "Rust API: cargo doc --no-deps --workspace (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
cp -r target/doc "$SRC/api/rust"

say "TypeScript API: typedoc (notDocumented validation, warnings are errors)"
(cd js/typedoc && node_modules/.bin/typedoc --logLevel Warn --out "$SRC/api/js")

say "Python API: pdoc wasm_torch"
bash scripts/build-python.sh >/dev/null
# pdoc reports what it cannot render (an unresolvable annotation, a broken link) as a
# UserWarning; -W error turns those into failures. The package's __all__ hides its public
# submodules from pdoc's walk, so they are named here.
HF_HUB_OFFLINE=1 "$PY" -W error::UserWarning -m pdoc --docformat google --no-show-source \
    -o "$SRC/api/python" wasm_torch wasm_torch.errors wasm_torch.generate wasm_torch.llm \
    wasm_torch.cli wasm_torch.zoo

say "guides: mkdocs build --strict"
NO_MKDOCS_2_WARNING=1 "$ROOT/.venv/bin/mkdocs" build --strict --quiet -f "$ROOT/target/mkdocs.yml"
say "site: $ROOT/target/site/index.html (serve: python3 -m http.server -d target/site 8000)"
