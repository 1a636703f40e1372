// Memory given back: a 1.07 GB model (four Linear(8192, 8192) + Tanh) loaded, run and released
// ten times, (a) with `Session` on one wasm instance: wasm memory cannot shrink, so what must
// hold is that a released session's memory is reused (the tenth load needs no more than the
// first); (b) with `WorkerSession` + `terminate()`: the Worker's whole instance goes away, so the
// process's resident memory comes back down. Both: the process's memory after ten rounds is
// within 10% of one loaded model, and every run matches PyTorch.
//
// The model is written once by js/test/big/make_linear_stack.py into $WASM_TORCH_RELEASE_DIR
// (default target/release-1g; ~1.1 GB, kept). Skipped, saying why, with under 6 GiB of available
// memory, under 3 GiB of free disk for a model not yet written, or no Python with torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { Session, Tensor } from '../dist/index.js';
import { WorkerSession } from '../dist/worker-client.js';
import { parseNpy } from '../dist/npy.js';
import { JS_DIR, ROOT, compare, runnableVariants } from './helpers.mjs';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const WIDTH = 8192;
const LAYERS = 4;
const ROUNDS = 10;
const dir = process.env.WASM_TORCH_RELEASE_DIR ?? join(ROOT, 'target', 'release-1g');
const modelPath = join(dir, 'linear_stack.wtb');
const python = process.env.WASM_TORCH_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const variant = 'simd';

/** The data of an f32 .npy file, read with the SDK's own parser. */
const readNpyF32 = (path) => parseNpy(readFileSync(path)).data;

function skipReason() {
  if (freemem() < 6 * GiB) return `only ${(freemem() / GiB).toFixed(1)} GiB of memory available (needs 6)`;
  if (!runnableVariants().includes(variant)) return `no runnable ${variant} build in dist/wasm`;
  if (existsSync(modelPath) && existsSync(join(dir, 'y.npy'))) return false;
  mkdirSync(dir, { recursive: true });
  const s = statfsSync(dir);
  if (s.bavail * s.bsize < 3 * GiB) return `only ${((s.bavail * s.bsize) / GiB).toFixed(1)} GiB free in ${dir} (needs 3)`;
  if (spawnSync(python, ['-c', 'import torch, wasm_torch']).status !== 0) return `no Python with torch and wasm_torch at ${python}`;
  return false;
}
const skip = skipReason();
if (skip) console.log(`# release test SKIPPED: ${skip}`);

function ensureModel() {
  if (existsSync(modelPath) && existsSync(join(dir, 'y.npy'))) return;
  const gen = spawnSync(python, [join(JS_DIR, 'test/big/make_linear_stack.py'), dir, String(LAYERS), String(WIDTH)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  assert.equal(gen.status, 0, `make_linear_stack.py failed: ${gen.error ?? gen.stdout}`);
}

/** Resident memory after a garbage collection when exposed (node --expose-gc), else as is. */
function rss() {
  globalThis.gc?.();
  return process.memoryUsage().rss;
}

async function checkRun(s, x, want) {
  const out = await s.run({ [s.inputs[0].name]: new Tensor('f32', x, [1, WIDTH]) });
  const { maxScaled } = compare(Object.values(out)[0].data, want);
  assert.ok(maxScaled <= 1e-4, `max scaled diff ${maxScaled}`);
}

test(`Session: ${ROUNDS} loads and releases of a 1.07 GB model reuse the same wasm memory`, { skip, timeout: 900_000 }, async (t) => {
  ensureModel();
  const x = readNpyF32(join(dir, 'x.npy'));
  const want = readNpyF32(join(dir, 'y.npy'));
  let firstMemory = 0;
  let oneLoaded = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const s = await Session.load(modelPath, { variant, threads: false });
    await checkRun(s, x, want);
    if (round === 0) {
      firstMemory = s.memoryBytes;
      oneLoaded = rss();
    }
    assert.ok(s.memoryBytes <= firstMemory, `round ${round + 1}: wasm memory ${s.memoryBytes} > ${firstMemory} after the first load`);
    s.release();
  }
  const after = rss();
  t.diagnostic(`wasm memory ${(firstMemory / MiB).toFixed(0)} MiB in every round; process RSS ${(oneLoaded / MiB).toFixed(0)} MiB with one model loaded, ${(after / MiB).toFixed(0)} MiB after ${ROUNDS} rounds`);
  assert.ok(after <= oneLoaded * 1.1, `RSS ${after} after ${ROUNDS} rounds, ${oneLoaded} with one model loaded`);
});

test(`WorkerSession: ${ROUNDS} loads and terminate() of a 1.07 GB model give the memory back`, { skip, timeout: 900_000 }, async (t) => {
  ensureModel();
  const x = readNpyF32(join(dir, 'x.npy'));
  const want = readNpyF32(join(dir, 'y.npy'));
  const before = rss();
  let oneLoaded = 0;
  let lowest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const s = await WorkerSession.load(modelPath, { variant, threads: false });
    await checkRun(s, x, want);
    if (round === 0) oneLoaded = rss();
    s.terminate();
    // A terminated Worker's memory is unmapped asynchronously.
    await new Promise((r) => setTimeout(r, 300));
    lowest = Math.min(lowest, rss());
  }
  const after = rss();
  t.diagnostic(`process RSS ${(before / MiB).toFixed(0)} MiB before, ${(oneLoaded / MiB).toFixed(0)} MiB with one model loaded, ${(after / MiB).toFixed(0)} MiB after ${ROUNDS} rounds`);
  assert.ok(oneLoaded - before >= 0.9 * GiB, `one loaded model added only ${oneLoaded - before} bytes: is the measurement right?`);
  assert.ok(after <= oneLoaded * 1.1, `RSS ${after} after ${ROUNDS} rounds, ${oneLoaded} with one model loaded`);
  assert.ok(after - before <= 0.25 * (oneLoaded - before), `terminate() kept ${after - before} of the ${oneLoaded - before} bytes one model took`);
});
