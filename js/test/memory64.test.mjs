// The opt-in memory64 builds (wasm64: 64-bit linear memory; `memory64` single-threaded and
// `memory64-threads` with a pool of 2 when built), in Node 24+ (Node 20 and 22 have no memory64
// without flags: the file is then skipped, saying so):
// 1. small models give bit-identical outputs in the memory64 builds and the relaxed build (the
//    same kernels, results independent of the thread count): the tiny fixture and the zoo;
// 2. a model with 5.16 GiB of f32 weights (the make_huge example with 22 weights of 240 MiB)
//    loads from a file path and runs with exact results in each memory64 build, its weights
//    placed past the 4 GiB a wasm32 memory can address, with peak memory ≤ weights + 64 MiB;
//    the wasm32 relaxed build refuses the same file with a typed error before allocating its
//    weights.
//
// The big model is written by `cargo run --release -p wasm-torch-js --example make_huge` into
// $WASM_TORCH_M64_DIR (default target/big-m64), one chunk in memory at a time, and deleted
// after the test unless WASM_TORCH_BIG_KEEP=1. Skipped, with the reason printed, when less than
// 12 GiB of memory is available or 7 GiB of disk is free (memory64-threads: when less than
// 8 GiB is left after the single-threaded instance, which keeps its 5 GiB memory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { Session, Tensor, WasmTorchError, chooseBuild, detectFeatures, missingFeature, VARIANTS, WASM32_MEMORY_LIMIT } from '../dist/index.js';
import { parseNpy } from '../dist/npy.js';
import { JS_DIR, ROOT, fixture, haveFixtures, tinyReference } from './helpers.mjs';
import { zooModels } from './zoo.mjs';
import { checkHugeOutputs } from './big/huge-pattern.mjs';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const COUNT = 22;
const ROWS = 61440;

function buildMissing() {
  const why = missingFeature('memory64', detectFeatures());
  if (why) return `${why}, which Node ${process.versions.node} lacks (run with Node 24+, e.g. npx -y node@24 --test ${'js/test/memory64.test.mjs'})`;
  if (!existsSync(join(JS_DIR, 'dist/wasm/memory64/wasm_torch_bg.wasm'))) return 'no memory64 build in dist/wasm (run js/scripts/build-wasm.sh memory64)';
  if (!existsSync(join(JS_DIR, 'dist/wasm/relaxed/wasm_torch_bg.wasm'))) return 'no relaxed build in dist/wasm to compare with';
  return false;
}
const missing = buildMissing();
if (missing) console.log(`# memory64 tests SKIPPED: ${missing}`);

/** Outputs of `path` on `feeds` in `variant`, as {name: [shape, bytes]}. */
const M64_THREADS = existsSync(join(JS_DIR, 'dist/wasm/memory64-threads/wasm_torch_bg.wasm'));
const m64Variants = ['memory64', ...(M64_THREADS ? ['memory64-threads'] : [])];
if (!missing && !M64_THREADS) console.log('# memory64-threads not checked: no memory64-threads build in dist/wasm (js/scripts/build-wasm.sh memory64-threads)');

async function outputs(path, variant, feeds) {
  const s = await Session.load(path, { variant, threads: variant === 'memory64-threads' ? 2 : false });
  try {
    assert.equal(s.build.variant, variant);
    const out = await s.run(feeds);
    return { flavor: s.build.flavor, out: Object.fromEntries(Object.entries(out).map(([n, t]) => [n, [[...t.shape], new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)]])) };
  } finally {
    s.release();
  }
}

test('memory64 is opt-in: never chosen automatically, refused where the engine lacks it', () => {
  const all = { simd: true, relaxedSimd: true, sharedMemory: true, workers: true, memory64: true };
  const cases = [all, { ...all, sharedMemory: false }, { ...all, relaxedSimd: false }, { ...all, simd: false, relaxedSimd: false }];
  for (const f of cases) {
    for (const threads of [undefined, false, 1, 4]) {
      for (const cores of [1, 2, 8]) assert.notEqual(chooseBuild({ threads }, cores, f).variant, 'memory64');
    }
  }
  assert.ok(!VARIANTS.includes('memory64'), 'the automatic list does not hold it');
  assert.equal(WASM32_MEMORY_LIMIT, 4 * GiB);
  assert.equal(missingFeature('memory64', all), undefined);
  assert.match(missingFeature('memory64', { ...all, memory64: false }), /needs memory64/);
  assert.match(missingFeature('memory64', { ...all, relaxedSimd: false }), /needs relaxed SIMD/);
  const forced = chooseBuild({ variant: 'memory64' }, 8, all);
  assert.deepEqual([forced.variant, forced.threads], ['memory64', 1]);
  assert.equal(typeof detectFeatures().memory64, 'boolean');
});

test('small models give the same bits in the memory64 build as in the relaxed build', { skip: missing || (!haveFixtures() && 'fixtures missing') }, async (t) => {
  const cases = [{ name: 'tiny', path: fixture('tiny.wtb'), feeds: { x: new Tensor('f32', new Float32Array([1, 2, 3, 4, -1, 0.5, 2, -3]), [2, 4]) } }];
  for (const m of zooModels()) {
    const c = m.cases[0];
    cases.push({ name: m.name, path: m.path, feeds: Object.fromEntries(Object.entries(c.inputs).map(([n, f]) => [n, parseNpy(readFileSync(f))])) });
  }
  for (const c of cases) {
    const a = await outputs(c.path, 'relaxed', c.feeds);
    for (const v of m64Variants) {
      const b = await outputs(c.path, v, c.feeds);
      assert.match(b.flavor, /\+memory64$/);
      assert.deepEqual(Object.keys(b.out), Object.keys(a.out), c.name);
      for (const [n, [shape, bytes]] of Object.entries(a.out)) {
        assert.deepEqual(b.out[n][0], shape, `${c.name} ${n} shape`);
        assert.ok(Buffer.compare(Buffer.from(b.out[n][1]), Buffer.from(bytes)) === 0, `${c.name} ${n}: ${v} differs from relaxed`);
      }
      if (c.name === 'tiny') {
        const y = b.out.y[1];
        const want = tinyReference(c.feeds.x.data, 2);
        assert.deepEqual([...new Float32Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.byteLength))], [...want]);
      }
    }
    t.diagnostic(`${c.name}: ${Object.keys(a.out).length} output(s) bit-identical in ${m64Variants.join(', ')} and relaxed`);
  }
  assert.ok(cases.length >= 1);
});

const dir = process.env.WASM_TORCH_M64_DIR ?? join(ROOT, 'target', 'big-m64');
const modelPath = join(dir, 'huge22.wtb');

function bigSkip() {
  if (missing) return missing;
  const mem = freemem();
  if (mem < 12 * GiB) return `only ${(mem / GiB).toFixed(1)} GiB of memory available (needs 12)`;
  if (existsSync(modelPath)) return false;
  mkdirSync(dir, { recursive: true });
  const s = statfsSync(dir);
  if (s.bavail * s.bsize < 7 * GiB) return `only ${((s.bavail * s.bsize) / GiB).toFixed(1)} GiB free in ${dir} (needs 7)`;
  return false;
}

test(`a 5.16 GiB f32 model (${COUNT} × 240 MiB) loads and runs exactly in the memory64 builds`, { skip: bigSkip(), timeout: 1_800_000 }, async (t) => {
  let wrote = false;
  if (!existsSync(modelPath)) {
    const t0 = performance.now();
    const gen = spawnSync('cargo', ['run', '--quiet', '--release', '-p', 'wasm-torch-js', '--example', 'make_huge', '--', modelPath, String(COUNT), String(ROWS)], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    assert.equal(gen.status, 0, `make_huge failed: ${gen.error ?? gen.stdout}`);
    wrote = true;
    t.diagnostic(`written in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${gen.stdout.trim()}`);
  }
  try {
    // wasm32 cannot hold it: the relaxed build refuses the file once its header declares the
    // arena, with a typed error and without growing its memory by the weights.
    const wasm32Memory = async () => {
      const s = await Session.load(fixture('tiny.wtb'), { variant: 'relaxed' });
      const bytes = s.memoryBytes;
      s.release();
      return bytes;
    };
    const before = await wasm32Memory();
    await assert.rejects(Session.load(modelPath, { variant: 'relaxed' }), (e) => {
      t.diagnostic(`relaxed (wasm32) build: ${e.code}: ${e.message.slice(0, 160)}`);
      return e instanceof WasmTorchError && e.code === 'BAD_FILE' && /arena size \d+ exceeds the limit 4294967296/.test(e.message);
    });
    const after = await wasm32Memory();
    assert.ok(after - before <= 64 * MiB, `the refused load grew the wasm32 memory from ${before} to ${after} bytes`);

    for (const variant of m64Variants) {
      if (variant !== 'memory64' && freemem() < 8 * GiB) {
        t.diagnostic(`${variant} not checked: only ${(freemem() / GiB).toFixed(1)} GiB of memory left (needs 8)`);
        continue;
      }
      const s = await Session.load(modelPath, { variant, threads: variant === 'memory64-threads' ? 2 : false });
      try {
        const ls = s.loadStats;
        assert.ok(ls.weightBytes > WASM32_MEMORY_LIMIT, `${ls.weightBytes} weight bytes`);
        const x = new Float32Array([1, -2]);
        const t0 = performance.now();
        const out = await s.run({ x: new Tensor('f32', x, [2]) });
        const runMs = performance.now() - t0;
        const peak = s.memoryBytes;
        const grew = peak - ls.memoryBefore;
        t.diagnostic(
          `${variant}: loaded ${(ls.bytes / 1e9).toFixed(2)} GB in ${(ls.ms / 1000).toFixed(1)} s, ran in ${(runMs / 1000).toFixed(2)} s; ` +
            `weights ${(ls.weightBytes / GiB).toFixed(2)} GiB, wasm memory ${(peak / GiB).toFixed(2)} GiB ` +
            `(+${((grew - ls.weightBytes) / MiB).toFixed(1)} MiB over the weights); the wasm32 instance stayed at ${(after / MiB).toFixed(0)} MiB after refusing it`,
        );
        assert.ok(peak > WASM32_MEMORY_LIMIT, 'the memory is past 4 GiB');
        const problems = checkHugeOutputs(out, x, COUNT, ROWS);
        assert.deepEqual(problems.slice(0, 5), [], `${problems.length} wrong output(s)`);
        assert.ok(grew <= ls.weightBytes + 64 * MiB, `memory grew ${grew} bytes for ${ls.weightBytes} of weights`);
      } finally {
        s.release();
      }
    }
  } finally {
    if (wrote && process.env.WASM_TORCH_BIG_KEEP !== '1') rmSync(modelPath, { force: true });
  }
});
