// Shared helpers of the Node tests: fixture/zoo locations, build availability, comparisons.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectFeatures, missingFeature } from '../dist/index.js';

export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(JS_DIR, '..');
/** Fixtures written by `cargo run -p wasm-torch-test-support --bin fixtures -- js DIR` (scripts/test.sh). */
export const FIXTURES = process.env.WASM_TORCH_FIXTURES ?? join(JS_DIR, 'test', 'fixtures-out');
/** The model zoo written by py-export (its manifest.json lists models, inputs, outputs). */
export const ZOO = process.env.WASM_TORCH_ZOO ?? join(ROOT, 'zoo-out');

export const fixture = (name) => join(FIXTURES, name);
export const haveFixtures = () => existsSync(fixture('tiny.wtb'));

/**
 * Builds present in dist/wasm that this engine can run (slowest first), limited to the
 * comma-separated list in $WASM_TORCH_TEST_VARIANTS when it is set.
 */
export function runnableVariants() {
  const f = detectFeatures();
  const only = process.env.WASM_TORCH_TEST_VARIANTS?.split(',').filter(Boolean);
  return ['scalar', 'simd', 'relaxed', 'threads-simd', 'threads'].filter(
    (v) => (!only || only.includes(v)) && missingFeature(v, f) === undefined && existsSync(join(JS_DIR, `dist/wasm/${v}/wasm_torch_bg.wasm`)),
  );
}

/** `relu(x·Wᵀ + b)` of the tiny fixture, computed directly. */
export function tinyReference(x, batch) {
  const W = Array.from({ length: 12 }, (_, i) => Math.fround(0.1 * (i + 1)));
  const b = [0.5, -1, 0];
  const y = new Float32Array(batch * 3);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < 3; o++) {
      let s = b[o];
      for (let i = 0; i < 4; i++) s += x[n * 4 + i] * W[o * 4 + i];
      y[n * 3 + o] = Math.max(0, s);
    }
  return y;
}

/** Max |a-b| and the worst |a-b| / max(1, |b|) (the ≤1e-4 criterion against PyTorch). */
export function compare(got, want) {
  if (got.length !== want.length) return { maxAbs: Infinity, maxScaled: Infinity };
  let maxAbs = 0;
  let maxScaled = 0;
  for (let i = 0; i < want.length; i++) {
    const g = Number(got[i]);
    const w = Number(want[i]);
    const d = Math.abs(g - w);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    maxScaled = Math.max(maxScaled, d / Math.max(1, Math.abs(w)));
  }
  return { maxAbs, maxScaled };
}

export const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
