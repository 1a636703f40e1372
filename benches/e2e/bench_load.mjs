#!/usr/bin/env node
// Load-time benchmark: how long until a 100 MB model (make_load_model.py) is ready to run in
// Node, from a local file, through the npm package.
//
//   node benches/e2e/bench_load.mjs --dir DIR [--variant simd] [--repeats 7]
//
// Each repeat is a fresh Session.load of DIR/mlp_100mb.wtb, then two runs on the saved input.
// load_ms is Session.load; first_run_ms includes whatever the first run does once (packing
// weights for the GEMM kernels); steady_run_ms is the second run. "ready" = load_ms +
// (first_run_ms - steady_run_ms): the time before the model runs at its steady speed, not
// counting the inference itself. The output is checked against PyTorch's (1e-4 relative).
// Prints one JSON object with the medians over the repeats.
import { readFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { argReader, median } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = argReader(args);
const dir = opt('dir');
const variant = opt('variant', 'simd');
const repeats = Number(opt('repeats', '7'));
if (!dir) {
  console.error('usage: bench_load.mjs --dir DIR [--variant simd] [--repeats 7]');
  process.exit(2);
}
const { Session } = await import(join(here, '../../js/dist/index.js'));
const { parseNpy } = await import(join(here, '../../js/dist/npy.js'));
const file = join(dir, 'mlp_100mb.wtb');
const x = parseNpy(new Uint8Array(readFileSync(join(dir, 'mlp_100mb.in0.npy'))));
const ref = parseNpy(new Uint8Array(readFileSync(join(dir, 'mlp_100mb.out0.npy'))));

const rows = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const session = await Session.load(file, { variant, threads: false });
  const t1 = performance.now();
  const feeds = { [session.inputs[0].name]: x };
  const out = await session.run(feeds);
  const t2 = performance.now();
  await session.run(feeds);
  const t3 = performance.now();
  const y = Object.values(out)[0];
  let err = 0;
  let scale = 0;
  for (let j = 0; j < ref.data.length; j++) {
    err = Math.max(err, Math.abs(y.data[j] - ref.data[j]));
    scale = Math.max(scale, Math.abs(ref.data[j]));
  }
  if (!(err <= 1e-4 * scale)) throw new Error(`output differs from PyTorch: max |diff| ${err} (scale ${scale})`);
  session.release();
  rows.push({ load: t1 - t0, first: t2 - t1, steady: t3 - t2, err: err / scale });
}
const bytes = statSync(file).size;
const load_ms = median(rows.map((r) => r.load));
const first_run_ms = median(rows.map((r) => r.first));
const steady_run_ms = median(rows.map((r) => r.steady));
console.log(JSON.stringify({
  model: 'mlp_100mb', variant, bytes, repeats, load_ms, first_run_ms, steady_run_ms,
  ready_ms: median(rows.map((r) => r.load + r.first - r.steady)),
  load_mb_per_s: bytes / 1e6 / (load_ms / 1e3),
  max_rel_err: Math.max(...rows.map((r) => r.err)),
}));
