// A model with more weight bytes than one wasm32 allocation may hold (> 2 GiB: a model larger
// than half of the wasm memory limit must still load), loaded from a file path in
// Node through the package's wasm build, run, and checked against values computed here.
//
// The ~2.4 GB file is written for the run by the `make_huge` example (packer layout, streamed
// to disk) and deleted afterwards. Skipped, with the reason printed, only when this machine has
// less than 8 GiB of available memory or 6 GiB of free disk where the file goes
// ($WASM_TORCH_HUGE_DIR, default the OS temp dir), or when no SIMD build is present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statfsSync } from 'node:fs';
import { freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, Tensor } from '../dist/index.js';
import { JS_DIR, ROOT, runnableVariants } from './helpers.mjs';

const GiB = 1024 ** 3;
const COUNT = 10; // weights of ROWS x 1024 f32 = 240 MiB each: 2.34 GiB, none near 2 GiB
const ROWS = 61440;
const COLS = 1024;
const dir = process.env.WASM_TORCH_HUGE_DIR ?? tmpdir();

function skipReason() {
  const mem = freemem();
  if (mem < 8 * GiB) return `only ${(mem / GiB).toFixed(1)} GiB of memory available (needs 8)`;
  let disk;
  try {
    const s = statfsSync(dir);
    disk = s.bavail * s.bsize;
  } catch (e) {
    return `cannot check free disk in ${dir}: ${e.message}`;
  }
  if (disk < 6 * GiB) return `only ${(disk / GiB).toFixed(1)} GiB free in ${dir} (needs 6)`;
  if (!existsSync(join(JS_DIR, 'dist/wasm/simd/wasm_torch_bg.wasm')) || !runnableVariants().includes('simd'))
    return 'no runnable SIMD build in dist/wasm (run js/scripts/build-wasm.sh simd)';
  return false;
}

/** `w{k}[r, c]` as defined in js/crate/examples/make_huge.rs. */
const value = (k, r, c) => ((7 * r + 3 * c + 5 * k) % 17) - 5;

const skip = skipReason();
if (skip) console.log(`# huge model test SKIPPED: ${skip}`);

test('a model with 2.34 GiB of f32 weights loads from a path, runs and is exact (simd build)', { skip, timeout: 180_000 }, async () => {
  const path = join(dir, `wasm-torch-huge-${process.pid}.wtb`);
  try {
    let t = performance.now();
    const gen = spawnSync('cargo', ['run', '-q', '-p', 'wasm-torch-js', '--example', 'make_huge', '--', path, String(COUNT), String(ROWS)], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    assert.equal(gen.status, 0, `make_huge failed: ${gen.error ?? gen.stdout}`);
    const made = JSON.parse(gen.stdout.trim().split('\n').pop());
    const writeMs = performance.now() - t;
    assert.ok(made.weightBytes > 2 * GiB, `${made.weightBytes} weight bytes`);

    const s = await Session.load(path, { variant: 'simd', threads: false });
    const ls = s.loadStats;
    const grew = ls.peakMemory - ls.memoryBefore;
    console.log(
      `# huge: file ${(ls.bytes / 1e9).toFixed(2)} GB written in ${(writeMs / 1000).toFixed(1)} s; ` +
        `loaded in ${(ls.ms / 1000).toFixed(1)} s = ${(ls.bytes / ls.ms / 1000).toFixed(0)} MB/s; ` +
        `weights ${(ls.weightBytes / GiB).toFixed(3)} GiB, wasm memory ${(ls.memoryBefore / 2 ** 20).toFixed(0)} MiB before, ` +
        `peak ${(ls.peakMemory / GiB).toFixed(3)} GiB (+${((grew - ls.weightBytes) / 2 ** 20).toFixed(1)} MiB over the weights)`,
    );
    assert.equal(ls.weightBytes, made.weightBytes);
    // Streaming: memory grows by the weights plus a small overhead, never the file again.
    assert.ok(grew < ls.weightBytes + 64 * 2 ** 20, `memory grew ${grew} bytes for ${ls.weightBytes} of weights`);

    t = performance.now();
    const out = await s.run({ x: new Tensor('f32', new Float32Array([1, -2]), [2]) });
    console.log(`# huge: run (row sums over every weight byte) ${((performance.now() - t) / 1000).toFixed(1)} s`);
    assert.deepEqual([...out.y.data], [2, -1]);
    for (let k = 0; k < COUNT; k++) {
      // Row r of w{k} depends on (7r + 5k) mod 17 only: sum each of the 17 possible rows.
      const sums = Array.from({ length: 17 }, (_, a) => {
        let acc = 0;
        for (let c = 0; c < COLS; c++) acc += ((a + 3 * c) % 17) - 5;
        return acc;
      });
      const rowsum = out[`rowsum${k}`];
      assert.deepEqual([...rowsum.shape], [ROWS]);
      for (let r = 0; r < ROWS; r++) {
        const want = sums[(7 * r + 5 * k) % 17];
        if (rowsum.data[r] !== want) assert.fail(`rowsum${k}[${r}] = ${rowsum.data[r]}, expected ${want}`);
      }
      const r = ROWS - 1 - 13 * k;
      const row = out[`row${k}`].data;
      for (let c = 0; c < COLS; c++) {
        if (row[c] !== value(k, r, c)) assert.fail(`row${k}[${c}] = ${row[c]}, expected ${value(k, r, c)}`);
      }
      assert.deepEqual([...out[`tag${k}`].data], Array.from({ length: 16 }, (_, i) => 1000 * k + i));
    }
    s.release();
  } finally {
    rmSync(path, { force: true });
  }
});
