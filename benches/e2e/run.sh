#!/usr/bin/env bash
# The end-to-end comparison, in one run: builds the zoo and the wasm bundles, measures native
# PyTorch and onnxruntime, onnxruntime-web (wasm backend) and wasm-torch's builds, and writes the
# ratio table (latency, and peak resident memory during inference; headless Chromium paired
# in one page beside Node) to
# benches/e2e/results/table.{md,json}.
#
#   benches/e2e/run.sh [--models a,b] [--seconds S] [--min-runs N]
#
# Node: relaxed SIMD needs Node > 20, so the web side runs on Node 24 from the npm registry
# (`npx -y node@24`); set NODE=node to use the machine's Node instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/benches/e2e"
cd "$ROOT"
ARGS="$*"
MODELS=""; SECS=3; RUNS=20
while [ $# -gt 0 ]; do
    case "$1" in
        --models) MODELS="$2"; shift 2 ;;
        --seconds) SECS="$2"; shift 2 ;;
        --min-runs) RUNS="$2"; shift 2 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done
NODE=${NODE:-"npx -y node@24"}
ZOO="${BENCH_ZOO:-$ROOT/target/bench-zoo}"
OUT="$HERE/results"
mkdir -p "$ZOO" "$OUT"

bash scripts/setup.sh apt rust wasm python node
bash scripts/build-python.sh
bash js/scripts/build-wasm.sh
(cd js && npx tsc -p tsconfig.json)
[ -d "$HERE/node_modules/onnxruntime-web" ] || (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)

model_args=(); [ -n "$MODELS" ] && model_args=(--models ${MODELS//,/ })
[ -f "$ZOO/manifest.json" ] || .venv/bin/python py-export/zoo/build_zoo.py --out "$ZOO" "${model_args[@]}" || true
.venv/bin/python "$HERE/bench_native.py" --zoo "$ZOO" --out "$OUT/native.json" "${model_args[@]}" \
    --min-runs "$RUNS" --seconds "$SECS"

web="$OUT/web.jsonl"; : >"$web"
common=(--zoo "$ZOO" --min-runs "$RUNS" --seconds "$SECS"); [ -n "$MODELS" ] && common+=(--models "$MODELS")
for t in 1 2; do
    $NODE "$HERE/bench_web.mjs" --engine ort --threads $t "${common[@]}" | tee -a "$web"
    $NODE "$HERE/bench_web.mjs" --engine wasm-torch --variant threads --threads $t "${common[@]}" | tee -a "$web"
done
for v in simd scalar; do
    $NODE "$HERE/bench_web.mjs" --engine wasm-torch --variant $v --threads 1 "${common[@]}" | tee -a "$web"
done
# Headless Chromium: onnxruntime-web and wasm-torch (WorkerSession threads build; main thread at
# one thread), paired in one page at one thread. The zoo must be inside the repository.
browser="$OUT/browser.jsonl"
# At two threads each engine gets a page of its own: on a 2-core machine onnxruntime-web's
# spinning pool threads would take a core from the run that follows theirs.
bopts=(--zoo "$ZOO" --min-runs "$RUNS" --seconds "$SECS"); [ -n "$MODELS" ] && bopts+=(--models "$MODELS")
node "$HERE/bench_browser.mjs" "${bopts[@]}" --threads 1 --out "$browser.1"
node "$HERE/bench_browser.mjs" "${bopts[@]}" --threads 2 --only ort --out "$browser.2ort"
node "$HERE/bench_browser.mjs" "${bopts[@]}" --threads 2 --only wasm-torch --out "$browser.2wt"
cat "$browser.1" "$browser.2ort" "$browser.2wt" >"$browser" && rm -f "$browser".*
# Resident memory (one fresh process per model and engine; PyTorch's probe ran in bench_native.py).
$NODE "$HERE/bench_web.mjs" --engine ort --threads 1 --rss "${common[@]}" | tee -a "$web"
$NODE "$HERE/bench_web.mjs" --engine wasm-torch --variant simd --threads 1 --rss "${common[@]}" | tee -a "$web"
# Load time of a 100 MB model (ready to run, weight packing counted).
[ -f "$ZOO/mlp_100mb.wtb" ] || .venv/bin/python "$HERE/make_load_model.py" --out "$ZOO"
$NODE "$HERE/bench_load.mjs" --dir "$ZOO" --variant simd | tee "$OUT/load.json"
.venv/bin/python "$HERE/report.py" --native "$OUT/native.json" --web "$web" --load "$OUT/load.json" --browser "$browser" \
    --out-md "$OUT/table.md" --out-json "$OUT/table.json" --node-version "$($NODE --version)" \
    --command "benches/e2e/run.sh${ARGS:+ $ARGS}"
