#!/usr/bin/env node
// Run a .wtb model in Node through the wasm-torch package and print its outputs and timings.
//
//   node js/run-example.mjs MODEL.wtb [INPUT.npy | name=INPUT.npy ...] [options]
//
// Options:
//   --variant scalar|simd|threads   force a wasm build (default: detect)
//   --threads N                     thread pool size for the threads build
//   --expect OUTPUT.npy | name=OUTPUT.npy   compare with reference outputs (max |diff|)
//   --top K                         print the K largest values of each output (default 5)
//   --runs N                        time N runs after a warm-up (default 3)
//   --profile                       print the 10 most expensive op kinds
// Without inputs, inputs of the model's fixed shapes are filled with a deterministic pattern.
import { Session, Tensor } from './dist/index.js';
import { parseNpy } from './dist/npy.js';
import { readFileSync } from 'node:fs';

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node js/run-example.mjs MODEL.wtb [INPUT.npy | name=INPUT.npy ...] [--variant V] [--threads N] [--expect OUT.npy|name=OUT.npy] [--top K] [--runs N] [--profile]');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('-h') || args.includes('--help')) usage();
const opts = { inputs: [], expects: [], top: 5, runs: 3, profile: false };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => args[++i] ?? usage(`${a} needs a value`);
  if (a === '--variant') opts.variant = next();
  else if (a === '--threads') opts.threads = Number(next());
  else if (a === '--expect') opts.expects.push(next());
  else if (a === '--top') opts.top = Number(next());
  else if (a === '--runs') opts.runs = Number(next());
  else if (a === '--profile') opts.profile = true;
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (!opts.model) opts.model = a;
  else opts.inputs.push(a);
}
if (!opts.model) usage('no model given');

const splitNamed = (spec) => {
  const eq = spec.indexOf('=');
  return eq > 0 && !spec.slice(0, eq).includes('/') ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec];
};

let lastPct = -1;
const session = await Session.load(opts.model, {
  variant: opts.variant,
  threads: opts.threads,
  onProgress: (p) => {
    if (!p.totalBytes || !process.stderr.isTTY) return;
    const pct = Math.floor((100 * p.loadedBytes) / p.totalBytes);
    if (pct !== lastPct) process.stderr.write(`\rloading ${pct}%`);
    lastPct = pct;
  },
}).catch((e) => {
  console.error(`\n${e.name} [${e.code}]: ${e.message}`);
  process.exit(1);
});
if (process.stderr.isTTY) process.stderr.write('\r');
const st = session.loadStats;
const mb = (b) => (b / 1048576).toFixed(1);
console.log(`model    ${opts.model}`);
console.log(`build    ${session.build.variant} (${session.build.flavor}, ${session.build.threads} thread${session.build.threads > 1 ? 's' : ''}): ${session.build.reason}`);
console.log(`load     ${mb(st.bytes)} MB in ${st.ms.toFixed(1)} ms (${(st.bytes / 1048576 / (st.ms / 1000)).toFixed(1)} MB/s), weights ${mb(st.weightBytes)} MB, wasm memory peak ${mb(st.peakMemory)} MB`);
const fmtShape = (s) => `[${s.join(', ')}]`;
console.log(`inputs   ${session.inputs.map((i) => `${i.name}: ${i.dtype}${fmtShape(i.shape)}`).join(', ')}`);
console.log(`outputs  ${session.outputs.map((o) => `${o.name}: ${o.dtype}${fmtShape(o.shape)}`).join(', ')}`);

const feeds = {};
opts.inputs.forEach((spec, idx) => {
  const [name, file] = splitNamed(spec);
  const info = name ? session.inputs.find((i) => i.name === name) : session.inputs[idx];
  if (!info) usage(`the model has no input ${name ?? `#${idx}`}`);
  feeds[info.name] = parseNpy(readFileSync(file));
});
for (const info of session.inputs) {
  if (feeds[info.name]) continue;
  if (info.shape.some((d) => typeof d !== 'number')) usage(`input '${info.name}' has symbolic dims ${fmtShape(info.shape)}: give an .npy`);
  const n = info.shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, (_, i) => (info.dtype === 'i64' ? BigInt(i % 100) : ((i % 251) / 251 - 0.5)));
  feeds[info.name] = new Tensor(info.dtype, data, info.shape);
  console.log(`(input '${info.name}' not given: filled with a fixed pattern)`);
}

let out;
const t0 = performance.now();
try {
  out = await session.run(feeds);
} catch (e) {
  console.error(`${e.name} [${e.code}]: ${e.message}`);
  process.exit(1);
}
const first = performance.now() - t0;
const times = [];
if (opts.profile) session.setProfiling(true);
for (let r = 0; r < opts.runs; r++) {
  const t = performance.now();
  await session.run(feeds);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(`run      first ${first.toFixed(1)} ms${times.length ? `, median of ${times.length} ${times[times.length >> 1].toFixed(1)} ms` : ''}`);

for (const [name, t] of Object.entries(out)) {
  const vals = Array.from(t.data, Number);
  const idx = vals.map((v, i) => i).sort((a, b) => vals[b] - vals[a]).slice(0, opts.top);
  console.log(`${name}: ${t.dtype}${fmtShape(t.shape)} top-${idx.length}: ${idx.map((i) => `#${i}=${vals[i].toPrecision(6)}`).join('  ')}`);
}
let worst = 0;
opts.expects.forEach((spec, idx) => {
  const [name, file] = splitNamed(spec);
  const key = name ?? session.outputs[idx].name;
  const ref = parseNpy(readFileSync(file));
  const got = out[key];
  if (!got) usage(`no output ${key}`);
  if (ref.data.length !== got.data.length) {
    console.log(`${key}: size mismatch: ${got.data.length} vs reference ${ref.data.length}`);
    worst = Infinity;
    return;
  }
  let m = 0;
  for (let i = 0; i < ref.data.length; i++) m = Math.max(m, Math.abs(Number(got.data[i]) - Number(ref.data[i])));
  worst = Math.max(worst, m);
  console.log(`${key}: max |diff| vs ${file} = ${m.toExponential(2)}`);
});
if (opts.profile) {
  const p = session.profile();
  console.log(`profile  (${p.runs} runs)`);
  for (const op of p.ops.slice(0, 10)) console.log(`  ${op.name.padEnd(36)} ${String(op.calls / p.runs).padStart(6)} calls/run ${(op.ms / p.runs).toFixed(2).padStart(9)} ms/run`);
}
session.release();
if (opts.expects.length && !(worst <= 1e-4)) process.exit(1);
