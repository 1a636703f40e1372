// The model zoo written by py-export/zoo/build_zoo.py: DIR/manifest.json lists each model's
// file, input/output specs and cases (input .npy files, PyTorch's output .npy files).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, JS_DIR } from './helpers.mjs';

/** Where the zoo is: $WASM_TORCH_ZOO, else target/js-zoo (js/scripts/test.sh builds it). */
export const ZOO_DIR = process.env.WASM_TORCH_ZOO ?? join(ROOT, 'target', 'js-zoo');
/** The models the JS tests run (the issue asks for resnet18 and MiniLM). */
export const ZOO_MODELS = (process.env.WASM_TORCH_ZOO_MODELS ?? 'resnet18,minilm_seq16').split(',');

/** Manifest entries of ZOO_MODELS that exported fine, with absolute paths. */
export function zooModels() {
  const mf = join(ZOO_DIR, 'manifest.json');
  if (!existsSync(mf)) return [];
  const manifest = JSON.parse(readFileSync(mf, 'utf8'));
  const usable = manifest.models.filter((m) => !m.error && m.cases?.length);
  // Exact names first; else another size of the same family (minilm_seq16 → minilm_seq128).
  const picked = ZOO_MODELS.map(
    (want) => usable.find((m) => m.name === want) ?? usable.find((m) => m.name.startsWith(want.replace(/\d+$/, ''))),
  ).filter(Boolean);
  return picked
    .map((m) => ({
      name: m.name,
      path: join(ZOO_DIR, m.file),
      tolerance: m.tolerance ?? 1e-4,
      inputs: m.inputs,
      outputs: m.outputs,
      cases: m.cases.map((c) => ({
        inputs: Object.fromEntries(m.inputs.map((s, i) => [s.name, join(ZOO_DIR, c.inputs[i])])),
        outputs: Object.fromEntries(m.outputs.map((s, j) => [s.name, join(ZOO_DIR, c.outputs[j])])),
      })),
    }));
}

/** Write test/zoo-index.json: the same, as URLs under the repo root, for the browser suite. */
export function writeBrowserIndex() {
  const url = (p) => '/' + relative(ROOT, p).split('\\').join('/');
  const models = zooModels().map((m) => ({
    name: m.name,
    url: url(m.path),
    tolerance: m.tolerance,
    inputs: Object.fromEntries(Object.entries(m.cases[0].inputs).map(([k, v]) => [k, url(v)])),
    outputs: Object.fromEntries(Object.entries(m.cases[0].outputs).map(([k, v]) => [k, url(v)])),
  }));
  writeFileSync(join(JS_DIR, 'test', 'zoo-index.json'), JSON.stringify({ models }, null, 2));
  return models;
}

if (process.argv[1] && process.argv[1].endsWith('zoo.mjs')) {
  const models = writeBrowserIndex();
  console.log(`zoo-index.json: ${models.map((m) => m.name).join(', ') || 'no zoo models found in ' + ZOO_DIR}`);
}
