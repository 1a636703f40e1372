#!/usr/bin/env node
// Load benchmark: streams a .wtb file from disk into wasm and reports MB/s and the peak wasm
// memory against the weights' size. Each measurement runs in a fresh Node process so the
// instance's memory starts empty (wasm memory never shrinks).
//
//   node js/bench/load.mjs MODEL.wtb [--variant scalar|simd|threads]... [--repeat N] [--check SUMS.json]
//
// --check: the model is a "sums" model written by
// `cargo run -p wasm-torch-test-support --bin fixtures -- js-big MB PATH`; verify its outputs s_k against the JSON
// (proves every byte of every chunk landed in place, e.g. for the >2 GB model).
import { spawnSync } from 'node:child_process';
import { statSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const model = args.find((a, i) => !a.startsWith('--') && !['--variant', '--repeat', '--check'].includes(args[i - 1]));
if (!model) {
  console.error('usage: node js/bench/load.mjs MODEL.wtb [--variant V]... [--repeat N] [--check SUMS.json]');
  process.exit(2);
}
const variants = args.flatMap((a, i) => (args[i - 1] === '--variant' ? [a] : []));
const repeat = Number(args[args.indexOf('--repeat') + 1]) || (args.includes('--repeat') ? 1 : 3);
const check = args.includes('--check') ? args[args.indexOf('--check') + 1] : undefined;

if (process.env.WASM_TORCH_BENCH_CHILD) {
  const { Session, Tensor } = await import('../dist/index.js');
  const variant = process.env.WASM_TORCH_BENCH_CHILD;
  const s = await Session.load(model, { variant: variant === 'auto' ? undefined : variant });
  const st = s.loadStats;
  let checked = null;
  if (check) {
    const { sums } = JSON.parse(readFileSync(check, 'utf8'));
    const out = await s.run({ x: new Tensor('f32', [0, 0], [2]) });
    checked = sums.every((want, k) => out[`s${k}`].data[0] === want);
  }
  console.log(JSON.stringify({ variant: s.build.variant, ...st, checked }));
  process.exit(0);
}

const size = statSync(model).size;
const mb = (b) => b / 1048576;
console.log(`${model}: ${mb(size).toFixed(1)} MB file`);
for (const v of variants.length ? variants : ['simd']) {
  const runs = [];
  for (let r = 0; r < repeat; r++) {
    const flags = v === 'threads' ? ['--experimental-wasm-relaxed-simd'] : [];
    const p = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), ...args], {
      env: { ...process.env, WASM_TORCH_BENCH_CHILD: v },
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (p.status !== 0) {
      console.log(`${v}: failed: ${p.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      process.exitCode = 1;
      break;
    }
    runs.push(JSON.parse(p.stdout.trim().split('\n').at(-1)));
  }
  if (!runs.length) continue;
  runs.sort((a, b) => a.ms - b.ms);
  const best = runs[0];
  const med = runs[runs.length >> 1];
  const over = best.peakMemory - best.weightBytes;
  console.log(
    `${v}: load ${med.ms.toFixed(0)} ms median of ${runs.length} (${(mb(size) / (med.ms / 1000)).toFixed(0)} MB/s file, ` +
      `${(mb(med.weightBytes) / (med.ms / 1000)).toFixed(0)} MB/s weights; best ${(mb(size) / (best.ms / 1000)).toFixed(0)} MB/s); ` +
      `weights ${mb(best.weightBytes).toFixed(1)} MB, peak wasm memory ${mb(best.peakMemory).toFixed(1)} MB ` +
      `(weights + ${mb(over).toFixed(1)} MB = ${((100 * best.peakMemory) / best.weightBytes).toFixed(1)}%)` +
      (check ? `, outputs ${runs.every((r) => r.checked) ? 'correct' : 'WRONG'}` : ''),
  );
  if (check && !runs.every((r) => r.checked)) process.exitCode = 1;
}
