#!/usr/bin/env bash
# The LLM benchmark, in one run: SmolLM2-135M-Instruct, a 128-token prompt, 128 new tokens
# (greedy, EOS ignored), 1 and 2 threads, for
#   wasm-torch in Node 24 and in headless Chromium (simd build at 1 thread, threads build at 2),
#   wllama (@wllama/wllama, llama.cpp in wasm) on the same GGUF in headless Chromium,
#   PyTorch eager `generate` (fp32), llama-cpp-python on the same GGUF, and wasm-torch native
#   (the Python package),
# each in a fresh process per engine and thread count; then writes the table (prefill tok/s,
# decode tok/s, peak resident memory, ratios to wllama) and the decode-step profile to
# $OUT/table.{md,json} and $OUT/profile-*.json.
#
#   benches/llm/run.sh [--model SMOLLM2.wtb] [--runs N] [--new-tokens N] [--only LIST]
#
# --model: an exported SmolLM2 (max_cache_len >= 256); without it $OUT/smollm2.wtb is exported
#   once (benches/llm/export_smollm2.py when present, else prepare.py's inline recipe).
# --only: comma list of native,node,chromium (default: all three).
# OUT = $BENCH_LLM_DIR or target/llm-bench. llama-cpp-python has no Linux wheel on PyPI: it is
# built from source once into target/llama-venv (the build time is printed and kept in
# target/llama-venv/BUILD_SECONDS). Node: `npx -y node@24` unless NODE is set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/benches/llm"
cd "$ROOT"
ARGS="$*"
MODEL=""; RUNS=3; NEW=128; ONLY="native,node,chromium"
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --new-tokens) NEW="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
say() { printf '\033[1;36m[bench-llm]\033[0m %s\n' "$*" >&2; }
NODE=${NODE:-"npx -y node@24"}
OUT="${BENCH_LLM_DIR:-$ROOT/target/llm-bench}"
PY="$ROOT/.venv/bin/python"
LLAMA_VENV="$ROOT/target/llama-venv"
LLAMA_CPP_VERSION=0.3.36
mkdir -p "$OUT"

# --- builds and packages ------------------------------------------------------------------
bash scripts/build-python.sh
bash js/scripts/build-wasm.sh simd threads
(cd js && ./node_modules/.bin/tsc -p tsconfig.json)
[ -d "$HERE/node_modules/@wllama/wllama" ] || (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
# llama-cpp-python: built once, under a lock (a second run waits for the first one's build).
build_llama_cpp() {
    exec 9>"$LLAMA_VENV.lock"
    flock 9
    if ! "$LLAMA_VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
        say "building llama-cpp-python $LLAMA_CPP_VERSION from source into $LLAMA_VENV (no wheel on PyPI)"
        python3 -m venv "$LLAMA_VENV"
        local start; start=$(date +%s)
        # Only the library: no tools, tests, examples or multimodal projector.
        CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF" \
            "$LLAMA_VENV/bin/pip" install --quiet "llama-cpp-python==$LLAMA_CPP_VERSION" numpy \
            || say "llama-cpp-python did not build; its rows will say so"
        echo $(( $(date +%s) - start )) >"$LLAMA_VENV/BUILD_SECONDS"
        say "llama-cpp-python build: $(cat "$LLAMA_VENV/BUILD_SECONDS") s"
    fi
    flock -u 9
}

# --- model and prompt ---------------------------------------------------------------------
if [ -z "$MODEL" ]; then
    MODEL="$OUT/smollm2.wtb"
    if [ ! -f "$MODEL" ] && [ -f "$HERE/export_smollm2.py" ]; then
        "$PY" "$HERE/export_smollm2.py" "$OUT"
    fi
fi
if [ -f "$MODEL" ]; then
    "$PY" "$HERE/prepare.py" --out "$OUT" --model "$MODEL"
else
    "$PY" "$HERE/prepare.py" --out "$OUT"
fi
PROMPT="$OUT/prompt.json"
# The browser page is served from the repository root: link the model and the GGUF below it.
MODEL="$(realpath "$MODEL")"
[ "$MODEL" = "$OUT/model.wtb" ] || ln -sf "$MODEL" "$OUT/model.wtb"
GGUF="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['gguf'])" "$PROMPT")"
ln -sf "$GGUF" "$OUT/smollm2.gguf"

# --- measurements (one process per engine and thread count) ---------------------------------
results="$OUT/results.jsonl"; : >"$results"
common=(--prompt "$PROMPT" --runs "$RUNS" --new-tokens "$NEW")
# The machine's single-thread read bandwidth now (the floor of a weight-streaming decode step).
want native && "$PY" "$HERE/bench_native.py" --engine bandwidth "${common[@]}" | tee -a "$results"
for t in 1 2; do
    variant=simd; [ $t -gt 1 ] && variant=threads
    if want chromium; then
        say "Chromium, wllama and wasm-torch $variant, $t thread(s)"
        $NODE "$HERE/bench_js.mjs" --env chromium --engine wllama --threads $t \
            --model "$OUT/smollm2.gguf" "${common[@]}" | tee -a "$results"
        $NODE "$HERE/bench_js.mjs" --env chromium --engine wasm-torch --variant $variant --threads $t \
            --model "$OUT/model.wtb" "${common[@]}" | tee -a "$results"
    fi
    if want node; then
        say "Node, wasm-torch $variant, $t thread(s) (+ decode profile)"
        $NODE "$HERE/bench_js.mjs" --env node --engine wasm-torch --variant $variant --threads $t \
            --model "$OUT/model.wtb" --profile "$OUT/profile-node-$variant-$t.json" "${common[@]}" | tee -a "$results"
    fi
    if want native; then
        say "native PyTorch and wasm-torch, $t thread(s)"
        "$PY" "$HERE/bench_native.py" --engine torch --threads $t "${common[@]}" | tee -a "$results"
        RAYON_NUM_THREADS=$t "$PY" "$HERE/bench_native.py" --engine wasm-torch --threads $t \
            --model "$MODEL" "${common[@]}" | tee -a "$results"
    fi
done
if want native; then
    build_llama_cpp
    for t in 1 2; do
        say "native llama-cpp-python, $t thread(s)"
        "$LLAMA_VENV/bin/python" "$HERE/bench_native.py" --engine llama-cpp --threads $t "${common[@]}" \
            | tee -a "$results" || true
    done
    want native && "$PY" "$HERE/bench_native.py" --engine bandwidth "${common[@]}" | tee -a "$results"
fi

"$PY" "$HERE/report.py" --results "$results" --profiles "$OUT"/profile-*.json \
    --out-md "$OUT/table.md" --out-json "$OUT/table.json" --node-version "$($NODE --version)" \
    --command "benches/llm/run.sh${ARGS:+ $ARGS}"
