#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test suite.
#
#   scripts/test.sh                 # everything (what CI runs)
#   scripts/test.sh rust python     # only some stages: lint rust wasm fuzz python zoo js wasinn install docs
#                                   (wasm also runs the kernels' wasm test suites under Node)
#
# Every stage runs even when an earlier one failed, so one run shows all failures; the exit
# code is non-zero if any stage failed. FUZZ_SECONDS (default 45) is the time per fuzz target.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(lint rust wasm fuzz python zoo js wasinn install docs)
want() { local s; for s in "${STAGES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# Set-up first: the same script the demo uses; it skips what is installed.
setup_parts=(rust)
# lint type-checks js/wasi-nn/host.js with the npm tsc, so it needs the node packages too.
want lint && setup_parts+=(apt wasm python node)
want wasm && setup_parts+=(apt wasm)
want js && setup_parts+=(apt wasm node python)
want wasinn && setup_parts+=(apt wasm node python)
want install && setup_parts+=(apt wasm node python)
want fuzz && setup_parts+=(fuzz)
want python && setup_parts+=(python)
# The zoo also runs every model in wasm under Node (the npm package's relaxed-SIMD build).
want zoo && setup_parts+=(apt wasm node python)
want docs && setup_parts+=(python docs)
bash scripts/setup.sh "${setup_parts[@]}" || { echo "setup failed"; exit 1; }

export CARGO_TERM_COLOR=never
# Disk: a full run from a fresh clone needs ~35 GB with these settings. Test builds keep line
# tables only (enough for panic locations; full debug info doubles target/debug) and no
# incremental state (another ~2.5 GB that a one-off run never reuses). Set either variable to
# keep your own.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
export CARGO_PROFILE_TEST_DEBUG="${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}"
# Low-disk mode (on in CI, by .ci/run, and wherever less than 40 GiB is free): each stage
# deletes the build dirs only it uses once it ends (see `stage_cleanup`), so the peak is the
# largest stage, not the sum. Later runs rebuild them.
avail_gib() { df -P -k "$ROOT" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'; }
if [ -z "${WASM_TORCH_LOW_DISK:-}" ]; then
    if [ "$(avail_gib)" -lt 40 ]; then WASM_TORCH_LOW_DISK=1; else WASM_TORCH_LOW_DISK=0; fi
fi
echo "disk: $(avail_gib) GiB free; low-disk mode: $WASM_TORCH_LOW_DISK"
# The build dirs and files that only one stage reads (relative to the repository root).
stage_cleanup() {
    [ "$WASM_TORCH_LOW_DISK" = 1 ] || return 0
    local paths=()
    case "$1" in
        lint) paths=(target/lint-wasm-simd128 target/lint-wasm-relaxed) ;;
        wasm) paths=(target/wasm-simd-check) ;;
        kernels-wasm) paths=(target/kernels-wasm-scalar target/kernels-wasm-simd128 target/kernels-wasm-relaxed) ;;
        fuzz) paths=(fuzz/target) ;;
        zoo-catalog) paths=(target/zoo) ;;
        js) paths=(target/big-linear target/big-linear-int8 target/release-1g target/js-detect) ;;
        install) paths=(target/install-check) ;;
    esac
    [ ${#paths[@]} -gt 0 ] || return 0
    echo "low-disk mode: removing ${paths[*]}"
    rm -rf "${paths[@]}"
}
PASSED=(); FAILED=()
stage() {
    local name="$1"; shift
    printf '\n\033[1;35m===== stage %s (%s GiB free) =====\033[0m\n' "$name" "$(avail_gib)"
    local start=$SECONDS
    if "$@"; then PASSED+=("$name"); r=ok; else FAILED+=("$name"); r=FAILED; fi
    printf '\033[1;35m===== stage %s: %s (%ss, %s GiB free) =====\033[0m\n' "$name" "$r" "$((SECONDS - start))" "$(avail_gib)"
    stage_cleanup "$name"
}

# Every check here fails on a new warning: clippy with -D warnings (the workspace lints in
# Cargo.toml), ruff, mypy and tsc exit non-zero on any finding.
lint() {
    cargo fmt --all -- --check &&
        cargo clippy --workspace --all-targets --quiet -- -D warnings &&
        lint_wasm &&
        lint_python &&
        echo "== tsc --checkJs js/wasi-nn/host.js" &&
        js/node_modules/.bin/tsc -p js/wasi-nn
}
# The wasm SIMD code compiles only with its target features on: clippy for both SIMD levels of
# the kernels (with their tests, under wasm32-wasip1), one target dir per level so they do not
# rebuild each other. interp and the js crate have no code behind target features (only a
# `cfg!` that names the level), so one clippy pass as the browser build covers them.
lint_wasm() {
    export CC_wasm32_unknown_unknown=clang AR_wasm32_unknown_unknown=llvm-ar
    command -v llvm-ar >/dev/null || export AR_wasm32_unknown_unknown=llvm-ar-14
    local level flags
    for level in simd128 relaxed; do
        case $level in
            simd128) flags="-C target-feature=+simd128" ;;
            relaxed) flags="-C target-feature=+simd128,+relaxed-simd" ;;
        esac
        echo "== clippy wasm32 ($level)"
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="$ROOT/target/lint-wasm-$level" \
            cargo clippy --quiet -p wasm-torch-kernels --all-targets --target wasm32-wasip1 -- -D warnings ||
            return 1
    done
    echo "== clippy wasm32 browser build (interp, js crate)"
    RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" CARGO_TARGET_DIR="$ROOT/target/lint-wasm-relaxed" \
        cargo clippy --quiet -p wasm-torch-interp -p wasm-torch-js --target wasm32-unknown-unknown -- -D warnings
}
lint_python() {
    echo "== ruff, mypy (py-export)"
    (cd py-export && ../.venv/bin/ruff check . && ../.venv/bin/ruff format --check . && ../.venv/bin/mypy)
}
rust_tests() {
    # The pyo3 crate is tested through pytest (it links against libpython only inside Python).
    cargo test --workspace --exclude wasm-torch-py &&
        # Every allocation of a load and a run failed in turn (needs the test-only failpoint).
        cargo test -p wasm-torch-interp --features failpoints --test alloc_failure
}
wasm_check() {
    # interp + kernels + format must build for the browser target, with and without SIMD.
    export CC_wasm32_unknown_unknown=clang AR_wasm32_unknown_unknown=llvm-ar
    command -v llvm-ar >/dev/null || export AR_wasm32_unknown_unknown=llvm-ar-14
    cargo build -p wasm-torch-interp --target wasm32-unknown-unknown --release --quiet &&
        RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR=target/wasm-simd-check \
            cargo build -p wasm-torch-interp --target wasm32-unknown-unknown --release --quiet
}
# The kernels' wasm tables (no SIMD, simd128, relaxed-simd) run their whole test suite — every
# SIMD kernel against the portable one — under Node's WASI; one target dir per feature level so
# the three RUSTFLAGS do not rebuild each other.
kernels_wasm_tests() {
    export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --experimental-wasm-relaxed-simd --no-warnings $ROOT/kernels/wasm-runner/run-wasi.mjs"
    local level flags
    for level in scalar simd128 relaxed; do
        case $level in
            scalar) flags="" ;;
            simd128) flags="-C target-feature=+simd128" ;;
            relaxed) flags="-C target-feature=+simd128,+relaxed-simd" ;;
        esac
        echo "== kernels on wasm32-wasip1 ($level)"
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="$ROOT/target/kernels-wasm-$level" \
            cargo test -q -p wasm-torch-kernels --target wasm32-wasip1 -- --test-threads=1 || return 1
    done
}
fuzz_run() { bash fuzz/run.sh "${FUZZ_SECONDS:-45}"; }
python_tests() { bash scripts/test-python.sh; }
js_tests() { bash scripts/test-js.sh; }
# The WASI-NN host imports and a wasi-nn guest (wasm32-wasip1) in Node and browsers. It shares
# the workspace's target dir, so its native crate tests reuse the `rust` stage's build.
wasinn_tests() { CARGO_TARGET_DIR="$ROOT/target" WASI_NN_ZOO="$ROOT/target/test-zoo" bash wasi-nn/scripts/test.sh; }

want lint && stage lint lint
want rust && stage rust rust_tests
want wasm && stage wasm wasm_check
want wasm && stage kernels-wasm kernels_wasm_tests
want fuzz && stage fuzz fuzz_run
want python && stage python python_tests
# The zoo subset the js and wasinn stages compare against PyTorch, exported afresh every run
# (a stale zoo would hide exporter changes). build_zoo.py exits non-zero if any model fails to
# export or to match PyTorch natively.
zoo_build() {
    bash scripts/build-python.sh &&
        rm -rf target/test-zoo &&
        HF_HUB_OFFLINE=1 .venv/bin/python py-export/zoo/build_zoo.py --out target/test-zoo \
            --models resnet18 squeezenet1_1 minilm_seq16
}
# The tested model zoo (py-export/zoo/catalog.py): every architecture exported once, checked
# against PyTorch natively and then in wasm (all models in one Node process), timed, and the
# page written from the results (ZOO_PAGE, default target/zoo/zoo.md; ZOO_PAGE=docs/zoo.md
# refreshes the committed page). Exits non-zero if an available model fails anywhere.
# Single-threaded everywhere (RAYON_NUM_THREADS=1 here, torch.set_num_threads(1) in the
# script, the one-thread wasm build) so the times compare like with like.
zoo_catalog() {
    local ok=0
    rm -rf target/zoo
    RAYON_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error \
        .venv/bin/python py-export/zoo/build_zoo.py --catalog --out target/zoo --runs 5 || ok=1
    (cd js && bash scripts/build-wasm.sh relaxed && ./node_modules/.bin/tsc -p tsconfig.json) || return 1
    node --experimental-wasm-relaxed-simd js/test/zoo-wasm.mjs target/zoo --runs 5 || ok=1
    .venv/bin/python py-export/zoo/zoo_page.py target/zoo "${ZOO_PAGE:-target/zoo/zoo.md}" || ok=1
    return $ok
}
if want zoo || want js || want wasinn; then stage zoo zoo_build; fi
want zoo && stage zoo-catalog zoo_catalog
want js && stage js js_tests
want wasinn && stage wasinn wasinn_tests
# The packages as users get them: the wheel and the npm tarball (scripts/package.sh) installed
# into a fresh venv and a fresh npm project outside the repository, each running a model.
want install && stage install bash scripts/install-check.sh
# The documentation site (guides, rustdoc, TypeDoc, pdoc) with warnings as errors: a broken
# link, an undocumented exported TypeScript symbol or a rustdoc warning fails it.
want docs && stage docs bash scripts/docs.sh

echo
echo "passed stages: ${PASSED[*]:-none}"
echo "failed stages: ${FAILED[*]:-none}"
echo "stages: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]
